"""Ingest runs: every format, idempotent re-runs, exact replacement, bad files alone, crash consistency."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import EmbeddingMismatch
from core.pipeline import Pipeline
from tests.conftest import ROOT, SAMPLE, tiny_settings


def snapshot(pipeline: Pipeline, collection: str) -> dict[str, tuple]:
    """Every stored chunk: id -> (text, source, index, language, kind)."""
    return {c.id: (c.text, c.source, c.index, c.language, c.kind) for c in pipeline.store.all_chunks(collection)}


@pytest.fixture
def pipeline(tmp_path, reranker_dir, embedder_dir) -> Pipeline:
    """A pipeline with an empty store of its own."""
    return Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))


def test_sample_collection(sample_pipeline):
    store = sample_pipeline.store
    chunks = store.all_chunks("parcelio")
    by_source = {}
    for chunk in chunks:
        by_source.setdefault(chunk.source, []).append(chunk)
    assert set(by_source) == {p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*") if p.is_file()}
    for source, found in by_source.items():
        folder = source.split("/")[0]
        if folder in {"en", "ja", "zh", "es", "ar"}:
            languages = [c.language for c in found]
            assert max(set(languages), key=languages.count) == folder, source
        assert sorted(c.index for c in found) == list(range(len(found)))
    operations = [c for c in by_source["openapi.yaml"] if c.kind == "api-operation"]
    assert len(operations) >= 8
    assert {"listShipments", "createShipment"} <= {dict(c.extra)["operation_id"] for c in operations}
    assert all(c.token_count <= 512 or c.kind in ("code", "api-operation") for c in chunks)
    assert any(c.kind == "code" for c in chunks)
    auth = [c for c in by_source["en/authentication.md"] if len(c.heading_path) > 1]
    assert auth and all(c.text.startswith(" > ".join(c.heading_path)) for c in auth)
    info = store.info("parcelio")
    assert (info.chunks, info.embedding_dim) == (len(chunks), 64)


def test_reingest_is_idempotent_and_embeds_nothing(pipeline, monkeypatch):
    first = pipeline.ingest([SAMPLE / "en"], "docs")
    before = snapshot(pipeline, "docs")
    calls = []
    original = pipeline.embedder.embed_documents
    monkeypatch.setattr(pipeline.embedder, "embed_documents", lambda texts: calls.append(texts) or original(texts))
    again = pipeline.ingest([SAMPLE / "en"], "docs")
    assert {f.status for f in first.files} == {"ok"} and {f.status for f in again.files} == {"unchanged"}
    assert again.totals() == {"added": 0, "updated": 0, "removed": 0, "unchanged": len(before)}
    assert calls == [] and snapshot(pipeline, "docs") == before


def test_changed_file_replaces_exactly_its_chunks(pipeline, tmp_path, reranker_dir, embedder_dir):
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE / "en", docs)
    pipeline.ingest([docs], "docs")
    page = docs / "errors.md"
    text = page.read_text()
    page.write_text(text.replace("## ", "## Updated ", 1)[: len(text) * 2 // 3])
    report = pipeline.ingest([docs], "docs")
    outcome = next(f for f in report.files if f.source == "errors.md")
    assert outcome.status == "ok" and outcome.updated + outcome.removed > 0
    assert all(f.status == "unchanged" for f in report.files if f.source != "errors.md")
    clean = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "clean"))
    clean.ingest([docs], "docs")
    assert snapshot(pipeline, "docs") == snapshot(clean, "docs")


def test_moved_text_reuses_stored_vectors(pipeline, tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    sections = [f"## Part {i}\n\nParagraph {i} about shipments and labels.\n" for i in range(4)]
    page.write_text("# Page\n\n" + "\n".join(sections))
    pipeline.ingest([page], "docs")
    page.write_text("# Page\n\n## New part\n\nBrand new text.\n\n" + "\n".join(sections))
    embedded = []
    original = pipeline.embedder.embed_documents
    monkeypatch.setattr(pipeline.embedder, "embed_documents", lambda texts: embedded.extend(texts) or original(texts))
    outcome = pipeline.ingest([page], "docs").files[0]
    assert embedded == ["Page > New part\n\nBrand new text."]
    assert (outcome.added, outcome.updated, outcome.removed, outcome.unchanged) == (1, 4, 0, 0)
    stored = {c.text: c for c in pipeline.store.all_chunks("docs")}
    vectors = pipeline.store.embeddings_by_hash("docs", [c.id for c in stored.values()])
    expected = pipeline.embedder.embed_documents(["Page > Part 2\n\nParagraph 2 about shipments and labels."])[0]
    np.testing.assert_allclose(vectors[stored["Page > Part 2\n\nParagraph 2 about shipments and labels."].content_hash],
                               expected, atol=1e-5)


def test_bad_files_fail_alone_and_write_nothing(pipeline, tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nA page about cancelling a shipment with DELETE /v1/shipments/{id}.\n")
    (folder / "empty.md").write_text("  \n")
    (folder / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "latin1.txt").write_bytes("Caf\xe9 au lait".encode("latin-1"))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    (folder / "spec.yaml").write_text("openapi: 3.0.0\ninfo: {title: X, version: '1'}\npaths: [unclosed\n")
    (folder / "notes.xyz").write_text("unsupported")
    report = pipeline.ingest([folder], "docs")
    statuses = {f.source: (f.status, f.reason) for f in report.files}
    assert statuses.pop("good.md")[0] == "ok"
    assert statuses.pop("notes.xyz")[0] == "skipped"  # not a document, found in a folder
    assert all(status == "failed" and reason for status, reason in statuses.values()), statuses
    assert "empty" in statuses["empty.md"][1].lower() and "utf-8" in statuses["latin1.txt"][1].lower()
    assert {c.source for c in pipeline.store.all_chunks("docs")} == {"good.md"}


def test_a_file_that_turns_bad_keeps_its_stored_chunks(pipeline, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Page\n\nRefund a label within 30 days.\n")
    pipeline.ingest([page], "docs")
    before = snapshot(pipeline, "docs")
    page.write_bytes(b"# Page\n\nRefund \xff\xfe a label")
    report = pipeline.ingest([page], "docs")
    assert report.files[0].status == "failed" and "UTF-8" in report.files[0].reason
    assert snapshot(pipeline, "docs") == before


def test_missing_path_is_reported(pipeline, tmp_path):
    report = pipeline.ingest([tmp_path / "nope.md"], "docs")
    assert report.files[0].status == "failed" and "does not exist" in report.files[0].reason


def test_other_embedder_is_refused(pipeline, tmp_path, reranker_dir, embedder_dir):
    pipeline.ingest([SAMPLE / "en" / "errors.md"], "docs")
    smaller = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", embedding_dim=32))
    with pytest.raises(EmbeddingMismatch, match="embedded with .* at 64 dimensions.*configured embedder .* at 32"):
        smaller.ingest([SAMPLE / "en" / "pagination.md"], "docs")
    with pytest.raises(EmbeddingMismatch, match="polydesk collections delete docs"):
        smaller.search("429", ["docs"])


INGEST_SCRIPT = """
import sys
from pathlib import Path
from core.pipeline import Pipeline
from tests.conftest import tiny_settings
settings = tiny_settings(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), write_batch_rows=1)
def show(progress):
    print(progress.done, progress.stage, flush=True)
Pipeline(settings).ingest([Path(sys.argv[4])], "docs", show)
"""


def test_killed_ingest_converges_to_a_clean_run(tmp_path, reranker_dir, embedder_dir):
    killed_store, clean_store, folder = tmp_path / "killed", tmp_path / "clean", SAMPLE / "en"
    process = subprocess.Popen(
        [sys.executable, "-c", INGEST_SCRIPT, str(reranker_dir), str(embedder_dir), str(killed_store), str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    for line in process.stdout:
        done, stage = line.split()
        if int(done) >= 4 and stage == "store":
            process.send_signal(signal.SIGKILL)
            break
    assert process.wait(timeout=120) == -signal.SIGKILL, "the run ended before it could be killed"
    resumed = Pipeline(tiny_settings(reranker_dir, embedder_dir, killed_store))
    report = resumed.ingest([folder], "docs")
    assert not report.failed and any(f.status == "unchanged" for f in report.files)
    clean = Pipeline(tiny_settings(reranker_dir, embedder_dir, clean_store))
    clean.ingest([folder], "docs")
    assert snapshot(resumed, "docs") == snapshot(clean, "docs")


def test_ingest_cli_reports_and_exits_nonzero_on_failure(tmp_path, reranker_dir, embedder_dir):
    (tmp_path / "bad.md").write_text("")
    env = {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
           "POLYDESK_CHROMA_PATH": str(tmp_path / "chroma"), "PATH": str(Path(sys.executable).parent)}
    polydesk = str(Path(sys.executable).with_name("polydesk"))
    run = lambda *args: subprocess.run([polydesk, *args], env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
    shutil.copytree(SAMPLE / "ja", tmp_path / "ja")  # sources are relative to the folder holding both inputs
    done = run("ingest", str(tmp_path / "ja"), str(tmp_path / "bad.md"), "--collection", "ja-docs", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert {f["source"]: f["status"] for f in report["files"]}["bad.md"] == "failed"
    assert report["totals"]["added"] > 0
    listed = json.loads(run("collections", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["ja-docs"]
    shown = json.loads(run("collections", "show", "ja-docs", "--json").stdout)
    pages = ("authentication", "errors", "getting-started", "pagination")
    assert set(shown["sources"]) == {f"ja/{name}.md" for name in pages}
    assert run("collections", "delete", "ja-docs").returncode == 0
    missing = run("collections", "show", "ja-docs")
    assert missing.returncode == 1 and "no collection named 'ja-docs'" in missing.stderr


def test_section_page_with_only_front_matter_is_empty_and_removes_its_old_chunks(pipeline, tmp_path):
    site = tmp_path / "site" / "en" / "docs"
    site.mkdir(parents=True)
    index = site / "_index.md"
    index.write_text("---\ntitle: Shipments\nweight: 10\n---\n\nShipments carry parcels between two addresses.\n")
    (site / "create.md").write_text("---\ntitle: Create a shipment\n---\n\nPOST /v1/shipments creates a shipment.\n")
    assert {f.status for f in pipeline.ingest([site], "docs").files} == {"ok"}
    index.write_text("---\ntitle: Shipments\nweight: 10\n---\n")
    report = pipeline.ingest([site], "docs")
    statuses = {f.source: f.status for f in report.files}
    assert statuses == {"_index.md": "empty", "create.md": "unchanged"}
    assert next(f for f in report.files if f.source == "_index.md").removed == 1
    assert {c.source for c in pipeline.store.all_chunks("docs")} == {"create.md"}


def test_a_file_nested_too_deeply_fails_alone(pipeline, tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "deep.html").write_text("<html><body>" + "<div>" * 5000 + "text" + "</div>" * 5000 + "</body></html>")
    (folder / "good.md").write_text("# Good\n\nTrack a parcel with GET /v1/parcels/{id}/events.\n")
    statuses = {f.source: (f.status, f.reason) for f in pipeline.ingest([folder], "docs").files}
    assert statuses["good.md"][0] == "ok"
    assert statuses["deep.html"][0] == "failed" and statuses["deep.html"][1]
