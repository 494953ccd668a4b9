"""End to end in a real browser: an admin uploads documents, an agent asks and sees a citation to one of them.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright; screenshots go to test-artifacts/e2e/ (or
$POLYDESK_TEST_ARTIFACTS). Skipped where Chromium or Playwright is missing, except under CI, where it fails.
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


@pytest.fixture
def app_url(tmp_path: Path, reranker_dir: Path, embedder_dir: Path) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on loopback with the tiny models and a configured admin."""
    require_browser()
    port = free_port()
    env = {**os.environ, "POLYDESK_CHROMA_PATH": str(tmp_path / "chroma"),
           "POLYDESK_UPLOADS_PATH": str(tmp_path / "uploads"), "POLYDESK_DATABASE_URL": f"sqlite:///{tmp_path}/fb.db",
           "POLYDESK_RERANKER_MODEL": str(reranker_dir), "POLYDESK_EMBEDDING_MODEL": str(embedder_dir),
           "POLYDESK_DEVICE": "cpu", "POLYDESK_LLM": "off", "POLYDESK_ADMIN_PASSWORD_HASH": hash_password(PASSWORD)}
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


def test_admin_uploads_and_an_agent_gets_a_citation(app_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = artifacts()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        try:
            page.goto(f"{app_url}/Documents")
            page.get_by_label("User name").fill("admin")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("New collection name").fill("webhooks")
            page.get_by_label("New collection name").press("Enter")
            page.locator("input[type=file]").set_input_files([
                {"name": "webhooks.md", "mimeType": "text/markdown", "buffer": WEBHOOKS.encode()},
                {"name": "limits.txt", "mimeType": "text/plain", "buffer": LIMITS.encode()},
                {"name": "diagram.md", "mimeType": "text/markdown", "buffer": PNG},
            ])
            expect(page.get_by_text("diagram.md")).to_be_visible()
            page.get_by_role("button", name="Ingest", exact=True).click()
            expect(page.get_by_text("3 files, 1 failed")).to_be_visible()
            page.screenshot(path=shots / "1-ingest-report.png", full_page=True)
            with page.expect_download() as download:
                page.get_by_role("button", name="Download report (CSV)").click()
            rows = {row["source"]: row for row in csv.DictReader(io.StringIO(download.value.path().read_text()))}
            assert {name: row["status"] for name, row in rows.items()} == {
                "diagram.md": "failed", "webhooks.md": "ok", "limits.txt": "ok"}
            assert "PNG image" in rows["diagram.md"]["reason"]

            page.goto(app_url)
            question = page.get_by_placeholder("Ask about the documentation, in any language")
            question.fill("How does Parcelio sign webhooks? Which header has the HMAC-SHA256 signature?")
            question.press("Enter")
            citation = page.get_by_text("webhooks.md ›").first
            expect(citation).to_be_visible()
            citation.click()
            expect(page.get_by_text("X-Parcelio-Signature").first).to_be_visible()
            page.screenshot(path=shots / "2-answer-with-citation.png", full_page=True)
        except Exception:
            page.screenshot(path=shots / "failure.png", full_page=True)
            raise
        finally:
            browser.close()
