"""The comparison, rerank playground and evaluation pages, run as a browser visit runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.models.rerank.local import QwenLocalReranker
from core.quality.playground import split_passages
from tests.fake_servers import ChatReply, refused_url, serve_chat, sse_events

PAGES = Path(__file__).resolve().parents[1] / "pages"


def page(name: str) -> AppTest:
    """A page ready to run."""
    return AppTest.from_file(str(PAGES / name), default_timeout=120)


def button(app: AppTest, label: str):
    """The button with this label."""
    return next(b for b in app.button if b.label == label)


@pytest.fixture
def sample_env(monkeypatch, sample_pipeline):
    """The pages see the sample pipeline's tiny models and its store (collection `parcelio`)."""
    settings = sample_pipeline.settings
    for name, value in {"POLYDESK_RERANKER_MODEL": settings.reranker_model, "POLYDESK_DEVICE": "cpu",
                        "POLYDESK_EMBEDDING_MODEL": settings.embedding_model, "POLYDESK_HTTP_RETRIES": "0",
                        "POLYDESK_CHROMA_PATH": str(settings.chroma_path)}.items():
        monkeypatch.setenv(name, value)
    return sample_pipeline


QUESTIONS = {"en": "How do I refresh an expired token?", "es": "¿Cómo renuevo un token caducado?",
             "ja": "期限切れのトークンを更新するには？"}


def test_comparison_page_ranks_every_language(sample_env):
    app = page("2_Compare_languages.py").run()
    assert not app.exception and app.multiselect[0].value == ["parcelio"]
    for code, question in QUESTIONS.items():
        app.text_input(key=f"compare.question.{code}").input(question)
    app.run()
    button(app, "Compare").click().run()
    assert not app.exception and not app.error
    stats = app.dataframe[0].value
    assert list(stats["language"]) == ["en", "es", "ja"] and stats["top-1"][0] == 1.0
    expected = sample_env.search(QUESTIONS["es"], ["parcelio"], top_n=10).candidates
    firsts = [m.value for m in app.markdown if ">#1 ·" in m.value]  # each language's best passage
    assert len(firsts) == 3
    assert expected[0].chunk.location in firsts[1]
    assert f"{expected[0].rerank_score:.3f}" in firsts[1]
    assert len(app.get("vega_lite_chart")) == 2
    assert [d.proto.label for d in app.get("download_button")] == ["Download CSV", "Download JSON"]
    app.selectbox[1].select("ja").run()
    assert app.dataframe[0].value["top-1"][2] == 1.0  # the reference agrees with itself


def test_translation_fills_the_other_languages(sample_env, monkeypatch):
    with serve_chat(lambda _request: ChatReply(events=sse_events(["<think>\n\n</think>", "Traducido"]))) as (url, _):
        monkeypatch.setenv("POLYDESK_LLM_URL", f"{url}/v1")
        app = page("2_Compare_languages.py").run()
        app.text_input(key="compare.question.en").input(QUESTIONS["en"])
        button(app, "Translate with the LLM").click().run()
    assert not app.exception and not app.warning
    assert app.text_input(key="compare.question.es").value == "Traducido"
    assert app.text_input(key="compare.question.en").value == QUESTIONS["en"]


def test_translation_without_an_llm_is_a_warning(sample_env, monkeypatch):
    monkeypatch.setenv("POLYDESK_LLM", "off")
    app = page("2_Compare_languages.py").run()
    app.text_input(key="compare.question.en").input(QUESTIONS["en"])
    button(app, "Translate with the LLM").click().run()
    assert not app.exception and "POLYDESK_LLM=off" in app.warning[0].value


@pytest.mark.parametrize(("text", "expected"), [
    ("a\nb\n c \n", ["a", "b", "c"]),
    ("first line\nsame passage\n\n\nsecond passage\r\n\r\nthird", ["first line\nsame passage", "second passage",
                                                                  "third"]),
    ("  \n ", []),
])
def test_split_passages(text, expected):
    assert split_passages(text) == expected


def test_playground_ranks_with_both_backends_and_warns_about_vllm(monkeypatch, reranker_dir):
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", str(reranker_dir))
    monkeypatch.setenv("POLYDESK_DEVICE", "cpu")
    monkeypatch.setenv("POLYDESK_HTTP_RETRIES", "0")
    monkeypatch.setenv("POLYDESK_RERANKER_URL", refused_url())
    app = page("3_Rerank_playground.py").run()
    passages = ["Send the refresh token to POST /v1/token/refresh.", "Pagination uses a cursor.", "429: slow down."]
    app.text_area[0].input("\n\n".join(passages))
    app.text_area[1].input("Find the API documentation that answers")
    app.radio[0].set_value("both side by side").run()
    button(app, "Rerank").click().run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    expected = QwenLocalReranker(reranker_dir, "x", "unused").rerank(
        app.text_input[0].value, passages, instruction="Find the API documentation that answers")
    assert list(table["passage"]) == [passages[r.index] for r in expected]
    assert list(table["score"]) == pytest.approx([round(r.score, 4) for r in expected])
    assert len(app.warning) == 1 and "vLLM reranker failed" in app.warning[0].value
    assert "cannot be reached" in app.warning[0].value


def write_qrels(folder: Path) -> Path:
    """Two labelled sample questions, one English and one Spanish."""
    path = folder / "qrels.jsonl"
    lines = [{"query": QUESTIONS["en"], "language": "en",
              "relevant": ["en/authentication.md#token-expiry-and-refresh"]},
             {"query": QUESTIONS["es"], "language": "es",
              "relevant": ["es/authentication.md#caducidad-y-renovacion-del-token", "en/authentication.md#scopes"]}]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def test_evaluate_page_runs_and_compares_two_runs(sample_env, tmp_path):
    qrels = write_qrels(tmp_path)
    app = page("4_Evaluate.py").run()
    assert not app.exception
    app.file_uploader[0].set_value(("qrels.jsonl", b'{"query": "no language"}\n', "application/jsonl")).run()
    button(app, "Run").click().run()
    assert "qrels.jsonl" in app.error[0].value and "line 1" in app.error[0].value
    app.file_uploader[0].set_value(("qrels.jsonl", qrels.read_bytes(), "application/jsonl")).run()
    button(app, "Run").click().run()
    assert not app.exception and not app.error
    rows = app.dataframe[0].value
    assert list(rows["group"]) == ["en"] * 4 + ["es"] * 4 + ["all"] * 4
    assert list(rows["stage"][:4]) == ["dense", "lexical", "fused", "reranked"]
    assert len(app.get("vega_lite_chart")) == 1
    app.multiselect[0].set_value(["lexical"])
    app.text_input[0].input("lexical only")
    button(app, "Run").click().run()
    assert not app.exception and app.subheader[0].value == "Compare two runs"
    change = app.dataframe[1].value
    assert list(change["stage"]) == ["lexical"] * 3 and list(change["change"]) == [0.0, 0.0, 0.0]


def test_playground_without_a_vllm_server_says_how_to_configure_one(monkeypatch, reranker_dir):
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", str(reranker_dir))
    app = page("3_Rerank_playground.py").run()
    app.radio[0].set_value("vLLM").run()
    button(app, "Rerank").click().run()
    assert not app.exception and not app.dataframe
    assert "No vLLM reranker is configured: set POLYDESK_RERANKER_URL" in app.warning[0].value
