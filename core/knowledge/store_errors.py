"""Failures under the store as errors that say what to check: an unreachable server, a broken store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from core.errors import BackendUnavailable, StoreBroken


@contextmanager
def store_errors(location: str) -> Iterator[None]:
    """Turn an unreachable Chroma server into BackendUnavailable and a damaged or unwritable store into StoreBroken."""
    from chromadb.errors import InternalError

    try:
        yield
    except (httpx.TransportError, ConnectionError, TimeoutError) as exc:
        raise BackendUnavailable(
            f"The Chroma store at {location} cannot be reached ({type(exc).__name__}): check that the server "
            "is running and POLYDESK_CHROMA_URL is right."
        ) from exc
    except ValueError as exc:  # chromadb's client says "Could not connect to a Chroma server" this way
        if "could not connect" not in str(exc).lower():
            raise
        raise BackendUnavailable(
            f"The Chroma store at {location} cannot be reached: check that the server is running and "
            "POLYDESK_CHROMA_URL is right."
        ) from exc
    except (InternalError, sqlite3.Error, OSError) as exc:
        raise broken(location, exc) from exc
    except BaseException as exc:  # a Rust panic inside chromadb (pyo3's PanicException derives from BaseException)
        if type(exc).__name__ != "PanicException":
            raise
        raise broken(location, exc) from exc


def broken(location: str, exc: BaseException) -> StoreBroken:
    """The message for a store that cannot be read or written."""
    detail = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).strip().splitlines()[0][:200]
    if location.startswith(("http://", "https://")):
        advice = "check the Chroma server's log and its disk (free space, permissions)"
    else:
        advice = ("check that the folder exists and is writable, that its disk has free space, and that "
                  "chroma.sqlite3 is not damaged; if it is, restore the folder from a backup, or point "
                  "POLYDESK_CHROMA_PATH at a new folder and ingest the documents again")
    return StoreBroken(f"The Chroma store at {location} cannot be used ({detail}): {advice}.")
