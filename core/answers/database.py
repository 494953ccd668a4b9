"""The POLYDESK_DATABASE_URL database: URL checks, SQLite made safe for several writing processes, clear errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from core.errors import BackendUnavailable, ConfigError

URL_SETTING = "POLYDESK_DATABASE_URL"
URL_EXAMPLES = "sqlite:///data/polydesk.db or postgresql+psycopg://user:password@host:5432/polydesk"
CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 30  # how long a writer waits for another process's write to finish
WRITE = "polydesk_write"  # execution option: this transaction writes (SQLite: take the write lock at BEGIN)


class Database:
    """One engine on the configured database; `reading` and `writing` give a connection in one transaction."""

    def __init__(self, url: str) -> None:
        parsed = _parse_url(url)
        self.location = parsed.render_as_string(hide_password=True)
        self.engine = _open_engine(parsed, self.location)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads; driver errors become BackendUnavailable."""
        with self.errors(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction, committed at the end (SQLite: BEGIN IMMEDIATE, waiting for other writers)."""
        with self.errors(), self.engine.execution_options(**{WRITE: True}).begin() as connection:
            yield connection

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn driver errors (server down, file unreadable, bad credentials) into BackendUnavailable."""
        try:
            yield
        except DBAPIError as exc:
            raise BackendUnavailable(
                f"The database {self.location} ({URL_SETTING}) cannot be used: {exc.orig}. Check that the server "
                f"is running and the credentials are right, or that the SQLite file and its folder are writable; "
                f"or set {URL_SETTING} to another database, e.g. {URL_EXAMPLES}.") from exc

    def close(self) -> None:
        """Close the pooled connections; the engine opens new ones if used again."""
        self.engine.dispose()


def _parse_url(url: str) -> URL:
    """A SQLAlchemy URL, or ConfigError naming the setting with an example."""
    try:
        return make_url(url)
    except ArgumentError:
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        raise ConfigError(f"{URL_SETTING}={shown!r} is not a database URL: use e.g. {URL_EXAMPLES}.") from None


def _open_engine(url: URL, location: str) -> Engine:
    """An engine for the URL; SQLite gets its folder, WAL and real transactions, servers a timeout and pre-ping."""
    backend = url.get_backend_name()
    options: dict[str, Any] = {}
    if backend == "sqlite":
        _prepare_sqlite_folder(url, location)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    else:
        options["pool_pre_ping"] = True  # a long-running app outlives server restarts
    if backend == "postgresql":
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(url, **options)
    except NoSuchModuleError:
        raise ConfigError(f"{URL_SETTING}={location!r}: SQLAlchemy has no database dialect or driver "
                          f"{url.drivername!r}. Fix the scheme, e.g. {URL_EXAMPLES}.") from None
    except ImportError as exc:
        raise ConfigError(f"{URL_SETTING}={location!r} needs the database driver module {exc.name or str(exc)!r}, "
                          f"which is not installed: pip install the package that provides it (for PostgreSQL "
                          f"'psycopg[binary]' with postgresql+psycopg://...), or name an installed driver in the "
                          f"URL.") from None
    if backend == "sqlite":
        _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    """WAL (readers never wait for a writer; a power cut may lose the last commits, never corrupts the file) and
    transactions that SQLAlchemy begins, DDL included; a write transaction takes the write lock at BEGIN so that
    concurrent writers wait their turn instead of failing."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None  # the driver's own implicit BEGIN off: ours below
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # WAL's advice: no sync per commit, never corrupt

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE) else "BEGIN")


def _prepare_sqlite_folder(url: URL, location: str) -> None:
    """Create the folder of a SQLite file; an in-memory database is refused (each thread would get its own)."""
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise ConfigError(f"{URL_SETTING}={location!r} is an in-memory SQLite database: it is lost on restart "
                          f"and not shared between the app's threads. Use a file, e.g. sqlite:///data/polydesk.db.")
    if database.startswith("file:"):  # SQLite URI filenames: left to SQLite
        return
    folder = Path(database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{URL_SETTING}={location!r}: cannot create the folder {folder} ({exc.strerror}). "
                          f"Point it at a writable place, e.g. sqlite:///data/polydesk.db.") from exc
