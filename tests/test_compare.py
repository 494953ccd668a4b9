"""Ranking-agreement metrics against hand-computed values, the comparison exports, and `polydesk compare`."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from core.errors import BadInput
from core.quality.compare import (
    LanguageRun,
    agreement_matrix,
    comparison_csv,
    comparison_json,
    kendall_tau,
    language_stats,
    overlap_at_k,
    parse_questions,
    rank_biased_overlap,
    rank_positions,
    score_summary,
    top_k_agreement,
)


@pytest.mark.parametrize(("reference", "other", "k", "expected"), [
    (["a", "b", "c"], ["a", "c"], 1, 1.0),
    (["a", "b", "c"], ["b", "a"], 1, 0.0),
    (["a", "b", "c"], ["b", "c", "a"], 3, 1.0),
    (["a", "b", "c"], ["b", "c", "d", "a"], 3, 0.0),
    (["a"], [], 3, 0.0),
    ([], ["a"], 1, None),
])
def test_top_k_agreement(reference, other, k, expected):
    assert top_k_agreement(reference, other, k) == expected


@pytest.mark.parametrize(("a", "b", "k", "expected"), [
    (["a", "b", "c"], ["c", "b", "d"], 2, 0.5),  # {a, b} and {c, b}
    (["a", "b", "c"], ["c", "b", "d"], 10, 2 / 3),  # k past the end: the whole lists
    (["a", "b"], ["a", "b", "c", "d"], 10, 0.5),  # over the longer list
    (["a", "b"], ["c", "d"], 2, 0.0),
    (["a", "a", "b"], ["b", "a"], 2, 1.0),  # a duplicate counts once
    (["a"], [], 5, 0.0),
    ([], [], 5, None),
])
def test_overlap_at_k(a, b, k, expected):
    assert overlap_at_k(a, b, k) == pytest.approx(expected) if expected is not None else overlap_at_k(a, b, k) is None


def test_rank_positions_share_the_mean_position_of_equal_scores():
    assert rank_positions(["a", "b", "c", "d"], [0.9, 0.5, 0.5, 0.1]) == {"a": 1, "b": 2.5, "c": 2.5, "d": 4}
    assert rank_positions(["a", "b", "a"]) == {"a": 1, "b": 2}


@pytest.mark.parametrize(("a", "b", "expected"), [
    (["a", "b", "c", "d"], ["a", "b", "c", "d"], 1.0),
    (["a", "b", "c", "d"], ["d", "c", "b", "a"], -1.0),
    (["a", "b", "c"], ["a", "c", "b"], 1 / 3),  # ab, ac concordant; bc discordant
    (["a", "x", "b", "c"], ["c", "y", "b", "a"], -1.0),  # only the shared a, b, c count
    (["a", "b"], ["c", "d"], None),  # disjoint
    (["a", "b"], ["b", "c"], None),  # one shared passage: no pair to compare
    ([], [], None),
])
def test_kendall_tau(a, b, expected):
    tau = kendall_tau(a, b)
    assert tau == pytest.approx(expected) if expected is not None else tau is None


def test_kendall_tau_b_with_ties():
    tied = rank_positions(["a", "b", "c"], [0.9, 0.5, 0.5])  # b and c tied
    # ab and ac concordant, bc tied in the first only: (2 - 0) / sqrt((2 + 0 + 1) * (2 + 0 + 0))
    assert kendall_tau(tied, ["a", "b", "c"]) == pytest.approx(2 / math.sqrt(6))
    assert kendall_tau(rank_positions(["a", "b"], [0.5, 0.5]), ["a", "b"]) is None  # all tied: undefined


@pytest.mark.parametrize(("a", "b", "p", "expected"), [
    (["a", "b", "c"], ["a", "b", "c"], 0.9, 1.0),
    (["a", "b"], ["b", "a"], 0.5, 0.5),  # (1-p)/p * (0/1 * p + 2/2 * p^2) + 2/2 * p^2
    (["a"], ["a", "b"], 0.5, 1.0),  # a prefix: extrapolated as full agreement
    (["c"], ["a", "b"], 0.5, 0.0),
    (["a", "b"], ["c", "d", "e"], 0.9, 0.0),
    (["a"], [], 0.9, 0.0),
    ([], [], 0.9, None),
])
def test_rank_biased_overlap(a, b, p, expected):
    rbo = rank_biased_overlap(a, b, p)
    assert rbo == pytest.approx(expected) if expected is not None else rbo is None


def test_rbo_weighs_the_top_more_and_is_symmetric():
    swap_top = rank_biased_overlap(["b", "a", "c", "d"], ["a", "b", "c", "d"])
    swap_bottom = rank_biased_overlap(["a", "b", "d", "c"], ["a", "b", "c", "d"])
    assert swap_top < swap_bottom < 1.0
    assert rank_biased_overlap(["a", "x"], ["a", "b", "c"]) == pytest.approx(rank_biased_overlap(["a", "b", "c"],
                                                                                                  ["a", "x"]))
    with pytest.raises(ValueError, match="persistence"):
        rank_biased_overlap(["a"], ["a"], 1.0)


def test_score_summary():
    mean, std = score_summary([0.9, 0.5, 0.1], 2)
    assert (mean, std) == (pytest.approx(0.7), pytest.approx(0.2))
    assert score_summary([], 3) == (None, None)


def test_agreement_matrix_covers_every_pair():
    matrix = agreement_matrix({"en": ["a", "b"], "de": ["b", "a"]}, lambda x, y: top_k_agreement(x, y, 1))
    assert matrix == {("en", "en"): 1.0, ("en", "de"): 0.0, ("de", "en"): 0.0, ("de", "de"): 1.0}


@pytest.fixture
def runs(make_candidate):
    """English finds a, b, c; German finds b, a (scores tied); Japanese finds nothing."""
    a, b, c = (make_candidate(t, rank=r) for r, t in enumerate(["alpha", "beta", "gamma"], 1))

    def scored(candidate, score):
        from dataclasses import replace

        return replace(candidate, rerank_score=score)

    return [LanguageRun("en", "Which one?", (scored(a, 0.9), scored(b, 0.6), scored(c, 0.3))),
            LanguageRun("de", "Welches?", (scored(b, 0.8), scored(a, 0.8))),
            LanguageRun("ja", "どれ？", (), ("Reranking skipped",))]


def test_language_stats_against_the_reference(runs):
    stats = {s.language: s for s in language_stats(runs, "en", k=3)}
    en, de, ja = stats["en"], stats["de"], stats["ja"]
    assert (en.top1_agreement, en.top3_agreement, en.overlap_at_k, en.kendall_tau) == (1.0, 1.0, 1.0, 1.0)
    assert en.rbo == pytest.approx(1.0) and en.mean_score == pytest.approx(0.6)
    assert (de.top1_agreement, de.top3_agreement, de.overlap_at_k) == (0.0, 1.0, pytest.approx(2 / 3))
    assert de.kendall_tau is None  # a and b tied in German: no order to compare
    assert (de.mean_score, de.std_score) == (pytest.approx(0.8), pytest.approx(0.0))
    assert (ja.top1_agreement, ja.overlap_at_k, ja.kendall_tau, ja.rbo, ja.mean_score) == (0.0, 0.0, None, 0.0, None)
    with pytest.raises(BadInput, match="'fr'"):
        language_stats(runs, "fr")


def test_exports_are_plain_data(runs):
    stats = language_stats(runs, "en", k=3)
    rows = list(csv.DictReader(io.StringIO(comparison_csv(runs))))
    assert [(r["language"], r["rank"], r["passage"]) for r in rows] == [
        ("en", "1", "test:guide.md#1"), ("en", "2", "test:guide.md#2"), ("en", "3", "test:guide.md#3"),
        ("de", "1", "test:guide.md#2"), ("de", "2", "test:guide.md#1")]
    data = json.loads(json.dumps(comparison_json(runs, stats, "en", 3)))
    assert data["reference"] == "en" and data["languages"][2]["warnings"] == ["Reranking skipped"]
    assert data["languages"][1]["results"][0]["score"] == 0.8
    assert data["statistics"][1]["top3_agreement"] == 1.0
    assert [s["language"] for s in data["statistics"]] == ["en", "de", "ja"]
    assert data["statistics"][2]["kendall_tau"] is None


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is not JSON"),
    ('["en", "de"]', "must map language codes"),
    ('{"en": 3}', "must map language codes"),
    ('{"en": "  "}', "holds no question"),
])
def test_bad_questions_are_explained(text, message):
    with pytest.raises(BadInput, match=message):
        parse_questions(text)


def test_questions_are_trimmed():
    assert parse_questions('{"en": " Hi? ", "de": "Hallo?"}') == {"en": "Hi?", "de": "Hallo?"}


@pytest.fixture
def sample_env(monkeypatch, sample_pipeline):
    """POLYDESK_* variables pointing the command at the sample pipeline's models and store."""
    settings = sample_pipeline.settings
    for name, value in {"POLYDESK_RERANKER_MODEL": settings.reranker_model, "POLYDESK_DEVICE": "cpu",
                        "POLYDESK_EMBEDDING_MODEL": settings.embedding_model,
                        "POLYDESK_CHROMA_PATH": str(settings.chroma_path)}.items():
        monkeypatch.setenv(name, value)
    return sample_pipeline


QUESTIONS = {"en": "How do I refresh an expired token?", "es": "¿Cómo renuevo un token caducado?",
             "ja": "期限切れのトークンを更新するには？"}


def test_compare_command_json_matches_the_search(sample_env, tmp_path, capsys):
    from core.ops.cli import main

    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps(QUESTIONS, ensure_ascii=False), encoding="utf-8")
    assert main(["compare", "--collection", "parcelio", "--queries", str(questions), "--k", "5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [lang["language"] for lang in data["languages"]] == ["en", "es", "ja"] and data["reference"] == "en"
    expected = sample_env.search(QUESTIONS["es"], ["parcelio"], top_n=5).candidates
    assert [r["passage"] for r in data["languages"][1]["results"]] == [f"parcelio:{c.chunk.id}" for c in expected]
    assert [r["score"] for r in data["languages"][1]["results"]] == pytest.approx([c.rerank_score for c in expected])
    first = data["statistics"][0]
    assert (first["language"], first["top1_agreement"], first["overlap_at_k"]) == ("en", 1.0, 1.0)
    assert main(["compare", "--collection", "parcelio", "--queries", str(questions), "--reference", "ja"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("reference: ja, k = 10") and "[es] ¿Cómo renuevo un token caducado?" in table


def test_compare_command_explains_bad_input(sample_env, tmp_path, capsys):
    from core.ops.cli import main

    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    good = tmp_path / "good.json"
    good.write_text('{"en": "token"}')
    for args, message in [(["--queries", str(empty)], "holds no question"),
                          (["--queries", str(tmp_path / "none.json")], "does not exist"),
                          (["--queries", str(good), "--reference", "fr"], "reference language 'fr'"),
                          (["--queries", str(good), "--collection", "nope"], "nope")]:
        assert main(["compare", "--collection", "parcelio", *args]) == 1
        assert message in capsys.readouterr().err, args
