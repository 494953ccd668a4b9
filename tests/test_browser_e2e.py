"""End to end in a real browser: an admin uploads documents; an agent asks, follows up, answers a customer's message,
reads an Arabic passage right to left, and uses the Ask page on a phone-sized screen.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright; screenshots go to test-artifacts/e2e/ (or
$POLYDESK_TEST_ARTIFACTS). Skipped where Chromium or Playwright is missing, except under CI, where it fails.
The app runs the tiny random models, the chat model in process: its answers are noise that cites nothing, which is
what the test needs to see an uncited answer's passages, and the follow-up's rewritten query is whatever it wrote.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.admin.auth import hash_password

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 180_000
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
WEBHOOKS = ("# Webhooks\n\n## Signatures\n\nParcelio signs every webhook it sends with HMAC-SHA256. The signature is "
            "in the X-Parcelio-Signature header; compare it with your own HMAC of the raw body.\n")
LIMITS = "Rate limits\n\nEach API key may send 600 requests per minute. A 429 answer carries a Retry-After header.\n"
TOKENS_AR = ("# رموز الوصول\n\nيبقى رمز الوصول صالحا لمدة ساعة واحدة من لحظة إصداره. أرسل الرمز في الترويسة "
             "`Authorization` مع كل طلب، واطلب رمزا جديدا قبل انتهاء صلاحيته.\n")
BASE_URL = "https://docs.parcelio.example/"
ARABIC_QUESTION = "كم مدة صلاحية رمز الوصول؟"
TICKET = ("Hola,\n\nnuestra tienda envía paquetes con Parcelio. ¿Cuánto tiempo dura un token de acceso y cómo "
          "sabemos que un webhook viene de ustedes?\n\nGracias,\nAna")
PHONE = {"width": 390, "height": 844}
# The page's own scrolling elements, and how much wider than their window their content is.
SIDEWAYS = """() => [document.scrollingElement, ...document.querySelectorAll(
  '[data-testid="stAppViewContainer"], [data-testid="stMain"], [data-testid="stMainBlockContainer"]')]
  .filter(e => e && e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.dataset.testid || e.tagName}: ${e.scrollWidth} px of content in ${e.clientWidth} px`)"""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(300)


def artifacts() -> Path:
    """Where the screenshots are kept."""
    folder = Path(os.environ.get("POLYDESK_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "e2e"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_browser() -> None:
    """Skip (fail under CI) when Chromium or Playwright is not installed."""
    missing = [what for what, ok in (("Debian's chromium (apt-get install chromium)", Path(CHROMIUM).exists()),
                                     ("the playwright package", _has_playwright())) if not ok]
    if missing:
        message = f"the browser test needs {' and '.join(missing)}; `make test` installs both"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


def _has_playwright() -> bool:
    """Whether the Python package is importable."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, reranker_dir: Path, embedder_dir: Path,
            chat_model_dir: Path) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on loopback with the tiny models, the chat model in process (short answers)
    and a configured admin."""
    require_browser()
    tmp_path = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = {**os.environ, "POLYDESK_CHROMA_PATH": str(tmp_path / "chroma"),
           "POLYDESK_UPLOADS_PATH": str(tmp_path / "uploads"), "POLYDESK_DATABASE_URL": f"sqlite:///{tmp_path}/fb.db",
           "POLYDESK_RERANKER_MODEL": str(reranker_dir), "POLYDESK_EMBEDDING_MODEL": str(embedder_dir),
           "POLYDESK_DEVICE": "cpu", "POLYDESK_LLM": "auto", "POLYDESK_LLM_URL": "",
           "POLYDESK_LLM_MODEL": str(chat_model_dir), "POLYDESK_LLM_MAX_TOKENS": "24",
           "POLYDESK_ADMIN_PASSWORD_HASH": hash_password(PASSWORD)}
    log = (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, tmp_path / "streamlit.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.copy(tmp_path / "streamlit.log", artifacts() / "streamlit.log")


def wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    """Wait for Streamlit's health endpoint; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within 120 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[object]:
    """One Chromium for the module's tests."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def shots() -> Path:
    """The screenshot folder."""
    return artifacts()


def new_page(browser: object, viewport: dict[str, int]) -> object:
    """A fresh browser session (its own Streamlit session) with the long timeout."""
    page = browser.new_page(viewport=viewport)  # type: ignore[attr-defined]
    page.set_default_timeout(TIMEOUT_MS)
    return page


def ask(page: object, question: str) -> None:
    """Type a question into the Ask page's chat box and send it."""
    box = page.get_by_placeholder("Ask about the documentation, in any language")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")


def direction_of(locator: object) -> str:
    """The computed CSS direction of the first element a locator finds."""
    return locator.first.evaluate("e => getComputedStyle(e).direction")  # type: ignore[attr-defined]


def paragraph_layout(locator: object) -> tuple[str, str]:
    """(direction, text-align) of the first paragraph inside the first element a locator finds."""
    return tuple(locator.first.evaluate(  # type: ignore[attr-defined]
        "e => { const s = getComputedStyle(e.querySelector('p')); return [s.direction, s.textAlign]; }"))


def test_admin_uploads_and_an_agent_works_through_questions_and_a_ticket(app_url: str, browser: object,
                                                                         shots: Path) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, {"width": 1400, "height": 1000})
    try:
        page.goto(f"{app_url}/Documents")  # the server's first visit, straight to a page's address
        # The app's own six pages, not Streamlit's automatic list of every file in pages/:
        expect(page.get_by_test_id("stSidebarNavLink")).to_have_count(6)
        page.get_by_label("User name").fill("admin")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Signed in as")).to_be_visible()
        # Files first: a file chosen while the page reruns for another widget can be lost with the old uploader.
        page.locator("input[type=file]").set_input_files([
            {"name": "webhooks.md", "mimeType": "text/markdown", "buffer": WEBHOOKS.encode()},
            {"name": "limits.txt", "mimeType": "text/plain", "buffer": LIMITS.encode()},
            {"name": "tokens-ar.md", "mimeType": "text/markdown", "buffer": TOKENS_AR.encode()},
            {"name": "diagram.md", "mimeType": "text/markdown", "buffer": PNG},
        ])
        expect(page.get_by_text("diagram.md")).to_be_visible()
        page.get_by_label("New collection name").fill("parcelio")
        page.get_by_label("New collection name").press("Enter")
        base_url = page.get_by_role("textbox", name="Public base URL of these docs (optional)")
        base_url.fill(BASE_URL)
        base_url.press("Enter")
        expect(page.get_by_text("diagram.md")).to_be_visible()
        page.get_by_role("button", name="Ingest", exact=True).click()
        expect(page.get_by_text("4 files, 1 failed")).to_be_visible()
        page.screenshot(path=shots / "1-ingest-report.png", full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download report (CSV)").click()
        rows = {row["source"]: row for row in csv.DictReader(io.StringIO(download.value.path().read_text()))}
        assert {name: row["status"] for name, row in rows.items()} == {
            "diagram.md": "failed", "webhooks.md": "ok", "limits.txt": "ok", "tokens-ar.md": "ok"}
        assert "PNG image" in rows["diagram.md"]["reason"]

        # A generated answer that cites nothing says so and still lists the passages it was given.
        page.goto(app_url)
        first = "How does Parcelio sign webhooks? Which header has the HMAC-SHA256 signature?"
        ask(page, first)
        expect(page.get_by_text("The answer cites no passage").first).to_be_visible()
        passage = page.get_by_text("webhooks.md › Signatures · not cited").first
        expect(passage).to_be_visible()
        passage.click()
        expect(page.get_by_text("X-Parcelio-Signature").first).to_be_visible()
        page.screenshot(path=shots / "2-uncited-answer-with-its-passages.png", full_page=True)

        # A follow-up is searched as the query the LLM rewrote it into, shown (and editable) under the answer.
        follow_up = "and what if the header is missing?"
        ask(page, follow_up)
        searched = page.get_by_label("Searched for")
        expect(searched).to_have_count(2)
        # Neither the follow-up alone nor, as without an LLM, joined to the previous question: the model's query.
        assert searched.nth(1).input_value().strip() not in ("", follow_up, f"{first} {follow_up}")
        page.screenshot(path=shots / "3-follow-up-searched-as-rewritten.png", full_page=True)

        # An Arabic question and its Arabic passage are laid out right to left, their code left to right.
        page.get_by_role("button", name="New conversation").click()
        expect(page.get_by_label("Searched for")).to_have_count(0)
        ask(page, ARABIC_QUESTION)
        question = page.locator('[class*="st-key-dir-rtl-question-"]').filter(has_text=ARABIC_QUESTION)
        expect(question).to_be_visible()
        page.get_by_text("tokens-ar.md ›").first.click()
        arabic = page.locator('[class*="st-key-dir-rtl-passage-"]').filter(has_text="رمز الوصول")
        expect(arabic.first).to_be_visible()
        layouts = {"question": paragraph_layout(question), "passage": paragraph_layout(arabic)}
        assert {name: direction for name, (direction, _) in layouts.items()} == {"question": "rtl", "passage": "rtl"}
        assert direction_of(arabic.locator("code").filter(has_text="Authorization")) == "ltr"
        assert {name: align for name, (_, align) in layouts.items()} == {"question": "right", "passage": "right"}
        page.screenshot(path=shots / "4-arabic-right-to-left.png", full_page=True)

        # A customer's message becomes a reply draft in the customer's language, with the passages' links.
        page.get_by_text("Customer message", exact=True).click()
        page.get_by_label("The customer's message").fill(TICKET)
        page.get_by_role("button", name="Draft a reply").click()
        expect(page.get_by_text("Customer's language: Spanish").first).to_be_visible()
        page.get_by_text("[1] ").first.click()
        expect(page.locator(f'a[href^="{BASE_URL}"]').first).to_be_visible()
        page.screenshot(path=shots / "5-ticket-reply-draft.png", full_page=True)
    except Exception:
        page.screenshot(path=shots / "failure.png", full_page=True)
        raise
    finally:
        page.close()


def test_the_ask_page_fits_a_phone(app_url: str, browser: object, shots: Path) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, PHONE)
    try:
        page.goto(app_url)
        ask(page, "How long is an access token valid, and what does a 429 answer mean?")
        expect(page.get_by_label("Searched for")).to_have_count(1)
        page.get_by_text("[1] ").first.click()
        page.screenshot(path=shots / "6-phone.png", full_page=True)
        assert page.evaluate("() => window.innerWidth") == PHONE["width"]
        assert page.evaluate(SIDEWAYS) == [], "the page scrolls sideways on a phone"
    except Exception:
        page.screenshot(path=shots / "failure-phone.png", full_page=True)
        raise
    finally:
        page.close()
