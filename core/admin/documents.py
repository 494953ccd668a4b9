"""What admins do to the collections: every method that writes checks for a live admin session first."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from core.admin.auth import AdminSession, require_admin
from core.admin.jobs import IngestJob, IngestJobs
from core.admin.library import UploadLibrary
from core.admin.uploads import StagedUploads, UploadLimits, stage_uploads
from core.errors import BadFile, PolydeskError
from core.knowledge.ingest.run import FileOutcome, IngestReport, Progress
from core.knowledge.links import SiteLinks, check_links
from core.knowledge.store import CollectionInfo, check_collection_name
from core.pipeline import Pipeline, shared_pipeline
from core.settings import Settings
from core.types import Chunk

MB = 1_000_000


@dataclass(frozen=True)
class CollectionOverview:
    """A collection as the Documents page lists it."""

    info: CollectionInfo
    sources: dict[str, int]  # source file -> chunks
    languages: dict[str, int]  # language code ("unknown" when undetected) -> chunks
    reingestable: bool  # whether uploaded files are kept to re-ingest from


class DocumentAdmin:
    """Uploads, re-ingests, removals, deletions and collection settings, for signed-in admins only."""

    def __init__(self, pipeline: Pipeline, clock: Callable[[], float] = time.monotonic) -> None:
        settings = pipeline.settings
        self.pipeline = pipeline
        self.library = UploadLibrary(settings.uploads_path)
        self.jobs = IngestJobs()
        self.limits = UploadLimits(max_file_bytes=int(settings.max_file_mb * MB), max_files=settings.upload_max_files,
                                   max_total_bytes=int(settings.upload_max_total_mb * MB),
                                   max_zip_total_bytes=int(settings.upload_max_unpacked_mb * MB))
        self._clock = clock
        self._overviews: dict[str, CollectionOverview] = {}

    def upload(self, session: AdminSession | None, collection: str, files: Sequence[tuple[str, bytes]],
               base_url: str | None = None) -> IngestJob:
        """Check and stage uploaded files (name, bytes), then ingest them in the background (with a new base URL)."""
        self._authorize(session, collection)
        if not files:
            raise BadFile("No files were uploaded: choose files or a .zip archive first.")
        links = None if base_url is None else check_links(replace(self.links(collection), base_url=base_url))
        batch = self.library.new_batch(collection)
        try:
            staged = stage_uploads(files, batch, self.limits)
        except BaseException:
            self.library.discard(batch)
            raise
        return self.jobs.start(collection, session.user,
                               lambda track: self._ingest_batch(collection, staged, track, links))

    def reingest(self, session: AdminSession | None, collection: str) -> IngestJob:
        """Ingest the collection's kept uploads again (unchanged files cost nothing)."""
        self._authorize(session, collection)
        if not self.library.has_files(collection):
            raise PolydeskError(
                f"{collection} has no files uploaded through this page to re-ingest from (it was filled from the "
                f"command line): run `polydesk ingest PATH --collection {collection}` again, or upload the files here."
            )
        folder = self.library.folder(collection)
        return self.jobs.start(collection, session.user,
                               lambda track: self.pipeline.ingest([folder], collection, track))

    def remove_document(self, session: AdminSession | None, collection: str, source: str) -> int:
        """Remove one document's chunks and its kept upload; returns how many chunks went."""
        self._authorize(session, collection)
        removed = self.pipeline.store.delete_source(collection, source)
        self.library.remove(collection, source)
        return removed

    def delete_collection(self, session: AdminSession | None, collection: str) -> None:
        """Delete a collection, its chunks and its kept uploads."""
        self._authorize(session, collection)
        self.pipeline.store.delete_collection(collection)
        self.library.delete(collection)

    def update_collection(self, session: AdminSession | None, collection: str, *, description: str,
                          rerank_instruction: str, links: SiteLinks | None = None) -> CollectionInfo:
        """Change a collection's description, rerank instruction (blank: the configured default) and link settings.

        Chunks get their links when they are ingested: new link settings apply from the next ingest on.
        """
        self._authorize(session, collection)
        link_fields = {}
        if links is not None:
            links = check_links(links)
            link_fields = {"base_url": links.base_url, "url_default_language": links.default_language_folder,
                           "url_extension": links.extension}
        return self.pipeline.store.update_settings(collection, description=description.strip(),
                                                   rerank_instruction=rerank_instruction.strip(), **link_fields)

    def links(self, collection: str) -> SiteLinks:
        """A collection's link settings (none for a collection that does not exist yet)."""
        store = self.pipeline.store
        if collection not in {info.name for info in store.collections()}:
            return SiteLinks()
        info = store.info(collection)
        return SiteLinks(info.base_url, info.url_default_language, info.url_extension)

    def overview(self, collection: str) -> CollectionOverview:
        """Counts of a collection's documents, chunks and languages (read again only after the collection changed)."""
        info = self.pipeline.store.info(collection)
        cached = self._overviews.get(collection)
        if cached is None or cached.info != info:
            counts = self.pipeline.store.count_by(collection, "source", "language")
            languages = Counter({code or "unknown": n for code, n in counts["language"].items()})
            cached = CollectionOverview(info, counts["source"], dict(languages.most_common()),
                                        self.library.has_files(collection))
            self._overviews[collection] = cached
        return cached

    def document_chunks(self, collection: str, source: str) -> list[Chunk]:
        """One document's chunks in reading order, to see how it was cut."""
        store = self.pipeline.store
        return sorted(store.chunks(collection, list(store.source_state(collection, source).hashes)),
                      key=lambda chunk: chunk.index)

    def _authorize(self, session: AdminSession | None, collection: str) -> None:
        """A live admin session, a valid collection name, and no ingest writing to the collection now."""
        require_admin(session, self._clock())
        check_collection_name(collection)
        self.jobs.check_idle(collection)

    def _ingest_batch(self, collection: str, staged: StagedUploads, track: Callable[[Progress], None],
                      links: SiteLinks | None = None) -> IngestReport:
        """Ingest a staged batch, keep the files that made it in, and report refused uploads as failed or skipped."""
        try:
            report = (self.pipeline.ingest([staged.folder], collection, track, links) if staged.staged
                      else IngestReport(collection))
            self.library.keep(collection, staged.folder,
                              [f.source for f in report.files if f.status not in ("failed", "skipped")])
        finally:
            self.library.discard(staged.folder)
        report.files[:0] = [FileOutcome(r.name, r.status, r.reason) for r in staged.refused]
        return report



@lru_cache(maxsize=4)
def shared_document_admin(settings: Settings) -> DocumentAdmin:
    """The process-wide admin desk for a configuration, so that running ingests outlive any one page view."""
    return DocumentAdmin(shared_pipeline(settings))
