"""The admin desk: every write needs a live admin session; uploads are kept for re-ingest; one ingest per collection."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.admin.auth import AdminSession, NotAuthorized, new_session
from core.admin.documents import DocumentAdmin
from core.errors import BadFile, PolydeskError
from core.knowledge.ingest.run import IngestReport
from core.pipeline import Pipeline
from tests.conftest import tiny_settings

GUIDE = "# Webhooks\n\nParcelio signs every webhook with HMAC-SHA256 in the X-Parcelio-Signature header.\n"
LIMITS = "Rate limits\n\nEach API key may send 600 requests per minute; a 429 answer carries Retry-After.\n"


@pytest.fixture
def desk(tmp_path: Path, reranker_dir: Path, embedder_dir: Path) -> DocumentAdmin:
    """An admin desk on the tiny models with a store and upload folder of the test's own."""
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", uploads_path=tmp_path / "uploads")
    return DocumentAdmin(Pipeline(settings))


@pytest.fixture
def admin() -> AdminSession:
    """A live admin session."""
    return new_session("admin", "password", 30, time.monotonic())


def ingest(desk: DocumentAdmin, admin: AdminSession, files: dict[str, str], collection: str = "docs") -> IngestReport:
    """Upload files and wait for their ingest."""
    job = desk.upload(admin, collection, [(name, text.encode()) for name, text in files.items()])
    assert job.wait(300) and not job.error, job.error
    return job.report


def test_every_write_refuses_without_a_live_session(desk, admin):
    ingest(desk, admin, {"webhooks.md": GUIDE})
    expired = AdminSession("admin", "password", time.monotonic() - 100, time.monotonic() - 1)
    writes = [
        lambda s: desk.upload(s, "docs", [("limits.txt", LIMITS.encode())]),
        lambda s: desk.reingest(s, "docs"),
        lambda s: desk.remove_document(s, "docs", "webhooks.md"),
        lambda s: desk.delete_collection(s, "docs"),
        lambda s: desk.update_collection(s, "docs", description="changed", rerank_instruction="changed"),
    ]
    for session in (None, expired, {"user": "admin"}):
        for write in writes:
            with pytest.raises(NotAuthorized):
                write(session)
    info = desk.pipeline.store.info("docs")
    assert desk.pipeline.store.sources("docs") == {"webhooks.md": 1} and info.description == ""
    assert desk.jobs.recent()[0].report.files[0].source == "webhooks.md" and len(desk.jobs.recent()) == 1


def test_uploads_are_kept_and_a_newer_upload_replaces_the_older(desk, admin, tmp_path):
    ingest(desk, admin, {"webhooks.md": GUIDE})
    report = ingest(desk, admin, {"webhooks.md": GUIDE.replace("HMAC-SHA256", "Ed25519")})
    assert [(f.source, f.status) for f in report.files] == [("webhooks.md", "ok")]
    kept = tmp_path / "uploads" / "docs" / "files" / "webhooks.md"
    assert "Ed25519" in kept.read_text()
    assert ["Ed25519" in c.text for c in desk.document_chunks("docs", "webhooks.md")] == [True]


def test_reingest_uses_the_kept_files_and_skips_unchanged_ones(desk, admin):
    ingest(desk, admin, {"webhooks.md": GUIDE, "limits.txt": LIMITS})
    job = desk.reingest(admin, "docs")
    assert job.wait(300) and not job.error
    assert sorted((f.source, f.status) for f in job.report.files) == [("limits.txt", "unchanged"),
                                                                      ("webhooks.md", "unchanged")]


def test_reingest_of_a_collection_filled_from_the_command_line_explains(desk, admin, tmp_path):
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "guide.md").write_text(GUIDE)
    desk.pipeline.ingest([tmp_path / "cli"], "cli-docs")
    with pytest.raises(PolydeskError, match="polydesk ingest PATH --collection cli-docs"):
        desk.reingest(admin, "cli-docs")


def test_remove_document_and_delete_collection(desk, admin, tmp_path):
    ingest(desk, admin, {"webhooks.md": GUIDE, "limits.txt": LIMITS})
    assert desk.remove_document(admin, "docs", "limits.txt") == 1
    assert desk.pipeline.store.sources("docs") == {"webhooks.md": 1}
    assert not (tmp_path / "uploads" / "docs" / "files" / "limits.txt").exists()
    overview = desk.overview("docs")
    assert overview.sources == {"webhooks.md": 1} and overview.languages == {"en": 1} and overview.reingestable
    desk.delete_collection(admin, "docs")
    assert desk.pipeline.store.collections() == [] and not (tmp_path / "uploads" / "docs").exists()


def test_collection_settings_are_saved(desk, admin):
    ingest(desk, admin, {"webhooks.md": GUIDE})
    info = desk.update_collection(admin, "docs", description=" Parcelio webhooks ",
                                  rerank_instruction="Given a support question, find the API passage that answers it")
    assert info.description == "Parcelio webhooks" and info.rerank_instruction.startswith("Given a support question")
    assert desk.pipeline.store.info("docs") == info


def test_a_second_write_waits_for_the_running_ingest(desk, admin, monkeypatch):
    release = threading.Event()
    original = desk.pipeline.ingest

    def slow_ingest(*args, **kwargs):
        release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(desk.pipeline, "ingest", slow_ingest)
    job = desk.upload(admin, "docs", [("webhooks.md", GUIDE.encode())])
    try:
        assert job.running
        with pytest.raises(PolydeskError, match="still writing to docs"):
            desk.upload(admin, "docs", [("limits.txt", LIMITS.encode())])
        with pytest.raises(PolydeskError, match="still writing to docs"):
            desk.delete_collection(admin, "docs")
    finally:
        release.set()
    assert job.wait(300) and [f.status for f in job.report.files] == ["ok"]


def test_batch_over_the_limits_is_refused_before_anything_is_written(desk, admin, tmp_path):
    files = [(f"page-{i}.md", GUIDE.encode()) for i in range(desk.limits.max_files + 1)]
    with pytest.raises(BadFile, match="over the limit"):
        desk.upload(admin, "docs", files)
    assert not [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]
    assert desk.pipeline.store.collections() == []


def test_invalid_collection_name_is_refused(desk, admin):
    with pytest.raises(PolydeskError, match="not a valid collection name"):
        desk.upload(admin, "../etc", [("webhooks.md", GUIDE.encode())])


def deep_files() -> dict[str, str]:
    """One file of each kind nested hundreds to thousands of levels deep (HTML, JSON, an OpenAPI schema, front
    matter)."""
    schema = '{"type": "string"}'
    for _ in range(400):  # 800 JSON levels: readable, but far deeper than any schema writer should walk
        schema = '{"type": "object", "properties": {"kind": ' + schema + "}}"
    spec = ('{"openapi": "3.0.3", "info": {"title": "Tiefe", "version": "1"}, "paths": {"/x": {"get": '
            '{"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": '
            + schema + "}}}}}}}}")
    return {
        "deep.html": "<html><body>" + "<div>" * 2000 + "text" + "</div>" * 2000 + "</body></html>",
        "deep.json": '{"openapi": "3.0.3", "x": ' + "[" * 3000 + "]" * 3000 + "}",
        "schema.json": spec,
        "front.md": "---\nmeta: " + "[" * 3000 + "]" * 3000 + "\n---\n# Tief\n\nEin Absatz über Pakete.\n",
    }


def test_deeply_nested_uploads_fail_alone_and_keep_what_was_stored(desk, admin, tmp_path):
    ingest(desk, admin, {"deep.json": '{"openapi": "3.0.3", "info": {"title": "Flach", "version": "1"}, "paths": '
                                      '{"/pakete": {"get": {"summary": "Pakete auflisten", "responses": {}}}}}'})
    report = ingest(desk, admin, {**deep_files(), "webhooks.md": GUIDE})
    outcomes = {f.source: (f.status, f.reason) for f in report.files}
    assert outcomes["webhooks.md"][0] == "ok"
    assert outcomes["schema.json"][0] == "ok"  # the schema writer stops at its depth limit
    assert "nested too deeply" in outcomes["deep.html"][1] and "nested too deeply" in outcomes["deep.json"][1]
    assert "front matter" in outcomes["front.md"][1] and "nesting depth" in outcomes["front.md"][1]
    assert {name for name, (status, _) in outcomes.items() if status == "failed"} == {"deep.html", "deep.json",
                                                                                       "front.md"}
    assert "Pakete auflisten" in desk.document_chunks("docs", "deep.json")[0].text
    assert "Flach" in (tmp_path / "uploads" / "docs" / "files" / "deep.json").read_text()


def test_the_unpacked_size_of_an_upload_is_capped_by_a_setting(tmp_path, reranker_dir, embedder_dir):
    import io
    import zipfile

    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", uploads_path=tmp_path / "uploads",
                             upload_max_unpacked_mb=0.002)
    desk = DocumentAdmin(Pipeline(settings))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("de/versand.md", "# Versand\n\n" + "Pakete werden täglich abgeholt. " * 50)
        out.writestr("ja/発送.md", "# 発送\n\n" + "荷物は毎日集荷されます。" * 50)
    job = desk.upload(new_session("admin", "password", 30, time.monotonic()), "docs",
                      [("handbuch.zip", archive.getvalue())])
    assert job.wait(60) and not job.error
    [refused] = job.report.files
    assert refused.status == "failed" and "over the limit of 2.0 kB" in refused.reason
    assert "POLYDESK_UPLOAD_MAX_UNPACKED_MB" in refused.reason
