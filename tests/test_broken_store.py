"""A broken store (damaged database, path not a folder, read-only folder): one clear message, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

POLYDESK = str(Path(sys.executable).with_name("polydesk"))
PAGES = Path(__file__).resolve().parents[1] / "pages"
DOC = "# Lumo webhooks\n\nEvery parcel scan sends a webhook; a failed delivery is retried after five minutes.\n"


def corrupted_store(folder: Path) -> Path:
    """A store folder whose chroma.sqlite3 holds bytes that are not a database."""
    folder.mkdir(parents=True)
    (folder / "chroma.sqlite3").write_bytes(b"this is not a sqlite database, just a broken file\n" * 200)
    return folder


def commands(tmp_path: Path) -> list[list[str]]:
    """Every CLI command that touches the store."""
    (tmp_path / "doc.md").write_text(DOC, encoding="utf-8")
    (tmp_path / "queries.json").write_text(json.dumps({"en": "webhook retry", "de": "Webhook Wiederholung"}))
    (tmp_path / "qrels.jsonl").write_text(json.dumps({"query": "webhook retry", "language": "en",
                                                      "relevant": ["doc.md"]}) + "\n")
    return [["collections", "list"], ["collections", "show", "docs"], ["collections", "delete", "docs"],
            ["ingest", str(tmp_path / "doc.md"), "--collection", "docs"],
            ["search", "webhook retry", "--collection", "docs"], ["ask", "webhook retry", "--collection", "docs"],
            ["compare", "--collection", "docs", "--queries", str(tmp_path / "queries.json")],
            ["eval", "--collection", "docs", "--qrels", str(tmp_path / "qrels.jsonl")]]


def run_cli(args: list[str], store: Path, embedder_dir: Path, reranker_dir: Path) -> subprocess.CompletedProcess:
    """One CLI command against the given store folder, on the tiny models, without a language model."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env = {**clean, "POLYDESK_CHROMA_PATH": str(store), "POLYDESK_EMBEDDING_MODEL": str(embedder_dir),
           "POLYDESK_RERANKER_MODEL": str(reranker_dir), "POLYDESK_DEVICE": "cpu", "POLYDESK_LLM": "off"}
    return subprocess.run([POLYDESK, *args], env=env, capture_output=True, text=True, timeout=300)


def assert_one_clear_message(run: subprocess.CompletedProcess, store: Path) -> None:
    """Exit 1, one `error:` line that names the store and what to check, no traceback."""
    assert run.returncode == 1, (run.args, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr
    assert f"The Chroma store at {store} cannot be used" in errors[0] and "check that the folder" in errors[0]


def test_every_command_explains_a_corrupted_database(tmp_path, embedder_dir, reranker_dir):
    store = corrupted_store(tmp_path / "chroma")
    for args in commands(tmp_path):
        assert_one_clear_message(run_cli(args, store, embedder_dir, reranker_dir), store)


def test_a_store_path_that_is_a_file_is_explained(tmp_path, embedder_dir, reranker_dir):
    store = tmp_path / "chroma"
    store.write_text("not a folder")
    for args in commands(tmp_path)[:4]:
        assert_one_clear_message(run_cli(args, store, embedder_dir, reranker_dir), store)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_store_is_explained_when_writing(tmp_path, embedder_dir, reranker_dir):
    store = tmp_path / "chroma"
    ok = run_cli(commands(tmp_path)[3], store, embedder_dir, reranker_dir)
    assert ok.returncode == 0, ok.stderr
    for path in [store, *store.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        (tmp_path / "doc.md").write_text(DOC + "\nA second paragraph about retries.\n", encoding="utf-8")
        assert_one_clear_message(run_cli(commands(tmp_path)[3], store, embedder_dir, reranker_dir), store)
    finally:
        for path in [store, *store.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def page_env(monkeypatch: pytest.MonkeyPatch, store: Path, embedder_dir: Path, reranker_dir: Path) -> None:
    """The app's settings: the broken store, the tiny models, no language model."""
    for name, value in {"POLYDESK_CHROMA_PATH": str(store), "POLYDESK_EMBEDDING_MODEL": str(embedder_dir),
                        "POLYDESK_RERANKER_MODEL": str(reranker_dir), "POLYDESK_DEVICE": "cpu",
                        "POLYDESK_LLM": "off"}.items():
        monkeypatch.setenv(name, value)


def test_status_page_reports_a_corrupted_store(monkeypatch, tmp_path, embedder_dir, reranker_dir):
    store = corrupted_store(tmp_path / "chroma")
    page_env(monkeypatch, store, embedder_dir, reranker_dir)
    app = AppTest.from_file(str(PAGES / "5_Status.py"), default_timeout=120).run()
    assert not app.exception, app.exception
    shown = " ".join(e.value for e in [*app.warning, *app.error])
    assert f"The Chroma store at {store} cannot be used" in shown


def test_ask_page_shows_an_error_for_a_corrupted_store(monkeypatch, tmp_path, embedder_dir, reranker_dir):
    store = corrupted_store(tmp_path / "chroma")
    page_env(monkeypatch, store, embedder_dir, reranker_dir)
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120).run()
    assert not app.exception, app.exception
    if app.chat_input:
        app.chat_input[0].set_value("webhook retry").run()
        assert not app.exception, app.exception
    shown = " ".join(e.value for e in [*app.warning, *app.error])
    assert f"The Chroma store at {store} cannot be used" in shown
