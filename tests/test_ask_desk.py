"""The agent's desk on the Ask page: navigation, conversations, tickets, RTL, long text, copy, honest waiting."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from core.answers.feedback_review import NOT_ANSWERED, RATED_DOWN, review
from core.ops.api.app import create_app
from core.ops.api.keys import KeyStore
from core.ops.startup import PARTS, Startup
from core.pipeline import Pipeline
from core.settings import load_settings
from pages._navigation import PAGES
from tests import test_ask
from tests.api_support import serve_app
from tests.fake_servers import ChatReply, serve_chat, sse_events
from tests.test_ask import APP, ask, button, logged, passages

app_env = test_ask.app_env  # the fixture, shared
ROOT = Path(APP).parent
ARABIC = "كم مدة صلاحية رمز الوصول؟"


@pytest.fixture
def desk_env(app_env, monkeypatch):
    """The Ask page on the tiny models with the LLM off."""
    monkeypatch.setenv("POLYDESK_LLM", "off")
    return app_env


def blocks(node) -> list:
    """Every block under a node of the element tree."""
    found = []
    for child in getattr(node, "children", {}).values():
        if hasattr(child, "children"):
            found += [child, *blocks(child)]
    return found


def texts_in(app: AppTest, key_part: str) -> list[str]:
    """The markdown shown inside containers whose key contains key_part (e.g. "dir-rtl-")."""
    return [m.value for b in blocks(app.main) if key_part in getattr(b.proto, "id", "")
            for m in b.markdown]


def test_navigation_lists_every_page_with_its_title(desk_env):
    listed = {path for path, *_ in PAGES}
    files = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")}
    assert listed == files
    assert [title for _, title, *_ in PAGES] == ["Ask", "Documents", "Compare languages", "Rerank playground",
                                                "Evaluate", "Status"]
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception and app.title[0].value == "Ask"
    app.switch_page("pages/5_Status.py").run()
    assert not app.exception and app.title[0].value == "Status"


def test_blank_question_is_refused(desk_env):
    app = ask("   \n  ")
    assert [w.value for w in app.warning] == ["The question is blank: type what you want to know."]
    assert not passages(app) and not app.chat_message


def test_arabic_question_and_answer_are_right_to_left_and_copyable(desk_env):
    app = ask(ARABIC)
    rtl = texts_in(app, "dir-rtl-")
    assert any(ARABIC in t for t in rtl), "the question is laid out right to left"
    answer = next(t for t in rtl if "No generated answer" in t)
    assert answer in [c.value for c in app.code], "the copy button holds the answer's text"


def test_long_message_is_collapsed_with_its_line_breaks(desk_env):
    question = "\n".join(f"Line {i}: the webhook signature check fails with ERR_SIGNATURE." for i in range(30))
    app = ask(question)
    whole = [e for e in app.expander if e.label.startswith("The whole text")]
    assert len(whole) == 1 and f"{len(question):,} characters" in whole[0].label
    assert any("Line 0: the webhook" in m.value and "  \nLine 1:" in m.value for m in whole[0].markdown)


def test_new_conversation_starts_afresh(desk_env):
    app = ask()
    assert passages(app)
    button(app, "New conversation").click().run()
    assert not app.exception and not passages(app) and not app.chat_message


def test_translation_with_the_llm_off_is_explained(desk_env):
    app = ask("Wie lange ist ein Zugriffstoken gültig, bevor es abläuft?")
    assert not any(b.label.startswith("Translate into") for b in app.button)
    assert any("Translation needs a language model" in c.value for c in app.caption)
    assert any("answer language and translations need a model" in c.value for c in app.sidebar.caption)


def test_background_loading_loads_every_part_once(sample_pipeline, reranker_dir, embedder_dir, monkeypatch):
    monkeypatch.setenv("POLYDESK_CHROMA_PATH", str(sample_pipeline.settings.chroma_path))
    monkeypatch.setenv("POLYDESK_EMBEDDING_MODEL", str(embedder_dir))
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", str(reranker_dir))
    begun = Startup(Pipeline(load_settings()))
    assert begun.wait(0)
    begun.load_in_background()
    begun.load_in_background()  # a second call starts nothing more
    assert begun.wait(300)
    assert set(begun.loaded_ms) == set(PARTS) and not begun.errors
    assert begun.pipeline.loaded_models() == {"embedding", "reranker"}
    assert begun.ingest_sample() is None, "a store with collections gets no sample"


def test_first_start_ingest_reports_files_as_they_go(tmp_path, reranker_dir, embedder_dir, monkeypatch):
    monkeypatch.setenv("POLYDESK_CHROMA_PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("POLYDESK_EMBEDDING_MODEL", str(embedder_dir))
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", str(reranker_dir))
    seen = []
    report = Startup(Pipeline(load_settings())).ingest_sample(seen.append)
    assert report is not None and report.totals()["added"] > 0
    assert {p.total for p in seen} == {len(report.files)} and max(p.done for p in seen) >= len(report.files) - 1


def test_follow_up_is_searched_as_the_rewritten_query(app_env, monkeypatch):
    def reply(_request: dict) -> ChatReply:  # the rewrite and the answer alike
        return ChatReply(events=sse_events(["How long is a refreshed access token valid? [1]"]))

    with serve_chat(reply) as (url, _seen):
        monkeypatch.setenv("POLYDESK_LLM_URL", url)
        app = ask()
        app.chat_input[0].set_value("and after a refresh?").run()
    assert not app.exception
    searched = [t.value for t in app.text_input if t.label == "Searched for"]
    assert len(searched) == 2 and searched[1] != "and after a refresh?"


def test_ticket_becomes_a_reply_draft_in_the_customers_language(desk_env):
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.radio(key="ask-mode").set_value("Customer message").run()
    app.text_area(key="ticket-message").input("Hola,\n\n¿Cuánto dura un token de acceso?\n\nGracias, Ana").run()
    button(app, "Draft a reply").click().run()
    assert not app.exception
    assert any("Customer's language: Spanish" in c.value for c in app.caption)
    assert passages(app)
    [draft] = logged(desk_env)
    assert (draft.kind, draft.origin, draft.language) == ("reply", "ask page", "es")
    assert draft.question.startswith("Hola")


def test_an_uncited_answer_lists_its_passages_right_to_left(app_env, monkeypatch):
    with serve_chat(lambda _r: ChatReply(events=sse_events(["صلاحية رمز الوصول ساعة واحدة."]))) as (url, _seen):
        monkeypatch.setenv("POLYDESK_LLM_URL", url)
        app = ask(ARABIC)
    shown = passages(app)
    assert len(shown) == 3 and all(e.label.endswith(" · not cited") for e in shown)
    rtl_passages = [b for b in blocks(app.main) if "dir-rtl-passage-" in getattr(b.proto, "id", "")]
    assert rtl_passages, "Arabic passages are laid out right to left"
    [row] = review(logged(app_env))
    assert row.reasons == (NOT_ANSWERED,) and row.entry.rating is None, "unrated, yet up for review"
    assert row.entry.question == ARABIC and not any(p.cited for p in row.entry.passages)


def test_ask_page_and_api_answers_share_one_log_and_review(desk_env):
    app = ask()
    button(app, "👎").click().run()
    pipeline = Pipeline(load_settings())
    key = KeyStore(desk_env).create("helpdesk", "ask")
    with serve_app(create_app(pipeline)) as url:
        headers = {"Authorization": f"Bearer {key}"}
        answer = httpx.post(url + "/api/v1/answers", json={"question": "How do I track a parcel?"},
                            headers=headers, timeout=300).json()
        rated = httpx.post(url + "/api/v1/feedback", json={"answer_id": answer["answer_id"], "rating": -1},
                           headers=headers, timeout=60)
    assert rated.status_code == 200, rated.text
    rows = review(logged(desk_env), reasons=[RATED_DOWN])
    assert sorted((r.entry.origin, r.entry.kind) for r in rows) == [("ask page", "answer"), ("helpdesk", "answer")]


def test_a_built_part_is_served_while_another_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYDESK_CHROMA_PATH", str(tmp_path / "chroma"))
    pipeline = Pipeline(load_settings())
    pipeline._part("store", lambda: "the store")
    building, release = threading.Event(), threading.Event()

    def slow_build() -> str:
        building.set()
        release.wait(60)
        return "the reranker"

    loader = threading.Thread(target=pipeline._part, args=("reranker", slow_build))
    loader.start()
    assert building.wait(60)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(pipeline._part("store", lambda: "again")))
    reader.start()
    reader.join(30)  # only a blocked reader reaches this bound
    release.set()
    loader.join(60)
    assert got == ["the store"], "the page's sidebar must not wait for the reranker to load"
