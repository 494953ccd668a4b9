"""One writer per store across processes: a file lock beside an embedded store, a lease record on a Chroma server.

A second writer waits up to `wait` seconds (saying so once), then is refused with StoreBusy. On a server the lease is
a dedicated Chroma collection whose creation is the atomic step; it names its owner and an expiry that the writer
renews between batches, so a writer that died frees the store once its lease has expired.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from core.errors import StoreBusy

LOCK_FILE = "polydesk-write.lock"
LEASE_COLLECTION = "lease-polydesk-writer"  # not under the collections' prefix, so never listed as one
LEASE_SECONDS = 120.0
POLL_SECONDS = 0.2
log = logging.getLogger(__name__)
Notify = Callable[[str], None]


class WriteLock(Protocol):
    """Held while a write is in progress; `renew` keeps a long write's claim alive."""

    def held(self) -> Any: ...  # a context manager
    def renew(self) -> None: ...


class NoLock:
    """For a store only this process writes to (benchmarks)."""

    @contextmanager
    def held(self) -> Iterator[None]:
        """Nothing to take."""
        yield

    def renew(self) -> None:
        """Nothing to renew."""


class FileWriteLock:
    """An OS file lock next to an embedded store; the OS frees it when its process ends."""

    def __init__(self, folder: Path, wait: float, notify: Notify | None = None) -> None:
        from filelock import FileLock

        self.path = folder / LOCK_FILE
        self.wait = wait
        self.notify = notify or log.warning
        self._lock = FileLock(str(self.path), thread_local=False)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Take the lock, waiting at most `wait` seconds for another writer."""
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            self.notify(f"waiting for another writer to finish with the store at {self.path.parent} "
                        f"(up to {self.wait:g} s) ...")
            try:
                self._lock.acquire(timeout=self.wait)
            except Timeout:
                raise _busy(str(self.path.parent), self.wait) from None
        try:
            yield
        finally:
            self._lock.release()

    def renew(self) -> None:
        """A file lock does not expire."""


class ServerLease:
    """A lease record in a dedicated collection of a Chroma server: owner id and expiry, renewed while writing."""

    def __init__(self, client: Any, location: str, wait: float, notify: Notify | None = None,
                 seconds: float = LEASE_SECONDS) -> None:
        self.client = client
        self.location = location
        self.wait = wait
        self.seconds = seconds
        self.notify = notify or log.warning
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @contextmanager
    def held(self) -> Iterator[None]:
        """Take the lease, waiting at most `wait` seconds for another writer's to end or expire."""
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def renew(self) -> None:
        """Push the expiry forward; refuse to go on when another writer has taken the lease meanwhile."""
        lease = self.client.get_collection(LEASE_COLLECTION, embedding_function=None)
        if (lease.metadata or {}).get("owner") != self.owner:
            raise StoreBusy(f"The write lease on the Chroma store at {self.location} expired and was taken by "
                            "another writer: run the ingest again (it resumes where it stopped).")
        lease.modify(metadata={"owner": self.owner, "expires": time.time() + self.seconds})

    def _acquire(self) -> None:
        """Create the lease collection (atomic on the server); clear an expired one; wait for a live one."""
        deadline, told = time.monotonic() + self.wait, False
        while True:
            try:
                self.client.create_collection(LEASE_COLLECTION, embedding_function=None,
                                              metadata={"owner": self.owner, "expires": time.time() + self.seconds})
                return
            except Exception as exc:  # chromadb raises InternalError "already exists"
                if "already exists" not in str(exc):
                    raise
            holder = self._holder()
            if holder is not None and float(holder.get("expires", 0)) < time.time():
                self._delete_if(holder.get("owner"))
                continue
            if time.monotonic() >= deadline:
                raise _busy(self.location, self.wait)
            if not told:
                self.notify(f"waiting for another writer ({holder.get('owner') if holder else 'unknown'}) to finish "
                            f"with the Chroma store at {self.location} (up to {self.wait:g} s) ...")
                told = True
            time.sleep(POLL_SECONDS)

    def _holder(self) -> dict[str, Any] | None:
        """The lease's metadata, or None when it vanished meanwhile."""
        from chromadb.errors import NotFoundError

        try:
            return dict(self.client.get_collection(LEASE_COLLECTION, embedding_function=None).metadata or {})
        except NotFoundError:
            return None

    def _release(self) -> None:
        """Delete the lease if it is still ours."""
        self._delete_if(self.owner)

    def _delete_if(self, owner: Any) -> None:
        """Delete the lease when its owner is still `owner` (an expired or our own lease)."""
        from chromadb.errors import NotFoundError

        holder = self._holder()
        if holder is None or holder.get("owner") != owner:
            return
        try:
            self.client.delete_collection(LEASE_COLLECTION)
        except NotFoundError:
            pass


def _busy(location: str, wait: float) -> StoreBusy:
    """The refusal when another writer kept the store longer than we wait."""
    return StoreBusy(
        f"Another writer is still writing to the store at {location} after {wait:g} s of waiting: nothing was "
        "written by this run. Run it again when the other ingest has finished, or raise POLYDESK_WRITE_WAIT."
    )
