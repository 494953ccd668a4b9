"""An ingest run: parse, chunk, tag languages, embed what is new, and write each file's chunks to Chroma."""

from __future__ import annotations

import csv
import gc
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TypeVar

import numpy as np

from core.errors import BadFile
from core.knowledge.chunk import CONTEXT_SEPARATOR, Chunker, Piece
from core.knowledge.generations import WRITE_BATCH
from core.knowledge.ingest.batch import WriteBatch
from core.knowledge.ingest.parse import parse_file
from core.knowledge.ingest.sources import PlannedFile, SourcePlan, legacy_sources, plan_sources
from core.knowledge.links import SiteLinks, check_links, chunk_url, page_url
from core.knowledge.store import ChromaStore, SourceWrite
from core.models.embed import Embedder
from core.timing import timed
from core.types import Chunk

LanguageTagger = Callable[[Sequence[str]], list[str | None]]
STAGES = ("parse", "chunk", "language", "embed", "store")
T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Where a run is: file `done` of `total` files, the file, the stage it just entered, and the chunks of the files
    done. In a run that chunks every file before embedding any, `chunks_total` is the number of chunks to embed
    (0 while chunking); `done` and `chunks` then count again from 0 as files are embedded."""

    done: int
    total: int
    source: str
    stage: str
    chunks: int = 0
    chunks_total: int = 0


@dataclass
class FileOutcome:
    """What happened to one file."""

    source: str
    status: str  # "ok" | "unchanged" | "empty" | "skipped" (not a document, found in a folder) | "failed"
    reason: str = ""
    language: str | None = None
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass
class IngestReport:
    """Per-file outcomes, chunk counts and seconds spent per stage."""

    collection: str
    files: list[FileOutcome] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[FileOutcome]:
        """The files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    def totals(self) -> dict[str, int]:
        """Chunks added, updated, removed and unchanged over all files."""
        return {key: sum(getattr(f, key) for f in self.files) for key in ("added", "updated", "removed", "unchanged")}

    def to_dict(self) -> dict:
        """Plain data, for JSON."""
        return {"collection": self.collection, "files": [asdict(f) for f in self.files], "totals": self.totals(),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "warnings": list(self.warnings)}

    def to_csv(self) -> str:
        """One row per file, for a spreadsheet."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(FileOutcome)])
        writer.writeheader()
        writer.writerows(asdict(f) for f in self.files)
        return out.getvalue()


class Ingester:
    """Ingests files into one store with one embedder; a file that fails writes nothing."""

    def __init__(self, store: ChromaStore, embedder: Embedder, chunker: Chunker, tag_languages: LanguageTagger,
                 max_bytes: int = 20_000_000, batch_rows: int = WRITE_BATCH) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.tag_languages = tag_languages
        self.max_bytes = max_bytes
        self.batch_rows = batch_rows

    def ingest_files(self, paths: Iterable[Path], collection: str,
                     progress: Callable[[Progress], None] | None = None,
                     links: SiteLinks | None = None,
                     chunked: Callable[[list[Chunk]], None] | None = None) -> IngestReport:
        """Ingest files and folders (recursively); returns the report, never raises for a bad file.

        Two files that would share a source are refused (BadInput) before anything is written. `links`
        replaces the collection's stored link settings; None keeps them. With `chunked`, every file is parsed and
        chunked first and all the chunks are handed to it before any is embedded; else files are prepared in groups
        of `batch_rows` chunks, each group before its embedding.
        """
        with _heap_frozen():
            return self._ingest(list(paths), collection, progress, links, chunked)

    def _ingest(self, paths: list[Path], collection: str, progress: Callable[[Progress], None] | None,
                links: SiteLinks | None, chunked: Callable[[list[Chunk]], None] | None) -> IngestReport:
        """ingest_files, in its order: plan the sources, prepare the files (in groups, or all first), write."""
        links = check_links(links) if links is not None else None
        plan = plan_sources(paths)
        files = plan.files
        self.store.open_for_ingest(collection, self.embedder.model_id, self.embedder.dim)
        site = self._links(collection, links)
        report = IngestReport(collection, warnings=self._renamed_sources(collection, paths, plan))
        batch = WriteBatch(self.store, collection, report.seconds, [p.source for p in files], self.batch_rows)
        track = _Tracker(progress, len(files))
        prepared: Iterable[tuple[str, list[Chunk] | FileOutcome]] = (
            (p.source, self._guarded(p.source, lambda p=p: self._prepare(p, collection, site, batch, track)))
            for p in files)
        if chunked is not None:
            prepared = list(track.counted(prepared))
            every = [c for _, result in prepared if not isinstance(result, FileOutcome) for c in result]
            chunked(every)
            track.restart(len(every))
        for group in [prepared] if chunked is not None else _groups(prepared, self.batch_rows):
            for source, result in track.counted(group):
                report.files.append(result if isinstance(result, FileOutcome) else self._guarded(
                    source, lambda source=source, result=result: self._write(source, result, batch, track)))
        batch.flush()
        report.files.extend(FileOutcome(s.source, "skipped", s.reason) for s in plan.skipped)
        track.stage("", "done")
        return report

    def _guarded(self, source: str, step: Callable[[], T]) -> T | FileOutcome:
        """A file's step, or its failed outcome when the file is bad or unreadable."""
        try:
            return step()
        except BadFile as exc:
            return FileOutcome(source, "failed", str(exc))
        except OSError as exc:
            return FileOutcome(source, "failed", f"cannot be read: {exc.strerror or exc}")
        except RecursionError:
            return FileOutcome(source, "failed", "is nested too deeply to parse: flatten its structure or split "
                                                 "the file")

    def _links(self, collection: str, links: SiteLinks | None) -> SiteLinks:
        """The collection's link settings, after storing new ones when given."""
        if links is not None:
            info = self.store.update_settings(collection, base_url=links.base_url,
                                              url_default_language=links.default_language_folder,
                                              url_extension=links.extension)
        else:
            info = self.store.info(collection)
        return SiteLinks(info.base_url, info.url_default_language, info.url_extension)

    def _renamed_sources(self, collection: str, paths: list[Path], plan: SourcePlan) -> list[str]:
        """A warning when documents are stored under the names an older Polydesk gave these files."""
        legacy = legacy_sources(paths, plan)  # empty for one folder or file: the rule did not change there
        older = sorted(legacy & set(self.store.sources(collection))) if legacy else []
        if not older:
            return []
        return [f"{collection} holds {len(older)} documents (e.g. {older[0]}) stored earlier under shorter names "
                "than this run gives them (sources are now relative to the folder holding every input): delete "
                f"the collection with `polydesk collections delete {collection}` and ingest again, or remove "
                "those documents on the Documents page."]

    def _prepare(self, planned: PlannedFile, collection: str, site: SiteLinks, batch: WriteBatch,
                 track: _Tracker) -> list[Chunk]:
        """Parse, chunk and tag one file: its chunks, ready to embed (none for a page without body text)."""
        source, seconds = planned.source, batch.seconds
        with _step(seconds, track, source, "parse"):
            document = parse_file(planned.path, max_bytes=self.max_bytes)
        with _step(seconds, track, source, "chunk"):
            pieces = self.chunker.split(document)
        if not pieces:
            return []
        with _step(seconds, track, source, "language"):
            languages = ([planned.language] * len(pieces) if planned.language
                         else self.tag_languages([without_context(p) for p in pieces]))
        page = page_url(source, site, document.url_hint)
        return [make_chunk(collection, source, document.title, i, p, lang, chunk_url(
                    page, p.anchor if len(p.heading_path) > 1 else "", dict(p.extra).get("page", "")))
                for i, (p, lang) in enumerate(zip(pieces, languages, strict=True))]

    def _write(self, source: str, chunks: list[Chunk], batch: WriteBatch, track: _Tracker) -> FileOutcome:
        """Embed what is new of one file's chunks and hand them to the batch (it writes them with other files')."""
        if not chunks:
            return self._empty(source, batch, track)
        outcome = FileOutcome(source, "ok", language=_majority([c.language for c in chunks]))
        stored = batch.stored(source)
        new_ids = {c.id for c in chunks}
        if new_ids == set(stored.hashes):
            outcome.status, outcome.unchanged = "unchanged", len(chunks)
            return outcome
        fresh = [c for c in chunks if c.id not in stored.hashes]
        with _step(batch.seconds, track, source, "embed"):
            vectors = self._vectors(batch.collection, fresh, stored.hashes)
        stale = [i for i in stored.hashes if i not in new_ids]
        track.stage(source, "store")
        batch.add(source, SourceWrite(fresh, vectors, stale))
        old_positions = {stored.positions[i] for i in stale}
        outcome.updated = sum(1 for c in fresh if c.index in old_positions)
        outcome.added = len(fresh) - outcome.updated
        outcome.removed = len(old_positions - {c.index for c in fresh})
        outcome.unchanged = len(chunks) - len(fresh)
        return outcome

    def _empty(self, source: str, batch: WriteBatch, track: _Tracker) -> FileOutcome:
        """A page without body text (e.g. a section index): reported as empty; chunks stored earlier are removed."""
        stored = batch.stored(source)
        if stored.hashes:
            track.stage(source, "store")
            batch.add(source, SourceWrite([], np.zeros((0, self.embedder.dim), dtype=np.float32),
                                          list(stored.hashes)))
        return FileOutcome(source, "empty", removed=len(stored.hashes))

    def _vectors(self, collection: str, fresh: list[Chunk], stored: dict[str, str]) -> np.ndarray:
        """Vectors for new chunks: reused when the same text is already stored (it only moved), else embedded."""
        if not fresh:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        reusable = self.store.embeddings_by_hash(
            collection, [i for i, h in stored.items() if h in {c.content_hash for c in fresh}]
        )
        missing = [c for c in fresh if c.content_hash not in reusable]
        embedded = dict(zip((c.content_hash for c in missing),
                            self.embedder.embed_documents([c.text for c in missing]), strict=True))
        return np.stack([reusable.get(c.content_hash, embedded.get(c.content_hash)) for c in fresh])


def make_chunk(collection: str, source: str, title: str, index: int, piece: Piece, language: str | None,
               url: str = "") -> Chunk:
    """A chunk with a deterministic id: collection, source, position, content hash and (when set) its URL."""
    content_hash = hashlib.sha256(piece.text.encode()).hexdigest()[:16]
    key = f"{collection}\0{source}\0{index}\0{content_hash}" + (f"\0{url}" if url else "")
    chunk_id = hashlib.sha256(key.encode()).hexdigest()[:32]
    return Chunk(chunk_id, piece.text, source, title, piece.heading_path, piece.anchor, language, index,
                 content_hash, piece.token_count, piece.kind, piece.extra, url)


def without_context(piece: Piece) -> str:
    """A piece's own text, without the heading path in front (headings are often in another language)."""
    return piece.text.removeprefix(CONTEXT_SEPARATOR.join(piece.heading_path) + "\n\n")


def _majority(languages: Sequence[str | None]) -> str | None:
    """The most frequent known language."""
    known = [lang for lang in languages if lang]
    return max(set(known), key=known.count) if known else None


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """The objects alive before an ingest (models, indexes, imports) kept out of garbage collection during it:
    parsing's many small objects no longer make each collection re-scan them (the parse stage ran 1.5x faster)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _groups(results: Iterable[tuple[str, list[Chunk] | FileOutcome]], rows: int
            ) -> Iterator[list[tuple[str, list[Chunk] | FileOutcome]]]:
    """Files' results gathered until they hold `rows` chunks: a group is parsed and chunked before any of it is
    embedded, which keeps the tokenizer's and the model's working sets apart (chunking ran 1.5x slower
    interleaved with embedding)."""
    group: list[tuple[str, list[Chunk] | FileOutcome]] = []
    size = 0
    for source, result in results:
        group.append((source, result))
        size += 0 if isinstance(result, FileOutcome) else len(result)
        if size >= rows:
            yield group
            group, size = [], 0
    if group:
        yield group


class _Tracker:
    """A run's progress: files done, the chunks of the files done, and the chunks to embed once all are chunked."""

    def __init__(self, progress: Callable[[Progress], None] | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self.chunks = 0
        self.chunks_total = 0

    def stage(self, source: str, stage: str) -> None:
        """Report that a file entered a stage ("done" with an empty source: the run ended)."""
        if self.progress:
            done = self.total if stage == "done" else self.done
            self.progress(Progress(done, self.total, source, stage, self.chunks, self.chunks_total))

    def counted(self, results: Iterable[tuple[str, list[Chunk] | FileOutcome]]
                ) -> Iterator[tuple[str, list[Chunk] | FileOutcome]]:
        """Pass each file's result on, then count the file and its chunks as done."""
        for source, result in results:
            yield source, result
            self.done += 1
            self.chunks += 0 if isinstance(result, FileOutcome) else len(result)

    def restart(self, chunks_total: int) -> None:
        """Every file is chunked: count files and chunks again as they are embedded."""
        self.done, self.chunks, self.chunks_total = 0, 0, chunks_total


@contextmanager
def _step(seconds: dict[str, float], track: _Tracker, source: str, stage: str) -> Iterator[None]:
    """Report a stage to the progress callback and add its seconds to the report."""
    track.stage(source, stage)
    with timed(seconds, stage, scale=1.0):
        yield
