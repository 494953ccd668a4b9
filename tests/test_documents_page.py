"""The Documents page: sign-in, throttling, expiry, uploads with their report, confirmations, hostile archives."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.admin.auth import AdminSession, hash_password, login_throttle
from core.admin.documents import shared_document_admin
from core.settings import load_settings
from tests.test_ask_desk import blocks

APP = str(Path(__file__).resolve().parents[1] / "pages" / "1_Documents.py")
PASSWORD = "correct horse battery staple"
GOOD_MD = "# Webhooks\n\nParcelio signs every webhook with HMAC-SHA256 in the X-Parcelio-Signature header.\n"
GOOD_TXT = "Rate limits\n\nEach API key may send 600 requests per minute; a 429 answer carries Retry-After.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


@pytest.fixture(scope="module")
def password_hash() -> str:
    """One argon2 hash for the module (hashing takes a fraction of a second)."""
    return hash_password(PASSWORD)


@pytest.fixture
def page_env(monkeypatch, tmp_path, reranker_dir, embedder_dir, password_hash):
    """Tiny models, a store and upload folder of the test's own, and a configured admin password."""
    for name, value in {"POLYDESK_CHROMA_PATH": tmp_path / "chroma", "POLYDESK_UPLOADS_PATH": tmp_path / "uploads",
                        "POLYDESK_RERANKER_MODEL": reranker_dir, "POLYDESK_EMBEDDING_MODEL": embedder_dir,
                        "POLYDESK_DEVICE": "cpu", "POLYDESK_LLM": "off",
                        "POLYDESK_ADMIN_PASSWORD_HASH": password_hash}.items():
        monkeypatch.setenv(name, str(value))
    login_throttle.cache_clear()
    yield tmp_path
    login_throttle.cache_clear()


def open_page() -> AppTest:
    """A fresh browser visit."""
    return AppTest.from_file(APP, default_timeout=300).run()


def sign_in(app: AppTest, user: str = "admin", password: str = PASSWORD) -> AppTest:
    """Fill in and send the sign-in form."""
    app.text_input[0].input(user)
    app.text_input[1].input(password)
    return app.button[0].click().run()


def signed_in() -> AppTest:
    """A visit with a successful sign-in."""
    app = sign_in(open_page())
    assert not app.exception and not app.error, [e.value for e in app.error]
    return app


def finish_jobs() -> None:
    """Wait for the background ingests of this configuration."""
    for job in shared_document_admin(load_settings()).jobs.recent():
        assert job.wait(300)


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A ZIP archive in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(app: AppTest, files: list[tuple[str, bytes, str]], collection: str = "webhooks") -> AppTest:
    """Upload files into a new collection, start the ingest, wait for it, and reload."""
    app.text_input(key="new-collection").input(collection)
    app.file_uploader(key="uploads").set_value(files)
    app.run()
    next(b for b in app.button if b.label == "Ingest").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    finish_jobs()
    return app.run()


def test_no_admin_configured_explains_and_offers_nothing(page_env, monkeypatch):
    monkeypatch.delenv("POLYDESK_ADMIN_PASSWORD_HASH")
    app = open_page()
    assert not app.exception
    assert "No admin is configured" in app.info[0].value and "polydesk admin set-password" in app.info[0].value
    assert not app.text_input and not app.button and not app.file_uploader


def test_the_page_refuses_without_sign_in(page_env):
    app = open_page()
    assert not app.exception
    assert [t.label for t in app.text_input] == ["User name", "Password"]
    assert not app.file_uploader and not app.tabs and not app.dataframe


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(page_env):
    app = open_page()
    for _ in range(5):
        sign_in(app, password="not the password at all")
        assert app.error[0].value == "Wrong user name or password."
    sign_in(app)  # even the right password waits out the lock
    assert "Too many failed sign-ins" in app.error[0].value
    assert not app.file_uploader


def test_an_expired_or_forged_session_is_refused(page_env):
    app = AppTest.from_file(APP, default_timeout=300)
    now = time.monotonic()
    app.session_state["admin_session"] = AdminSession("admin", "password", now - 7200, now - 3600)
    app.run()
    assert "expired" in app.warning[0].value and not app.file_uploader
    for forged in ({"user": "admin"}, "admin", True):
        app = AppTest.from_file(APP, default_timeout=300)
        app.session_state["admin_session"] = forged
        app.run()
        assert not app.file_uploader and [t.label for t in app.text_input] == ["User name", "Password"]


def test_uploaded_files_are_ingested_and_reported(page_env):
    app = upload(signed_in(), [("webhooks.md", GOOD_MD.encode(), "text/markdown"),
                               ("limits.txt", GOOD_TXT.encode(), "text/plain"),
                               ("diagram.md", PNG, "text/markdown")])
    report = app.dataframe[0].value
    outcome = dict(zip(report["source"], report["status"], strict=True))
    assert outcome == {"diagram.md": "failed", "webhooks.md": "ok", "limits.txt": "ok"}
    reason = report["reason"][list(report["source"]).index("diagram.md")]
    assert "PNG image" in reason
    assert [b.label for b in app.get("download_button")] == ["Download report (CSV)", "Download report (JSON)"]
    store = shared_document_admin(load_settings()).pipeline.store
    assert set(store.sources("webhooks")) == {"webhooks.md", "limits.txt"}
    kept = page_env / "uploads" / "webhooks" / "files"
    assert sorted(p.name for p in kept.iterdir()) == ["limits.txt", "webhooks.md"]
    assert not list((page_env / "uploads" / "webhooks" / ".incoming").iterdir())


def test_delete_asks_for_confirmation_first(page_env):
    app = upload(signed_in(), [("webhooks.md", GOOD_MD.encode(), "text/markdown")])
    store = shared_document_admin(load_settings()).pipeline.store
    next(b for b in app.button if b.label == "Delete collection…").click().run()
    assert "Delete the collection **webhooks**" in app.warning[0].value
    assert [c.name for c in store.collections()] == ["webhooks"]
    next(b for b in app.button if b.label == "Cancel").click().run()
    assert not app.warning and [c.name for c in store.collections()] == ["webhooks"]
    next(b for b in app.button if b.label == "Delete collection…").click().run()
    next(b for b in app.button if b.label == "Yes, go ahead").click().run()
    assert not app.exception and app.success[0].value == "Deleted collection webhooks."
    assert store.collections() == [] and not (page_env / "uploads" / "webhooks").exists()


def test_a_document_is_removed_after_confirmation(page_env):
    app = upload(signed_in(), [("webhooks.md", GOOD_MD.encode(), "text/markdown"),
                               ("limits.txt", GOOD_TXT.encode(), "text/plain")])
    listing = app.dataframe[1].value
    assert list(listing["collection"]) == ["webhooks"] and list(listing["documents"]) == [2]
    assert list(listing["languages"]) == ["en 2"]
    app.selectbox(key="document-webhooks").select("limits.txt").run()
    chunks = app.dataframe[-1].value
    assert "600 requests per minute" in " ".join(chunks["text"])
    next(b for b in app.button if b.label == "Remove this document…").click().run()
    assert "Remove **limits.txt**" in app.warning[0].value
    next(b for b in app.button if b.label == "Yes, go ahead").click().run()
    store = shared_document_admin(load_settings()).pipeline.store
    assert set(store.sources("webhooks")) == {"webhooks.md"}
    assert not (page_env / "uploads" / "webhooks" / "files" / "limits.txt").exists()


@pytest.mark.parametrize(("entries", "reason"), [
    ({"docs/ok.md": GOOD_MD.encode(), "../escape.md": GOOD_MD.encode()}, "climbs out of the archive"),
    ({"docs/bomb.md": b"a" * 5_000_000}, "decompression bomb"),
])
def test_hostile_zip_is_refused_with_a_reason_and_writes_nothing(page_env, entries, reason):
    app = upload(signed_in(), [("docs.zip", zip_of(entries), "application/zip")])
    report = app.dataframe[0].value
    assert list(report["source"]) == ["docs.zip"] and list(report["status"]) == ["failed"]
    assert reason in report["reason"][0].lower()
    assert shared_document_admin(load_settings()).pipeline.store.collections() == []
    assert not [p for p in (page_env / "uploads").rglob("*") if p.is_file()]


def test_a_running_ingest_goes_on_when_the_admin_leaves_and_shows_when_they_return(page_env, monkeypatch):
    desk = shared_document_admin(load_settings())
    release = threading.Event()
    original = desk.pipeline.ingest

    def held_ingest(*args, **kwargs):
        release.wait(120)
        return original(*args, **kwargs)

    monkeypatch.setattr(desk.pipeline, "ingest", held_ingest)
    first = signed_in()
    first.text_input(key="new-collection").input("webhooks")
    first.file_uploader(key="uploads").set_value([("webhooks.md", GOOD_MD.encode(), "text/markdown")])
    first.run()
    next(b for b in first.button if b.label == "Ingest").click().run()
    try:
        returning = signed_in()  # another visit while the ingest is held
        assert "running" in " ".join(m.value for m in returning.markdown)
        assert returning.get("progress")
    finally:
        release.set()
    finish_jobs()
    returning.run()
    assert "finished" in " ".join(m.value for m in returning.markdown)
    assert list(returning.dataframe[0].value["status"]) == ["ok"]


SSO = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "polydesk",
       "client_secret": "secret", "server_metadata_url": "https://login.example.com/.well-known/openid-configuration"}


def sso_visit(user: dict | None) -> AppTest:
    """A visit with single sign-on configured, as the given OIDC user (None: not signed in)."""
    app = AppTest.from_file(APP, default_timeout=300)
    app.secrets["auth"] = SSO
    app.user.clear()
    app.user.update({"is_logged_in": True, **user} if user else {"is_logged_in": False})
    return app.run()


def test_single_sign_on_admits_only_listed_emails(page_env, monkeypatch):
    monkeypatch.delenv("POLYDESK_ADMIN_PASSWORD_HASH")
    monkeypatch.setenv("POLYDESK_ADMIN_EMAILS", "ana@example.com, li@example.com")
    app = sso_visit(None)
    assert [b.label for b in app.button] == ["Sign in with single sign-on"] and not app.text_input
    app = sso_visit({"email": "mallory@example.com"})
    assert "mallory@example.com, which is not on the admin list" in app.error[0].value and not app.file_uploader
    app = sso_visit({"email": "Li@Example.com"})
    assert not app.exception and app.file_uploader
    assert "Signed in as **Li@Example.com**" in " ".join(c.value for c in app.sidebar.caption)


def test_single_sign_on_without_an_admin_list_is_not_an_admin_configuration(page_env, monkeypatch):
    monkeypatch.delenv("POLYDESK_ADMIN_PASSWORD_HASH")
    app = sso_visit({"email": "ana@example.com"})
    assert "No admin is configured" in app.info[0].value and not app.file_uploader and not app.button


def test_a_base_url_given_with_the_upload_links_every_chunk(page_env):
    app = signed_in()
    app.text_input(key="base-url").input("https://docs.example.com/help")
    app = upload(app, [("webhooks.md", GOOD_MD.encode(), "text/markdown")])
    admin = shared_document_admin(load_settings())
    assert admin.links("webhooks").base_url == "https://docs.example.com/help/"
    chunks = admin.pipeline.store.all_chunks("webhooks")
    assert chunks and all(c.url.startswith("https://docs.example.com/help/webhooks/") for c in chunks)
def test_feedback_review_lists_answers_that_need_a_look(page_env, monkeypatch):
    from core.answers.answer_log import AnswerLog
    from tests.test_feedback import entry, make_answer

    url = f"sqlite:///{page_env / 'polydesk.db'}"
    monkeypatch.setenv("POLYDESK_DATABASE_URL", url)
    log = AnswerLog(url)
    log.record(entry("Combien de temps dure un jeton ?", answer_id="a", language="fr"))
    log.rate("a", -1, "La durée manque.")
    log.record(entry("How do I refresh a token?", answer_id="b"))
    log.record(entry("Can I pay in bitcoin?", make_answer("The documentation does not say."), answer_id="c",
                     origin="zendesk"))
    log.close()
    app = signed_in()
    assert [t.label for t in app.tabs] == ["Upload", "Collections", "Feedback"]
    review = next(d.value for d in app.dataframe if "question" in d.value.columns)
    assert set(review["question"]) == {"Combien de temps dure un jeton ?", "Can I pay in bitcoin?"}
    by_question = review.set_index("question")
    assert by_question.loc["Combien de temps dure un jeton ?", "comment"] == "La durée manque."
    assert by_question.loc["Combien de temps dure un jeton ?", "reasons"] == "rated down"
    assert by_question.loc["Can I pay in bitcoin?", "reasons"] == "not answered from the documents"
    unanswered = by_question.loc["Can I pay in bitcoin?"]
    assert (unanswered["rating"], unanswered["origin"]) == ("", "zendesk"), "an unrated API answer is reviewed"
    assert any("2 answers shown, of the 2 newest" in c.value for c in app.caption)
    assert app.get("download_button")
    app.multiselect(key="review-languages").set_value(["fr"]).run()
    review = next(d.value for d in app.dataframe if "question" in d.value.columns)
    assert list(review["question"]) == ["Combien de temps dure un jeton ?"]
    app.multiselect(key="review-languages").set_value(["en"])
    app.multiselect(key="review-reasons").set_value(["rated down"]).run()
    assert not any("question" in d.value.columns for d in app.dataframe)


def test_the_chunk_browser_reads_arabic_right_to_left(page_env):
    text = ("# الخطافات\n\nيوقّع Parcelio كل خطاف باستخدام `HMAC-SHA256` في الترويسة "
            "`X-Parcelio-Signature`، فتحقّق منها قبل معالجة الحدث.\n")
    app = upload(signed_in(), [("webhooks-ar.md", text.encode(), "text/markdown")])
    assert not app.exception
    rtl = [b for b in blocks(app.main) if "dir-rtl-chunk-" in getattr(b.proto, "id", "")]
    assert rtl and any("`X-Parcelio-Signature`" in m.value for m in rtl[0].markdown), "code spans kept as written"
