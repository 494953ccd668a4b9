"""Ingest writes many files in one commit; each file still appears whole, and a small batch commits more often."""

from __future__ import annotations

from core.knowledge.store import PREFIX
from core.pipeline import Pipeline
from tests.conftest import SAMPLE, tiny_settings


def generation(pipeline: Pipeline, name: str) -> int:
    """The collection's last committed generation (one per commit)."""
    return int(pipeline.store._client.get_collection(PREFIX + name).metadata["generation"])


def test_one_ingest_of_several_files_is_one_commit(tmp_path, reranker_dir, embedder_dir):
    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))
    report = pipeline.ingest([SAMPLE / "en"], "docs")
    written = [f for f in report.files if f.added]
    assert len(written) > 4 and not report.failed
    assert generation(pipeline, "docs") == 1
    assert pipeline.store.sources("docs") == {f.source: f.added for f in written}


def test_a_small_batch_commits_as_it_goes_and_keeps_each_file_whole(tmp_path, reranker_dir, embedder_dir):
    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma", write_batch_rows=1))
    report = pipeline.ingest([SAMPLE / "en"], "docs")
    written = [f for f in report.files if f.added]
    assert generation(pipeline, "docs") == len(written)
    assert pipeline.store.sources("docs") == {f.source: f.added for f in written}
    changed = SAMPLE / "en" / "pagination.md"
    copy = tmp_path / "en"
    copy.mkdir()
    (copy / "pagination.md").write_text(changed.read_text(encoding="utf-8") + "\n\n## Limits\n\nAt most 100 items.\n",
                                        encoding="utf-8")
    again = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "chroma"))
    outcome = again.ingest([copy], "docs").files[0]
    assert outcome.status == "ok" and generation(again, "docs") == len(written) + 1
    assert again.store.sources("docs")["pagination.md"] == outcome.added + outcome.updated + outcome.unchanged
