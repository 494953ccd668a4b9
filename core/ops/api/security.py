"""Who may call: Bearer API keys with a scope, and a per-key limit of requests per minute."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from core.ops.api.errors import ApiError
from core.ops.api.keys import ApiKey, KeyStore

WINDOW_S = 60.0
CREATE_HINT = "create one with `polydesk api-key create --name NAME --scope ask` and send `Authorization: Bearer KEY`"


class RateLimiter:
    """At most `per_minute` requests per key in any 60-second window; refusals say when to retry."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, name: str) -> None:
        """Count one request of key `name`, or raise 429 with Retry-After."""
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(name, deque())
            while seen and seen[0] <= now - WINDOW_S:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = max(1, math.ceil(seen[0] + WINDOW_S - now))
                message = (f"Key {name!r} made {self.per_minute} requests in the last minute, the limit "
                           f"(POLYDESK_API_RATE_PER_MINUTE): retry in {wait} s.")
                raise ApiError(429, message, headers={"Retry-After": str(wait)})
            seen.append(now)


class Guard:
    """Checks a request's key and scope, then its rate."""

    def __init__(self, keys: KeyStore, limiter: RateLimiter) -> None:
        self.keys, self.limiter = keys, limiter

    def caller(self, request: Request, scope: str) -> ApiKey:
        """The key behind the request's Bearer token, allowed for `scope` and within its rate."""
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if kind.lower() != "bearer" or not token.strip():
            if not self.keys.has_keys():
                raise ApiError(401, f"No API key exists yet: {CREATE_HINT}.", headers=challenge)
            raise ApiError(401, "This route needs an API key: send `Authorization: Bearer KEY`.", headers=challenge)
        key = self.keys.check(token.strip())
        if key is None:
            raise ApiError(401, "Unknown or revoked API key: check the key, or create a new one with "
                           "`polydesk api-key create`.", headers=challenge)
        if scope == "admin" and key.scope != "admin":
            raise ApiError(403, f"Key {key.name!r} has the ask scope; this route needs a key with "
                           "`--scope admin`.")
        self.limiter.check(key.name)
        return key


def ask_key(request: Request) -> ApiKey:
    """Dependency: a key of either scope."""
    return request.app.state.guard.caller(request, "ask")


def admin_key(request: Request) -> ApiKey:
    """Dependency: a key with the admin scope."""
    return request.app.state.guard.caller(request, "admin")


AskKey = Annotated[ApiKey, Depends(ask_key)]
AdminKey = Annotated[ApiKey, Depends(admin_key)]
