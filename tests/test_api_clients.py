"""Clients of the HTTP API on a real loopback server: the OpenAI SDK, conversations, ticket replies, the webhook."""

from __future__ import annotations

import httpx
import pytest
from openai import AuthenticationError, NotFoundError, OpenAI

from core.ops.api.app import create_app
from core.ops.api.keys import KeyStore
from core.ops.api.webhook import create_webhook_app
from core.pipeline import Pipeline
from tests.api_support import serve_app, sse_events
from tests.conftest import SAMPLE, tiny_settings
from tests.fake_servers import serve


@pytest.fixture(scope="module")
def api(tmp_path_factory, reranker_dir, embedder_dir):
    """A server over the Japanese and Arabic sample docs, LLM off, with an ask key."""
    root = tmp_path_factory.mktemp("clients")
    settings = tiny_settings(reranker_dir, embedder_dir, root / "chroma", llm="off",
                             database_url=f"sqlite:///{root / 'polydesk.db'}")
    pipeline = Pipeline(settings)
    assert not pipeline.ingest([SAMPLE / "ja", SAMPLE / "ar"], "parcelio").failed
    key = KeyStore(settings.database_url).create("open-webui", "ask")
    app = create_app(pipeline)
    with serve_app(app) as url:
        yield {"url": url, "key": key, "app": app}


def test_openai_sdk_lists_models_and_chats(api):
    client = OpenAI(base_url=api["url"] + "/v1", api_key=api["key"])
    assert [model.id for model in client.models.list()] == ["polydesk", "parcelio"]
    completion = client.chat.completions.create(
        model="parcelio", messages=[{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "アクセストークンを更新するには？"}])
    text = completion.choices[0].message.content
    extra = completion.model_extra
    assert extra["citations"] and "[1]" in text and "Sources:" in text
    logged = api["app"].state.pipeline.answer_log.get(extra["answer_id"])
    assert logged.origin == "open-webui" and logged.kind == "chat"


def test_openai_sdk_streams_and_ends_with_citations(api):
    client = OpenAI(base_url=api["url"] + "/v1", api_key=api["key"])
    chunks = list(client.chat.completions.create(
        model="polydesk", stream=True, messages=[{"role": "user", "content": "كيف أتتبع الشحنة؟"}]))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text.strip() and chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"]


def test_openai_sdk_sees_json_errors(api):
    client = OpenAI(base_url=api["url"] + "/v1", api_key="pd_wrong", max_retries=0)
    with pytest.raises(AuthenticationError, match="Unknown or revoked"):
        client.models.list()
    good = OpenAI(base_url=api["url"] + "/v1", api_key=api["key"], max_retries=0)
    with pytest.raises(NotFoundError, match="Unknown model 'nope'"):
        good.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])


def test_conversation_is_passed_to_the_pipeline(api):
    body = {"question": "有効期限は？", "conversation": [
        {"role": "user", "content": "アクセストークンを更新するには？"},
        {"role": "assistant", "content": "POST /v1/token/refresh を使います。"}]}
    answer = httpx.post(api["url"] + "/api/v1/answers", json=body, timeout=120,
                        headers={"Authorization": f"Bearer {api['key']}"}).json()
    assert answer["search_query"] != "有効期限は？"


def test_webhook_writes_the_draft_back_as_a_private_note(api):
    with serve(lambda body: (201, b'{"id": 7}')) as (helpdesk, notes):
        receiver = create_webhook_app(api["url"], api["key"], helpdesk, "hd-token", "s3cret")
        with serve_app(receiver) as hook:
            event = {"event": "ticket.created", "ticket": {"id": 42, "description":
                     "こんにちは。アクセストークンの有効期限はどれくらいですか？ 更新方法も教えてください。"}}
            assert httpx.post(hook + "/webhook", json=event).status_code == 401
            done = httpx.post(hook + "/webhook", json=event, headers={"X-Webhook-Secret": "s3cret"}, timeout=120)
    assert done.status_code == 200, done.text
    assert notes[0]["path"] == "/api/tickets/42/notes" and notes[0]["private"] is True
    assert notes[0]["body"].strip()
    assert done.json()["language"] == "ja"


def test_polydesk_api_command_serves_on_the_given_port(tmp_path, reranker_dir, embedder_dir):
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
           "POLYDESK_DEVICE": "cpu", "POLYDESK_LLM": "off", "POLYDESK_CHROMA_PATH": str(tmp_path / "chroma"),
           "POLYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    server = subprocess.Popen([sys.executable, "-m", "core.ops.cli", "api", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "polydesk api did not start"
                time.sleep(0.5)
        assert health.json() == {"status": "ok"}
        assert "/api/v1/answers" in httpx.get(f"http://127.0.0.1:{port}/api/openapi.json").json()["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/docs").status_code == 200
    finally:
        server.terminate()
        server.wait(30)
    assert "no API key exists yet" in server.stderr.read()


def test_a_crash_is_a_json_500_without_a_stack_frame(api):
    def broken() -> dict:
        raise RuntimeError("secret internal detail at /srv/polydesk/core/x.py line 12")

    api["app"].add_api_route("/api/v1/broken-for-test", broken)
    response = httpx.get(api["url"] + "/api/v1/broken-for-test")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


def test_generated_answer_streams_token_by_token(tmp_path, reranker_dir, embedder_dir, chat_model_dir, tokenizer_kind):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", llm_model=str(chat_model_dir),
                             llm_max_tokens=8, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    pipeline = Pipeline(settings)
    assert not pipeline.ingest([SAMPLE / "en" / "authentication.md"], "auth").failed
    key = KeyStore(settings.database_url).create("stream", "ask")
    with serve_app(create_app(pipeline)) as url, httpx.stream(
            "POST", url + "/api/v1/answers", headers={"Authorization": f"Bearer {key}"}, timeout=300,
            json={"question": "How do I refresh an access token?", "stream": True}) as response:
        events = sse_events(response)
    tokens = [data["text"] for name, data in events if name == "token"]
    done = events[-1]
    assert done[0] == "done" and done[1]["mode"] == "generated", done
    # The streamer holds back half characters, which the small stand-in tokenizer (no ../shared) makes many of.
    assert len(tokens) >= (2 if tokenizer_kind == "qwen3-tokenizer" else 1) and done[1]["model"] == str(chat_model_dir)
