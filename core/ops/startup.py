"""The app's start: the first-start sample ingest in the background with its progress, and the models loaded in the
background."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache

from core.errors import PolydeskError
from core.knowledge.ingest.run import IngestReport, Progress
from core.knowledge.search import OnStage
from core.pipeline import SAMPLE_COLLECTION, SAMPLE_FOLDER, Pipeline, shared_pipeline
from core.settings import Settings

log = logging.getLogger(__name__)
# What is loaded in the background, in the order a question needs it. On a first start the sample's chunks are
# searched by keywords while the ingest loads the embedder and embeds them: the reranker comes first.
PARTS = ("languages", "reranker", "embedder", "searcher")
# Lingua loads its n-gram models at the first detection of a short text, seconds on a CPU: the background loading
# detects this question once, so that the first real question does not wait for them.
WARM_UP_QUESTION = "How long is an access token valid?"


class Startup:
    """Once per process and configuration: ingest the sample into an empty store, and load the models."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.sample_report: IngestReport | None = None
        self.sample_progress: Progress | None = None
        self.sample_error: str | None = None
        self.loaded_ms: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self._ingested = False
        self._ingest_lock = threading.Lock()
        self._sample_thread: threading.Thread | None = None
        self._sample_done = threading.Event()
        self._searchable = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._started = threading.Lock()

    def ingest_sample(self, progress: Callable[[Progress], None] | None = None) -> IngestReport | None:
        """On a first start with an empty store, ingest the sample documentation (its chunks searchable by keywords
        while they are embedded); None when there was no need. Blocks until the ingest ends."""
        with self._ingest_lock:
            if not self._ingested:
                try:
                    if SAMPLE_FOLDER.is_dir() and not self.pipeline.store.collections():
                        self.sample_report = self.pipeline.ingest([SAMPLE_FOLDER], SAMPLE_COLLECTION,
                                                                  self._tracker(progress), lexical_first=True)
                    self._ingested = True
                finally:
                    self._searchable.set()
                    self._sample_done.set()
            return self.sample_report

    def ingest_sample_in_background(self) -> None:
        """Start the first-start sample ingest in a daemon thread (once) when the store is empty; errors are kept in
        `sample_error`."""
        with self._started:
            if self._sample_thread is not None or self._ingested:
                return
            if not SAMPLE_FOLDER.is_dir() or self.pipeline.store.collections():
                self._ingested = True
                self._searchable.set()
                self._sample_done.set()
                return
            self._sample_thread = threading.Thread(target=self._ingest_quietly, name="polydesk-sample-ingest",
                                                   daemon=True)
            self._sample_thread.start()

    def _ingest_quietly(self) -> None:
        """The sample ingest of the background thread, its error kept for the pages."""
        try:
            self.ingest_sample()
        except PolydeskError as exc:
            self.sample_error = str(exc)
        except Exception as exc:  # a thread has nobody to raise to: the pages show it, the log has the traceback
            log.exception("The sample ingest failed")
            self.sample_error = f"{type(exc).__name__}: {exc}"

    def _tracker(self, progress: Callable[[Progress], None] | None) -> Callable[[Progress], None]:
        """Keep the latest progress, note when the chunks become searchable, and pass it on."""
        def track(step: Progress) -> None:
            self.sample_progress = step
            if step.chunks_total:
                self._searchable.set()
            if progress:
                progress(step)
        return track

    @property
    def sample_running(self) -> bool:
        """Whether the background sample ingest is under way."""
        return self._sample_thread is not None and not self._sample_done.is_set()

    def wait_searchable(self, timeout: float | None = None) -> bool:
        """Wait until the sample (if one is being ingested) is searchable, at least by keywords; whether it is."""
        return self._sample_thread is None or self._searchable.wait(timeout)

    def wait_until_searchable(self, on_stage: OnStage) -> float:
        """Wait until the sample (if one is being ingested) is searchable, telling `on_stage` how far it is; the
        milliseconds waited (none when it already is)."""
        if self.wait_searchable(0):
            return 0.0
        start = time.perf_counter()
        while not self.wait_searchable(0.2):
            on_stage(sample_label(self.sample_progress))
        return (time.perf_counter() - start) * 1000

    def wait_sample(self, timeout: float | None = None) -> bool:
        """Wait for the sample ingest (if one was started) to end; whether it has ended."""
        return self._sample_thread is None or self._sample_done.wait(timeout)

    def load_in_background(self) -> None:
        """Start loading the models in a daemon thread (once); questions asked meanwhile wait for what they need."""
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load, name="polydesk-model-loading", daemon=True)
                self._thread.start()

    def _load(self) -> None:
        """Build each part in turn, noting its time and any error (the question that needs it reports it again)."""
        try:
            for part in PARTS:
                start = time.perf_counter()
                try:
                    getattr(self.pipeline, part)
                    if part == "languages":
                        self.pipeline.languages.detect_question(WARM_UP_QUESTION)
                except PolydeskError as exc:
                    self.errors[part] = str(exc)
                self.loaded_ms[part] = (time.perf_counter() - start) * 1000
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background loading (if started) to end; whether it has ended."""
        return self._thread is None or self._done.wait(timeout)


def sample_label(progress: Progress | None) -> str:
    """The sample ingest's progress in words: files and chunks done, and what runs now."""
    if progress is None:
        return "First start: preparing the sample documentation…"
    if progress.chunks_total:
        return (f"First start: the sample documentation is searchable by keywords; computing its embeddings, "
                f"{progress.chunks} of {progress.chunks_total} chunks ({progress.done} of {progress.total} files)…")
    return (f"First start: preparing the sample documentation, {progress.done} of {progress.total} files, "
            f"{progress.chunks} chunks ({progress.source}: {progress.stage})…")


@lru_cache(maxsize=4)
def startup(settings: Settings) -> Startup:
    """The process-wide start-up of a configuration."""
    return Startup(shared_pipeline(settings))
