"""Ingest runs in background threads: they go on when the admin leaves the page, and report their progress."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import PolydeskError
from core.knowledge.ingest.run import STAGES, IngestReport, Progress

KEEP_FINISHED = 20  # finished jobs remembered per process, newest first
FILE_STEPS = len(STAGES) + 1  # each stage, then finished

Work = Callable[[Callable[[Progress], None]], IngestReport]


@dataclass(frozen=True)
class FileState:
    """Where one file of a job is: a stage name while it runs, else its outcome ("ok", "unchanged", "failed")."""

    source: str
    state: str
    reason: str = ""

    @property
    def fraction(self) -> float:
        """How far the file is, from 0 (waiting) to 1 (finished, whatever the outcome)."""
        if self.state in STAGES:
            return STAGES.index(self.state) / FILE_STEPS
        return 0.0 if self.state == "waiting" else 1.0


@dataclass
class IngestJob:
    """One ingest run: its files' states while it runs, then its report (or the error that stopped it)."""

    collection: str
    started_by: str
    started_at: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    total: int = 0
    done: int = 0
    report: IngestReport | None = None
    error: str = ""
    _states: dict[str, FileState] = field(default_factory=dict)
    _finished: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def running(self) -> bool:
        """Whether the run is still going."""
        return not self._finished.is_set()

    @property
    def fraction(self) -> float:
        """Files finished over all files, counting the current file's stage."""
        if not self.running:
            return 1.0
        with self._lock:
            partial = sum(s.fraction for s in self._states.values() if s.state in STAGES)
            return min(1.0, (self.done + partial) / self.total) if self.total else 0.0

    def files(self) -> list[FileState]:
        """Every file seen so far, in the order they were taken."""
        with self._lock:
            return list(self._states.values())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (or `timeout` seconds pass); True when it ended."""
        return self._finished.wait(timeout)

    def track(self, progress: Progress) -> None:
        """Record a progress event from the ingester."""
        with self._lock:
            self.total, self.done = progress.total, progress.done
            if progress.stage != "done":
                self._states[progress.source] = FileState(progress.source, progress.stage)

    def finish(self, report: IngestReport | None, error: str = "") -> None:
        """Record the outcome: every file's result from the report, or the error that stopped the run."""
        with self._lock:
            self.report, self.error = report, error
            for outcome in report.files if report else []:
                self._states[outcome.source] = FileState(outcome.source, outcome.status, outcome.reason)
            if error:
                for source, state in self._states.items():
                    if state.state in STAGES:
                        self._states[source] = FileState(source, "failed", error)
            self.done = self.total
        self._finished.set()


class IngestJobs:
    """The process's ingest runs: at most one running per collection, the recent ones kept for the page."""

    def __init__(self) -> None:
        self._jobs: list[IngestJob] = []
        self._lock = threading.Lock()

    def start(self, collection: str, started_by: str, work: Work) -> IngestJob:
        """Run `work(track)` in a background thread; refused while another run writes to the collection."""
        with self._lock:
            self.check_idle(collection)
            job = IngestJob(collection, started_by)
            self._jobs.insert(0, job)
            running = [j for j in self._jobs if j.running]
            self._jobs = running + [j for j in self._jobs if not j.running][:KEEP_FINISHED]
        threading.Thread(target=_run, args=(job, work), name=f"ingest-{collection}", daemon=True).start()
        return job

    def check_idle(self, collection: str) -> None:
        """Raise when a run is writing to the collection now."""
        busy = next((j for j in self._jobs if j.collection == collection and j.running), None)
        if busy:
            raise PolydeskError(
                f"An ingest started by {busy.started_by} is still writing to {collection}: wait until it "
                "finishes (its progress is shown on the Documents page), then try again."
            )

    def recent(self) -> list[IngestJob]:
        """Running and recently finished runs, newest first."""
        with self._lock:
            return list(self._jobs)


def _run(job: IngestJob, work: Work) -> None:
    """The body of a job's thread: never lets an exception escape without recording it."""
    try:
        job.finish(work(job.track))
    except PolydeskError as exc:
        job.finish(None, str(exc))
    except Exception as exc:  # noqa: BLE001 - a background thread must record every failure for the page
        job.finish(None, f"The ingest stopped on an unexpected error ({type(exc).__name__}: {exc}); files "
                         "ingested before it are stored, the rest are not. Run it again after fixing the cause.")
