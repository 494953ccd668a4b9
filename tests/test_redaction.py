"""Credentials inside configured URLs never reach a message, the doctor, the CLI or a page."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import BackendUnavailable
from core.knowledge.store import ChromaStore
from core.models.chat.http import OpenAIChatGenerator
from core.models.embed.http import OpenAICompatEmbedder
from core.models.rerank.http import VLLMReranker
from core.ops.doctor import diagnose
from core.settings import load_settings, redact_credentials
from tests.conftest import ROOT, tiny_settings
from tests.fake_servers import refused_url
from tests.test_cli import polydesk

SECRET = "hunter2-secret"


def with_credentials(url: str) -> str:
    """The URL with a user and password in it, as an operator might configure a protected server."""
    return url.replace("http://", f"http://desk:{SECRET}@")


@pytest.mark.parametrize(("text", "expected"), [
    ("http://desk:pw@host:8000/v1", "http://***@host:8000/v1"),
    ("at https://token@api.example/x and http://a:b@c", "at https://***@api.example/x and http://***@c"),
    ("http://host:8000/path?x=a@b", "http://host:8000/path?x=a@b"),
    ("no url here: a@b", "no url here: a@b"),
])
def test_redact_credentials(text, expected):
    assert redact_credentials(text) == expected


def test_backend_errors_do_not_show_credentials(tmp_path):
    urls = {f"{role}_url": with_credentials(refused_url()) for role in ("reranker", "embedding", "llm", "chroma")}
    settings = load_settings(**urls, http_retries=0, reranker_model="r", embedding_model="e", llm_model="m")
    calls = [lambda: VLLMReranker.from_settings(settings).rerank("q", ["d"]),
             lambda: OpenAICompatEmbedder.from_settings(settings).embed_query("q"),
             lambda: list(OpenAIChatGenerator.from_settings(settings).stream([{"role": "user", "content": "q"}])),
             lambda: ChromaStore.from_settings(settings).collections()]
    for call in calls:
        with pytest.raises(BackendUnavailable) as info:
            call()
        assert SECRET not in str(info.value) and "***@127.0.0.1" in str(info.value)


def test_doctor_does_not_show_credentials(tmp_path, reranker_dir, embedder_dir):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", http_retries=0, llm="off",
                             reranker_url=with_credentials(refused_url()), chroma_url=with_credentials(refused_url()),
                             database_url=f"sqlite:///{tmp_path / 'feedback.db'}")
    shown = json.dumps(diagnose(settings).to_dict())
    assert SECRET not in shown and "***@127.0.0.1" in shown
    done = polydesk("doctor", POLYDESK_RERANKER_URL=with_credentials(refused_url()), POLYDESK_HTTP_RETRIES="0",
                    POLYDESK_EMBEDDING_MODEL=str(embedder_dir), POLYDESK_CHROMA_PATH=str(tmp_path / "chroma"),
                    POLYDESK_DATABASE_URL=f"sqlite:///{tmp_path / 'feedback.db'}", POLYDESK_LLM="off")
    assert done.returncode == 1 and SECRET not in done.stdout + done.stderr and "***@127.0.0.1" in done.stdout


def test_playground_does_not_show_credentials(monkeypatch, reranker_dir):
    monkeypatch.setenv("POLYDESK_RERANKER_MODEL", str(reranker_dir))
    monkeypatch.setenv("POLYDESK_DEVICE", "cpu")
    monkeypatch.setenv("POLYDESK_HTTP_RETRIES", "0")
    monkeypatch.setenv("POLYDESK_RERANKER_URL", with_credentials(refused_url()))
    app = AppTest.from_file(str(ROOT / "pages" / "3_Rerank_playground.py"), default_timeout=120).run()
    app.text_area[0].input("Renew the token with POST /v1/token.\n\nDie Seitennummer steht im Cursor.")
    app.radio[0].set_value("vLLM").run()
    next(b for b in app.button if b.label == "Rerank").click().run()
    shown = [c.value for c in app.caption] + [w.value for w in app.warning] + [e.value for e in app.error]
    assert not app.exception and any("***@127.0.0.1" in text for text in shown)
    assert not any(SECRET in text for text in shown)
