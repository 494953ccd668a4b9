"""API keys: random keys shown once, stored only as SHA-256 hashes in the POLYDESK_DATABASE_URL database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select, update

from core.answers.database import Database
from core.errors import ConfigError

SCOPES = ("ask", "admin")
KEY_PREFIX = "pd_"

metadata = MetaData()
api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("scope", String(10), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class ApiKey:
    """One stored key, without its secret."""

    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Create, list, revoke and check API keys."""

    def __init__(self, url: str) -> None:
        self._engine = Database(url).engine
        metadata.create_all(self._engine)

    def create(self, name: str, scope: str) -> str:
        """Store a new key's hash and return the key itself (shown once)."""
        if scope not in SCOPES:
            raise ConfigError(f"Unknown scope {scope!r}: use one of {', '.join(SCOPES)}.")
        if not name.strip():
            raise ConfigError("A key needs a name: pass --name NAME.")
        with self._engine.begin() as connection:
            if connection.execute(select(api_keys.c.id).where(api_keys.c.name == name)).first():
                raise ConfigError(f"A key named {name!r} exists already: pick another name or revoke it first.")
            key = KEY_PREFIX + secrets.token_urlsafe(32)
            connection.execute(api_keys.insert().values(
                name=name, scope=scope, key_hash=_hash(key), created_at=datetime.now(UTC)))
        return key

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(api_keys).order_by(api_keys.c.id)).all()
        return [ApiKey(row.name, row.scope, row.created_at, row.revoked_at) for row in rows]

    def revoke(self, name: str) -> None:
        """Mark a key revoked; it stops working at once."""
        with self._engine.begin() as connection:
            result = connection.execute(update(api_keys).where(
                api_keys.c.name == name, api_keys.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC)))
        if result.rowcount == 0:
            raise ConfigError(f"No active key named {name!r}: see `polydesk api-key list`.")

    def has_keys(self) -> bool:
        """Whether any active key exists."""
        with self._engine.connect() as connection:
            return connection.execute(select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None))).first() is not None

    def check(self, key: str) -> ApiKey | None:
        """The active key matching `key` (constant-time comparison of hashes), or None."""
        given = _hash(key)
        with self._engine.connect() as connection:
            rows = connection.execute(select(api_keys).where(api_keys.c.revoked_at.is_(None))).all()
        match = None
        for row in rows:
            if hmac.compare_digest(row.key_hash, given):
                match = ApiKey(row.name, row.scope, row.created_at, row.revoked_at)
        return match

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()
