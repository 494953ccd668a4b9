"""The app's start: the first-start sample ingest with its progress, and the models loaded in the background."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import lru_cache

from core.errors import PolydeskError
from core.knowledge.ingest.run import IngestReport, Progress
from core.pipeline import SAMPLE_COLLECTION, SAMPLE_FOLDER, Pipeline, shared_pipeline
from core.settings import Settings

# What is loaded in the background, in the order a question needs it, and what the page says meanwhile.
PARTS = (("languages", "Loading the language detector…"), ("embedder", "Loading the embedding model…"),
         ("reranker", "Loading the reranker…"), ("searcher", "Opening the search indexes…"))


class Startup:
    """Once per process and configuration: ingest the sample into an empty store, then load the models."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.sample_report: IngestReport | None = None
        self.loaded_ms: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self._now: str | None = None
        self._ingested = False
        self._ingest_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._started = threading.Lock()

    def ingest_sample(self, progress: Callable[[Progress], None] | None = None) -> IngestReport | None:
        """On a first start with an empty store, ingest the sample documentation; None when there was no need."""
        with self._ingest_lock:
            if not self._ingested:
                if SAMPLE_FOLDER.is_dir() and not self.pipeline.store.collections():
                    self.sample_report = self.pipeline.ingest([SAMPLE_FOLDER], SAMPLE_COLLECTION, progress)
                self._ingested = True
            return self.sample_report

    def load_in_background(self) -> None:
        """Start loading the models in a daemon thread (once); questions asked meanwhile wait for what they need."""
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load, name="polydesk-model-loading", daemon=True)
                self._thread.start()

    def _load(self) -> None:
        """Build each part in turn, noting its time and any error (the question that needs it reports it again)."""
        try:
            for part, label in PARTS:
                self._now = label
                start = time.perf_counter()
                try:
                    getattr(self.pipeline, part)
                except PolydeskError as exc:
                    self.errors[part] = str(exc)
                self.loaded_ms[part] = (time.perf_counter() - start) * 1000
        finally:
            self._now = None
            self._done.set()

    @property
    def now(self) -> str | None:
        """What loads at this moment, e.g. "Loading the reranker…", or None once everything is loaded."""
        return self._now if self._thread is not None and not self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background loading (if started) to end; whether it has ended."""
        return self._thread is None or self._done.wait(timeout)


@lru_cache(maxsize=4)
def startup(settings: Settings) -> Startup:
    """The process-wide start-up of a configuration."""
    return Startup(shared_pipeline(settings))
