"""The status page shows each backend, its model and dimension, and loads the models on demand."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.ops.startup import startup
from core.settings import load_settings

APP = str(Path(__file__).resolve().parents[1] / "pages" / "5_Status.py")


def run_app() -> AppTest:
    """Run the page once, as a browser visit would."""
    return AppTest.from_file(APP, default_timeout=120).run()


def test_local_models_load_and_report_their_dimension(monkeypatch, tmp_path, reranker_dir, embedder_dir):
    monkeypatch.setenv("POLYDESK_CHROMA_PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", str(reranker_dir))
    monkeypatch.setenv("POLYDESK_EMBEDDING_MODEL", str(embedder_dir))
    monkeypatch.setenv("POLYDESK_DEVICE", "cpu")
    app = run_app()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["check"])[:2] == ["embedding", "reranker"] and "reranker probe" not in list(table["check"])
    assert list(table["state"])[:2] == ["✅", "✅"] and table["dimension"][0] == 64
    assert "on disk, loads at first use" in list(table["detail"])
    assert startup(load_settings()).wait_sample(300), "the first-start sample ingest runs in the background"
    app.button[0].click().run()
    assert not app.exception and not app.error
    successes = " ".join(s.value for s in app.success)
    assert "returns 64 dimensions" in successes and "scored two passages" in successes
    checks = app.dataframe[0].value.set_index("check")
    assert list(checks.loc[["embedding", "reranker"], "detail"]) == ["loaded", "loaded"]
    probe = checks.loc["reranker probe"]
    assert probe["state"] != "❌" and "relevant passage" in probe["detail"]
    collections = app.dataframe[1].value
    assert list(collections["collection"]) == ["parcelio-sample"] and collections["chunks"][0] > 100
    assert "Ingested the sample documentation" in app.info[0].value


def test_missing_models_and_servers_are_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("POLYDESK_RERANKER_URL", "http://127.0.0.1:9")
    app = run_app()
    assert startup(load_settings()).wait_sample(120), "the first-start sample ingest fails in the background"
    app.run()
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning)
    assert "hf download Qwen/Qwen3-Embedding-0.6B" in warnings and "not reachable" in warnings
    assert "The collections cannot be shown" in warnings and "hf download" in warnings
    app.button[0].click().run()
    assert not app.exception and "hf download Qwen/Qwen3-Embedding-0.6B" in app.error[0].value


def test_invalid_settings_are_shown_not_raised(monkeypatch):
    monkeypatch.setenv("POLYDESK_DEVICE", "tpu")
    app = run_app()
    assert not app.exception and "POLYDESK_DEVICE" in app.error[0].value
