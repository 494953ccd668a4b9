"""Admin access: argon2 password hashes, sign-in throttling, expiring admin sessions, the SSO allow-list."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import SecretStr

from core.errors import ConfigError, NotAuthorized, WeakPassword
from core.settings import ENV_PREFIX, SECRETS_FILE, SECRETS_TABLE

MIN_PASSWORD_CHARS = 12
HASH_VARIABLE = f"{ENV_PREFIX}ADMIN_PASSWORD_HASH"
SESSION_VARIABLE = f"{ENV_PREFIX}SESSION_MINUTES"
SET_PASSWORD_COMMAND = "polydesk admin set-password"

NOT_CONFIGURED_MESSAGE = (
    "No admin is configured, so documents cannot be changed. To configure one, run "
    f"`{SET_PASSWORD_COMMAND}` and put the hash it prints in the environment variable {HASH_VARIABLE} "
    f"or as `admin_password_hash` in the [{SECRETS_TABLE}] table of {SECRETS_FILE.as_posix()}, then restart Polydesk."
)
WRONG_CREDENTIALS_MESSAGE = "Wrong user name or password."

Method = Literal["password", "sso"]
Clock = Callable[[], float]

# RFC 9106 "low memory" profile (argon2id, 64 MiB, t=3, p=4): about 0.2 s per hash or verification.
_HASHER = PasswordHasher()


def hash_password(plain: str, *, hasher: PasswordHasher | None = None) -> str:
    """The argon2id hash of a new admin password of at least MIN_PASSWORD_CHARS characters."""
    if len(plain) < MIN_PASSWORD_CHARS:
        raise WeakPassword(
            f"The password has {len(plain)} characters; use at least {MIN_PASSWORD_CHARS} "
            "(a few random words make a good one)."
        )
    return (hasher or _HASHER).hash(plain)


def verify_password(password_hash: str, plain: str) -> bool:
    """Whether `plain` matches the hash; False for a wrong password, ConfigError for a malformed hash."""
    try:
        return _HASHER.verify(password_hash.strip(), plain)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError, UnicodeEncodeError) as exc:  # the hash, not the password
        detail = f" ({exc})" if isinstance(exc, VerificationError) and str(exc) else ""
        raise ConfigError(
            f"{HASH_VARIABLE} is not a valid argon2 password hash{detail}; it should look like "
            f"$argon2id$v=19$m=...: run `{SET_PASSWORD_COMMAND}` and configure the whole hash it prints."
        ) from None


@dataclass
class _Streak:
    """Consecutive failures of one key and the lock-out they caused."""

    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Per-key failure counter: after `max_failures` in a row, each further failure locks the key for
    `base_delay` seconds doubling up to `max_delay`. A streak is forgotten after a success, or once
    `window` seconds pass without a failure after the last lock-out ended. Thread-safe; `clock` returns
    monotonic seconds and is injectable for tests."""

    def __init__(self, max_failures: int = 5, base_delay: float = 30.0, max_delay: float = 900.0,
                 window: float = 900.0, clock: Clock = time.monotonic, max_keys: int = 10_000) -> None:
        if max_failures < 1 or base_delay <= 0 or max_delay < base_delay or window <= 0 or max_keys < 1:
            raise ValueError("LoginThrottle needs max_failures >= 1, 0 < base_delay <= max_delay, window > 0, "
                             "max_keys >= 1")
        self.max_failures = max_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._streaks: dict[str, _Streak] = {}

    def check(self, key: str) -> float:
        """Seconds to wait before `key` may try again; 0 when an attempt is allowed now."""
        with self._lock:
            streak = self._streaks.get(key)
            return max(0.0, streak.locked_until - self._clock()) if streak else 0.0

    def failures(self, key: str) -> int:
        """Consecutive failures counted for `key` (0 once its streak is forgotten)."""
        with self._lock:
            streak = self._streaks.get(key)
            if streak is None or self._stale(streak, self._clock()):
                return 0
            return streak.failures

    def failure(self, key: str) -> None:
        """Count a failed attempt; from the `max_failures`-th on, lock the key out for a growing delay."""
        with self._lock:
            self._count_failure(key, self._clock())

    def attempt(self, keys: Sequence[str]) -> float:
        """Seconds to wait when one of `keys` is locked out (nothing counted); else 0, with the attempt counted as a
        failure of every key in the same step, so that concurrent attempts cannot slip past a lock-out."""
        with self._lock:
            now = self._clock()
            wait = max((s.locked_until - now for k in keys if (s := self._streaks.get(k))), default=0.0)
            if wait > 0:
                return wait
            for key in keys:
                self._count_failure(key, now)
            return 0.0

    def success(self, key: str | Sequence[str]) -> None:
        """Forget the failures of a key (or keys) after a successful sign-in."""
        with self._lock:
            for one in [key] if isinstance(key, str) else key:
                self._streaks.pop(one, None)

    def _count_failure(self, key: str, now: float) -> None:
        """One more failure of `key` (the caller holds the lock)."""
        streak = self._streaks.get(key)
        if streak is None:
            streak = self._streaks[key] = _Streak()
        if self._stale(streak, now):
            streak.failures = 0
        streak.failures += 1
        streak.last_failure = now
        excess = streak.failures - self.max_failures
        if excess >= 0:
            delay = self.max_delay if excess >= 64 else min(self.base_delay * 2**excess, self.max_delay)
            streak.locked_until = now + delay
        if len(self._streaks) > self.max_keys:
            self._prune(now)

    def _stale(self, streak: _Streak, now: float) -> bool:
        """Whether the streak is old enough to forget."""
        return now > max(streak.last_failure, streak.locked_until) + self.window

    def _prune(self, now: float) -> None:
        """Bound memory: drop stale streaks, then the least recently failed ones (never a locked key)."""
        for key in [k for k, s in self._streaks.items() if self._stale(s, now)]:
            del self._streaks[key]
        by_age = sorted(self._streaks.items(), key=lambda item: item[1].last_failure)
        for key, streak in by_age[: max(0, len(self._streaks) - self.max_keys)]:
            if streak.locked_until <= now:
                del self._streaks[key]


@dataclass(frozen=True)
class AuthResult:
    """The outcome of a sign-in attempt; `message` is for the person signing in."""

    ok: bool
    reason: Literal["ok", "not_configured", "throttled", "invalid"]
    message: str = ""
    retry_after: float = 0.0
    user: str | None = None


def authenticate(user: str, password: str, *, admin_user: str, password_hash: SecretStr | str | None,
                 throttle: LoginThrottle, key: str | Sequence[str]) -> AuthResult:
    """Check an admin sign-in: throttled, unconfigured, wrong (one generic message) or accepted; the attempt is
    counted against every throttle key (see `throttle_keys`) before the password is verified."""
    stored = password_hash.get_secret_value() if isinstance(password_hash, SecretStr) else password_hash
    if not stored or not stored.strip():
        return AuthResult(False, "not_configured", NOT_CONFIGURED_MESSAGE)
    keys = [key] if isinstance(key, str) else list(key)
    wait = throttle.attempt(keys)
    if wait > 0:
        seconds = math.ceil(wait)
        return AuthResult(False, "throttled", f"Too many failed sign-ins. Try again in {seconds} s.", wait)
    # Always verify, even for an unknown user name, so that timing does not reveal which names exist.
    password_ok = verify_password(stored, password)
    user_ok = hmac.compare_digest(user.strip().encode(), admin_user.strip().encode())
    if not (user_ok and password_ok):
        return AuthResult(False, "invalid", WRONG_CREDENTIALS_MESSAGE)
    throttle.success(keys)
    return AuthResult(True, "ok", user=admin_user.strip())


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin; times are monotonic seconds from the same clock as `now` in is_valid."""

    user: str
    method: Method
    issued_at: float
    expires_at: float

    def is_valid(self, now: float) -> bool:
        """Whether the session is live at `now` (a clock mix-up puts `now` outside and fails closed)."""
        return self.issued_at <= now < self.expires_at


def new_session(user: str, method: Method, minutes: int, now: float) -> AdminSession:
    """A session for `user` that lasts `minutes` from `now` (e.g. time.monotonic())."""
    if method not in ("password", "sso"):
        raise ValueError(f"method must be 'password' or 'sso', got {method!r}")
    if not user.strip():
        raise ValueError("an admin session needs a user name")
    if minutes <= 0:
        raise ConfigError(f"{SESSION_VARIABLE} must be a positive number of minutes, got {minutes}.")
    return AdminSession(user.strip(), method, now, now + minutes * 60.0)


def require_admin(session: object, now: float) -> None:
    """Raise NotAuthorized unless `session` is a live AdminSession; every write path calls this first."""
    if not isinstance(session, AdminSession):
        raise NotAuthorized("This action is for admins: sign in on the Documents page as an admin first.")
    if not session.is_valid(now):
        raise NotAuthorized("Your admin session has expired: sign in again on the Documents page.")


def is_admin_email(email: str | None, allow_list: str) -> bool:
    """Whether `email` is in the comma-separated allow-list (exact address, case-insensitive; empty: nobody)."""
    wanted = (email or "").strip().lower()
    if not wanted:
        return False
    return any(wanted == entry.strip().lower() for entry in allow_list.split(",") if entry.strip())


def set_password_instructions(password_hash: str, admin_user: str = "admin") -> str:
    """What `polydesk admin set-password` prints: the hash and the two ways to configure it."""
    if not password_hash.startswith("$argon2") or "'" in password_hash or "\n" in password_hash:
        raise ValueError("set_password_instructions expects a hash made by hash_password")
    return (
        f"Admin password hash for user '{admin_user}' created. Configure it in ONE of these ways, "
        "then restart Polydesk:\n"
        "\n"
        "  1. Environment variable (e.g. in the service's environment):\n"
        f"       export {HASH_VARIABLE}='{password_hash}'\n"
        "\n"
        f"  2. {SECRETS_FILE.as_posix()} (keep this file out of version control):\n"
        f"       [{SECRETS_TABLE}]\n"
        f"       admin_password_hash = '{password_hash}'\n"
        "\n"
        f"The user name is '{admin_user}' (change it with {ENV_PREFIX}ADMIN_USER or `admin_user`). "
        "The password itself is not stored anywhere; to change it, run this command again.\n"
    )


@lru_cache(maxsize=1)
def login_throttle() -> LoginThrottle:
    """The process's sign-in throttle, shared by every browser session (keyed by user name and address)."""
    return LoginThrottle()


def throttle_keys(user: str, address: object) -> tuple[str, str]:
    """The throttle keys of a sign-in attempt: the user name as typed (case-insensitive), and the client's address
    (anything but a non-empty string counts as one unknown address); either one locked out refuses the attempt."""
    known = address if isinstance(address, str) and address else "unknown address"
    return f"user|{user.strip().casefold()}", f"address|{known}"
