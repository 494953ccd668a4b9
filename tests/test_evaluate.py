"""Retrieval metrics against hand-computed values, qrels parsing, the parallel-corpus builder and `polydesk eval`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import BadInput
from core.ops.cli import main
from core.quality.evaluate import judged_ranking, ndcg_at_k, recall_at_k, reciprocal_rank
from core.quality.parallel_qrels import parallel_qrels, sections
from core.quality.qrels import LabelledQuery, parse_qrels, qrels_jsonl

POLYDESK = str(Path(sys.executable).with_name("polydesk"))


@pytest.mark.parametrize(("ranking", "relevant", "k", "expected"), [
    (["a", "b", "c"], {"b", "d"}, 2, 0.5),
    (["a", "b", "c"], {"b", "d"}, 1, 0.0),
    (["a", "b"], {"a", "b"}, 10, 1.0),  # k past the end
    ([], {"a"}, 5, 0.0),
])
def test_recall_at_k(ranking, relevant, k, expected):
    assert recall_at_k(ranking, relevant, k) == expected


def test_reciprocal_rank_and_ndcg():
    assert reciprocal_rank(["x", "b", "d"], {"b", "d"}) == 0.5
    assert reciprocal_rank(["x"] * 10 + ["b"], {"b"}) == 0.0  # past rank 10
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(["x", "b", "y", "d"], {"b", "d"}) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert ndcg_at_k(["b", "d", "x"], {"b", "d"}) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "b"], {"b"}, k=1) == 0.0


def test_a_section_counts_once_at_its_best_chunk():
    sections_of = {"c1": "s.md#a", "c2": "s.md#a", "c3": "t.md#b"}
    assert judged_ranking(["c1", "c2", "c3"], {"t.md#b"}, sections_of) == ["c1", "c2", "t.md#b"]
    assert judged_ranking(["c3", "c1", "c2"], {"s.md#a"}, sections_of) == ["c3", "s.md#a"]
    assert judged_ranking(["c2", "c3"], {"c3"}, sections_of) == ["c2", "c3"]  # chunk ids work as they are


def test_qrels_round_trip_and_errors():
    queries = [LabelledQuery("Wie?", "de", frozenset({"de/a.md#x"}), "en"), LabelledQuery("How?", "en",
                                                                                           frozenset({"c1", "c2"}))]
    assert parse_qrels(qrels_jsonl(queries)) == queries
    with pytest.raises(BadInput, match="line 2, is not JSON"):
        parse_qrels('{"query": "q", "language": "en", "relevant": ["a"]}\n{oops')
    with pytest.raises(BadInput, match="line 1: each line must be"):
        parse_qrels('{"query": "q", "language": "en", "relevant": []}')
    with pytest.raises(BadInput, match="holds no queries"):
        parse_qrels("\n\n")


@pytest.mark.parametrize(("line", "message"), [
    ('{"query": "q", "language": "en", "relevant": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ('{"query": "q", "language": "en", "relevant": ["a"], "n": ' + "9" * 5000 + "}", "number too large"),
])
def test_deep_or_huge_qrels_lines_are_bad_input(line, message, tmp_path, capsys):
    text = '{"query": "Wo?", "language": "de", "relevant": ["de/a.md#x"]}\n' + line + "\n"
    with pytest.raises(BadInput, match=f"line 2, is {message}|line 2, holds a {message}"):
        parse_qrels(text)
    path = tmp_path / "deep.jsonl"
    path.write_text(text, encoding="utf-8")
    assert main(["eval", "--collection", "tokens", "--qrels", str(path)]) == 1
    assert "line 2" in capsys.readouterr().err


PAGE = {
    "en": "# Access tokens for the public API { #tokens }\n\n"
          "Every request to the public API carries a bearer access token.\n\n"
          "## Refreshing an expired access token { #refresh }\n\n```\n# not a heading { #code }\n```\n\n"
          "## Empty { #empty }\n\n### Rotating the signing keys every year { #rotate }\n\nRotate yearly.\n\n"
          "## Plain heading\n\nx\n",
    "de": "# Zugriffstoken für die öffentliche Schnittstelle { #tokens }\n\nJede Anfrage trägt ein Token.\n\n"
          "## Ein abgelaufenes Zugriffstoken erneuern { #refresh }\n\nMit dem Erneuerungsschlüssel anfragen.\n\n"
          "### Die Signaturschlüssel jedes Jahr rotieren { #rotate }\n\nJährlich.\n",
}


@pytest.fixture
def parallel_corpus(tmp_path: Path) -> Path:
    """Two languages of one page laid out like a parallel corpus with a manifest."""
    corpus = tmp_path / "corpus"
    for code, text in PAGE.items():
        (corpus / code).mkdir(parents=True)
        (corpus / code / "tokens.md").write_text(text, encoding="utf-8")
    langs = {code: {"file": f"{code}/tokens.md"} for code in PAGE}
    (corpus / "manifest.jsonl").write_text(json.dumps({"path": "tokens.md", "langs": langs}) + "\n")
    return corpus


def test_sections_need_an_explicit_anchor_and_text():
    assert [(s.anchor, s.heading) for s in sections(PAGE["en"])] == [
        ("tokens", "Access tokens for the public API"), ("refresh", "Refreshing an expired access token"),
        ("rotate", "Rotating the signing keys every year")]


def test_parallel_qrels_pair_every_language(parallel_corpus):
    queries = parallel_qrels(parallel_corpus)
    assert len(queries) == 4 * 3  # en->en, en->de, de->en, de->de; three shared sections each
    refresh = LabelledQuery("Ein abgelaufenes Zugriffstoken erneuern", "de", frozenset({"en/tokens.md#refresh"}), "en")
    assert refresh in queries
    assert {q.language for q in parallel_qrels(parallel_corpus, ["de"])} == {"de"}
    assert all(q.language != q.target_language for q in parallel_qrels(parallel_corpus, pairs="cross"))
    assert [q.target_language for q in parallel_qrels(parallel_corpus, ["en", "de"], pairs="same")] == ["en"] * 3 + \
        ["de"] * 3
    with pytest.raises(BadInput, match="No sections"):
        parallel_qrels(parallel_corpus, ["fr"])
    with pytest.raises(BadInput, match="manifest.jsonl does not exist"):
        parallel_qrels(parallel_corpus / "en")


@pytest.fixture
def eval_env(monkeypatch, tmp_path, parallel_corpus, reranker_dir, embedder_dir):
    """The parallel corpus ingested as collection `tokens` with the tiny models; its qrels written next to it."""
    from core.pipeline import Pipeline
    from core.settings import load_settings

    env = {"POLYDESK_RERANKER_MODEL": str(reranker_dir), "POLYDESK_EMBEDDING_MODEL": str(embedder_dir),
           "POLYDESK_CHROMA_PATH": str(tmp_path / "chroma"), "POLYDESK_DEVICE": "cpu"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    report = Pipeline(load_settings()).ingest([parallel_corpus], "tokens")
    assert [f.status for f in report.files] == ["ok", "ok", "skipped"]  # manifest.jsonl is not a document
    assert main(["eval-build", str(parallel_corpus), "--out", str(tmp_path / "qrels.jsonl")]) == 0
    return env


def test_eval_reports_every_language_and_stage(eval_env, tmp_path, capsys):
    capsys.readouterr()
    assert main(["eval", "--collection", "tokens", "--qrels", str(tmp_path / "qrels.jsonl"), "--json",
                 "--k", "1", "--k", "10", "--by", "pair"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {(r["group"], r["stage"]): r for r in report["rows"]}
    assert report["stages"] == ["dense", "lexical", "fused", "reranked"] and report["ks"] == [1, 10]
    assert {g for g, _ in rows} == {"de→de", "de→en", "en→de", "en→en", "all"}
    assert rows[("all", "reranked")]["queries"] == 12 and rows[("en→en", "lexical")]["queries"] == 3
    # BM25 finds each heading's own section first in its language; the other language shares no words
    assert rows[("en→en", "lexical")]["recall@1"] == 1.0 and rows[("de→de", "lexical")]["mrr@10"] == 1.0
    assert rows[("en→de", "lexical")]["recall@10"] < 1.0
    # a collection of a handful of chunks: dense and its fusion hold every section in their top 10
    assert rows[("all", "dense")]["recall@10"] == 1.0 and rows[("all", "reranked")]["recall@10"] == 1.0


def test_lexical_stage_needs_no_model(eval_env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POLYDESK_EMBEDDING_MODEL", "nobody/absent-model")
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", "nobody/absent-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    capsys.readouterr()
    assert main(["eval", "--collection", "tokens", "--qrels", str(tmp_path / "qrels.jsonl"), "--stage",
                 "lexical"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| language | stage | queries | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |")
    assert [line.split(" | ")[:2] for line in table[2:]] == [["| de", "lexical"], ["| en", "lexical"],
                                                             ["| all", "lexical"]]


def polydesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the installed console script with these POLYDESK_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    return subprocess.run([POLYDESK, *args], env={**clean, **env}, capture_output=True, text=True, timeout=300)


def test_bad_input_is_a_message_not_a_traceback(eval_env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q"}\n')
    cases = [
        (["eval", "--collection", "tokens", "--qrels", str(tmp_path / "missing.jsonl")], "does not exist"),
        (["eval", "--collection", "tokens", "--qrels", str(bad)], "line 1: each line must be"),
        (["eval", "--collection", "nope", "--qrels", str(tmp_path / "qrels.jsonl"), "--stage", "lexical"], "nope"),
        (["eval", "--collection", "tokens", "--qrels", str(tmp_path / "qrels.jsonl"), "--stage", "bm25"],
         "choose from dense, lexical, fused, reranked"),
        (["eval-build", str(tmp_path), "--out", str(tmp_path / "x.jsonl")], "manifest.jsonl does not exist"),
    ]
    for args, message in cases:
        done = polydesk(*args, env=eval_env)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
