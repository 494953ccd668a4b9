"""The HTTP API on a real uvicorn server on loopback, with tiny models and a real Chroma store."""

from __future__ import annotations

import io
import time
import zipfile

import httpx
import pytest

from core.answers.answer_log import AnswerLog
from core.answers.feedback_review import RATED_DOWN, review
from core.ops.api.app import create_app
from core.ops.api.keys import KeyStore
from core.pipeline import Pipeline
from tests.api_support import serve_app, sse_events
from tests.conftest import SAMPLE, tiny_settings
from tests.fake_servers import refused_url


@pytest.fixture(scope="module")
def api(tmp_path_factory, reranker_dir, embedder_dir):
    """A server over the English and Spanish sample docs, LLM off, with an ask key and an admin key."""
    root = tmp_path_factory.mktemp("api")
    database = f"sqlite:///{root / 'polydesk.db'}"
    settings = tiny_settings(reranker_dir, embedder_dir, root / "chroma", llm="off", database_url=database,
                             uploads_path=root / "uploads", upload_max_total_mb=0.2)
    pipeline = Pipeline(settings)
    report = pipeline.ingest([SAMPLE / "en", SAMPLE / "es"], "parcelio")
    assert not report.failed, report.failed
    keys = KeyStore(database)
    ask, admin = keys.create("zendesk", "ask"), keys.create("ops", "admin")
    app = create_app(pipeline)
    with serve_app(app) as url:
        yield {"url": url, "ask": ask, "admin": admin, "database": database, "app": app}


@pytest.fixture(scope="module")
def bare(tmp_path_factory, reranker_dir, embedder_dir):
    """A server with no keys yet, a reranker server that is down, 2 requests a minute and CORS for one origin."""
    root = tmp_path_factory.mktemp("bare")
    settings = tiny_settings(reranker_dir, embedder_dir, root / "chroma", llm="off",
                             database_url=f"sqlite:///{root / 'polydesk.db'}", reranker_url=refused_url(),
                             api_rate_per_minute=2, api_cors_origins="https://desk.example")
    pipeline = Pipeline(settings)
    assert not pipeline.ingest([SAMPLE / "en" / "authentication.md"], "auth").failed
    with serve_app(create_app(pipeline)) as url:
        yield {"url": url, "database": settings.database_url}


def call(api: dict, method: str, path: str, key: str | None = "ask", **kwargs) -> httpx.Response:
    """One request with the named key of the fixture (or a literal key, or none)."""
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {api.get(key, key)}"
    return httpx.request(method, api["url"] + path, headers=headers, timeout=120, **kwargs)


def assert_error(response: httpx.Response, status: int, words: str) -> None:
    """A JSON error body with a code and a message containing `words`."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and words in error["message"], error
    assert "Traceback" not in response.text


def test_health_needs_no_key_and_ready_runs_the_doctor(api, bare):
    assert call(api, "GET", "/api/v1/health", key=None).json() == {"status": "ok"}
    ready = call(api, "GET", "/api/v1/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ok"] is True
    bare_key = KeyStore(bare["database"]).create("probe", "ask")
    failing = call(bare, "GET", "/api/v1/ready", key=bare_key)
    assert failing.status_code == 503
    assert any(c["state"] == "fail" for c in failing.json()["checks"])


def test_keys_missing_unknown_and_wrong_scope(api, tmp_path_factory, reranker_dir, embedder_dir):
    root = tmp_path_factory.mktemp("nokeys")
    settings = tiny_settings(reranker_dir, embedder_dir, root / "chroma", llm="off",
                             database_url=f"sqlite:///{root / 'db.sqlite'}")
    with serve_app(create_app(Pipeline(settings))) as url:
        assert_error(httpx.get(url + "/api/v1/collections"), 401, "polydesk api-key create")
    assert_error(call(api, "GET", "/api/v1/collections", key=None), 401, "Authorization: Bearer")
    assert_error(call(api, "GET", "/api/v1/collections", key="pd_not-a-key"), 401, "Unknown or revoked")
    assert_error(call(api, "DELETE", "/api/v1/collections/parcelio"), 403, "--scope admin")


def test_keys_created_and_revoked_through_the_cli(api, monkeypatch, capsys):
    from core.ops.cli import main

    monkeypatch.setenv("POLYDESK_DATABASE_URL", api["database"])
    assert main(["api-key", "create", "--name", "chatwoot", "--scope", "ask"]) == 0
    key = capsys.readouterr().out.strip()
    assert call(api, "GET", "/api/v1/collections", key=key).status_code == 200
    assert main(["api-key", "list"]) == 0
    listed = capsys.readouterr().out
    assert "chatwoot" in listed and key not in listed
    assert main(["api-key", "revoke", "chatwoot"]) == 0
    assert_error(call(api, "GET", "/api/v1/collections", key=key), 401, "Unknown or revoked")


def test_rate_limit_answers_429_with_retry_after(bare):
    key = KeyStore(bare["database"]).create("burst", "ask")
    assert [call(bare, "GET", "/api/v1/collections", key=key).status_code for _ in range(2)] == [200, 200]
    limited = call(bare, "GET", "/api/v1/collections", key=key)
    assert_error(limited, 429, "POLYDESK_API_RATE_PER_MINUTE")
    assert int(limited.headers["Retry-After"]) >= 1


def test_cors_is_closed_unless_configured(api, bare):
    preflight = {"Origin": "https://desk.example", "Access-Control-Request-Method": "POST"}
    closed = httpx.options(api["url"] + "/api/v1/answers", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    opened = httpx.options(bare["url"] + "/api/v1/answers", headers=preflight)
    assert opened.headers["access-control-allow-origin"] == "https://desk.example"


def test_collections_list_documents_chunks_and_languages(api):
    listed = call(api, "GET", "/api/v1/collections").json()["collections"]
    parcelio = next(c for c in listed if c["name"] == "parcelio")
    assert parcelio["documents"] >= 2 and parcelio["chunks"] > 0
    assert {"en", "es"} <= set(parcelio["languages"])


def test_answer_with_citations_passages_and_its_log(api):
    response = call(api, "POST", "/api/v1/answers", json={"question": "How do I refresh an access token?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "extractive" and body["answer"]
    assert body["search_query"] and body["passages"] and body["citations"]
    assert {"marker", "text", "source", "section", "url", "language", "collection", "score"} <= set(
        body["citations"][0])
    assert "total" in body["timings_ms"]
    logged = api["app"].state.pipeline.answer_log.get(body["answer_id"])
    assert (logged.origin, logged.kind, logged.question) == ("zendesk", "answer", "How do I refresh an access token?")
    assert logged.search_query == body["search_query"] and logged.rating is None
    assert [p.url for p in logged.passages] == [p["url"] for p in body["passages"]]
    assert [p.rerank_score for p in logged.passages] == [p["score"] for p in body["passages"]]


def test_answer_streams_tokens_then_done(api):
    with httpx.stream("POST", api["url"] + "/api/v1/answers", timeout=120,
                      headers={"Authorization": f"Bearer {api['ask']}"},
                      json={"question": "¿Cómo rastreo un envío?", "collections": ["parcelio"], "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    names = [name for name, _ in events]
    assert names[0] == "token" and names[-1] == "done" and set(names) == {"token", "done"}
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "token").strip() == done["answer"]


def test_feedback_second_rating_replaces_the_first(api):
    answer_id = call(api, "POST", "/api/v1/answers", json={"question": "What does error 429 mean?"}).json()[
        "answer_id"]
    assert call(api, "POST", "/api/v1/feedback", json={"answer_id": answer_id, "rating": 1}).status_code == 200
    second = call(api, "POST", "/api/v1/feedback",
                  json={"answer_id": answer_id, "rating": -1, "comment": "falta el límite"})
    assert second.status_code == 200
    documents_page = AnswerLog(api["database"])  # a reader of its own, as the Documents page is
    reviewed = documents_page.needing_review(0.0, 1000)
    documents_page.close()
    mine = [row.entry for row in review(reviewed, reasons=[RATED_DOWN]) if row.entry.answer_id == answer_id]
    assert [(e.rating, e.comment) for e in mine] == [(-1, "falta el límite")]
    assert_error(call(api, "POST", "/api/v1/feedback", json={"answer_id": "nope", "rating": 1}), 404, "nope")
    assert_error(call(api, "POST", "/api/v1/feedback", json={"answer_id": answer_id, "rating": 5}), 422, "rating")


def test_replies_and_chat_answers_are_logged_with_their_kind_and_key(api):
    body = call(api, "POST", "/api/v1/replies", json={"message": "Hello, how do I track a parcel?",
                                                      "collections": ["parcelio"]}).json()
    logged = api["app"].state.pipeline.answer_log.get(body["answer_id"])
    assert (logged.kind, logged.origin, logged.answer_text) == ("reply", "zendesk", body["draft"])
    with_passages = call(api, "POST", "/v1/chat/completions",
                         json={"model": "parcelio", "messages": [{"role": "user", "content": "Webhook retries?"}]})
    chat = api["app"].state.pipeline.answer_log.get(with_passages.json()["answer_id"])
    assert chat.kind == "chat" and chat.answered and chat.passages


def test_bad_requests_are_json_errors_naming_the_field(api):
    assert_error(call(api, "POST", "/api/v1/answers", content=b"{not json",
                      headers={"Content-Type": "application/json"}), 422, "Invalid request")
    assert_error(call(api, "POST", "/api/v1/answers", json={"collections": ["parcelio"]}), 422, "question")
    assert_error(call(api, "POST", "/api/v1/answers", json={"question": "   "}), 422, "question")
    assert_error(call(api, "POST", "/api/v1/answers", json={"question": "x" * 4001}), 413, "4,000")
    assert_error(call(api, "POST", "/api/v1/answers", json={"question": "y" * 1_100_000}), 413, "1 MB")
    assert_error(call(api, "POST", "/api/v1/answers", json={"question": "hi", "collections": ["nope"]}), 404, "nope")
    assert_error(call(api, "GET", "/api/v1/nowhere"), 404, "/api/docs")


def test_search_returns_scores_per_stage(api):
    body = call(api, "POST", "/api/v1/search", json={"query": "webhook signature", "top_n": 2}).json()
    assert len(body["results"]) == 2
    assert set(body["results"][0]["scores"]) == {"dense", "lexical", "fused", "rerank"}
    assert body["results"][0]["ranks"]["rerank"] == 1


def test_admin_upload_job_report_and_deletions(api):
    guide = "# Etiquetas\n\nUna etiqueta de envío se crea con POST /v1/labels y caduca a los 30 días.\n".encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("labels.md", "# Labels\n\nA shipping label is created with POST /v1/labels.\n")
    files = [("files", ("etiquetas.md", guide, "text/markdown")),
             ("files", ("more.zip", archive.getvalue(), "application/zip"))]
    started = call(api, "POST", "/api/v1/collections/desk-test/documents", key="admin", files=files)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    deadline = time.monotonic() + 300
    while (job := call(api, "GET", f"/api/v1/jobs/{job_id}", key="admin").json())["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert sorted(f["source"] for f in job["report"]["files"]) == ["etiquetas.md", "labels.md"]
    removed = call(api, "DELETE", "/api/v1/collections/desk-test/documents/etiquetas.md", key="admin")
    assert removed.status_code == 200 and removed.json()["removed_chunks"] >= 1
    assert_error(call(api, "DELETE", "/api/v1/collections/desk-test/documents/etiquetas.md", key="admin"), 404,
                 "etiquetas.md")
    assert call(api, "DELETE", "/api/v1/collections/desk-test", key="admin").status_code == 200
    assert_error(call(api, "GET", "/api/v1/jobs/unknown", key="admin"), 404, "unknown")


def test_upload_over_the_limit_is_413(api):
    big = [("files", ("big.md", b"# Big\n\n" + b"word " * 50_000, "text/markdown"))]
    assert_error(call(api, "POST", "/api/v1/collections/desk-test/documents", key="admin", files=big), 413,
                 "POLYDESK_UPLOAD_MAX_TOTAL_MB")


def test_reranker_down_still_answers_200_with_a_warning(bare):
    key = KeyStore(bare["database"]).create("degraded", "ask")
    response = call(bare, "POST", "/api/v1/answers", key=key, json={"question": "How do I refresh a token?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] and body["citations"]
    assert any("rerank" in warning.lower() for warning in body["warnings"]), body["warnings"]
