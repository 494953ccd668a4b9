"""Admin access: password hashes, sign-in throttling, authenticate's outcomes, sessions and the SSO allow-list."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from core.admin.auth import (
    NOT_CONFIGURED_MESSAGE,
    WRONG_CREDENTIALS_MESSAGE,
    AdminSession,
    LoginThrottle,
    NotAuthorized,
    WeakPassword,
    authenticate,
    hash_password,
    is_admin_email,
    new_session,
    require_admin,
    set_password_instructions,
    throttle_keys,
    verify_password,
)
from core.errors import ConfigError, PolydeskError

# The library's defaults cost about 0.2 s a hash; tests use the cheapest valid parameters.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def admin_hash() -> str:
    return hash_password(PASSWORD, hasher=FAST)


def test_hash_round_trip(admin_hash):
    assert admin_hash.startswith("$argon2id$") and PASSWORD not in admin_hash
    assert verify_password(admin_hash, PASSWORD)
    assert hash_password(PASSWORD, hasher=FAST) != admin_hash  # salted


def test_default_hasher_is_argon2id_with_real_cost():
    hashed = hash_password("x" * 12)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and verify_password(hashed, "x" * 12)


@pytest.mark.parametrize("plain", ["", "short", "x" * 11])
def test_short_password_refused(plain):
    with pytest.raises(WeakPassword, match="at least 12"):
        hash_password(plain, hasher=FAST)


@pytest.mark.parametrize("wrong", ["", "correct horse battery ", "Correct horse battery", "x" * 200])
def test_wrong_password_is_false(admin_hash, wrong):
    assert verify_password(admin_hash, wrong) is False


@pytest.mark.parametrize("bad", [
    "", "plain-password", "$2b$12$abcdefghijklmnopqrstuu", "$argon2id$v=19$broken",
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$",
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA€",
])
def test_invalid_hash_is_config_error(bad):
    with pytest.raises(ConfigError, match="POLYDESK_ADMIN_PASSWORD_HASH") as info:
        verify_password(bad, PASSWORD)
    assert "polydesk admin set-password" in str(info.value)


def test_hash_with_surrounding_whitespace_still_verifies(admin_hash):
    assert verify_password(f"  {admin_hash}\n", PASSWORD)


def test_throttle_locks_out_after_five_failures():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failure("admin")
        assert throttle.check("admin") == 0
    throttle.failure("admin")
    assert throttle.check("admin") == 30
    clock.advance(10)
    assert throttle.check("admin") == 20
    clock.advance(20)
    assert throttle.check("admin") == 0


def test_throttle_wait_doubles_up_to_the_cap():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failure("admin")
    waits = []
    for _ in range(8):
        throttle.failure("admin")
        waits.append(throttle.check("admin"))
        clock.advance(waits[-1])
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]


def test_success_resets_the_streak():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(6):
        throttle.failure("admin")
    assert throttle.check("admin") == 60
    throttle.success("admin")
    assert throttle.check("admin") == 0 and throttle.failures("admin") == 0
    for _ in range(4):
        throttle.failure("admin")
    assert throttle.check("admin") == 0


def test_streak_is_forgotten_after_a_quiet_window():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, window=600)
    for _ in range(4):
        throttle.failure("admin")
    clock.advance(601)
    assert throttle.failures("admin") == 0
    throttle.failure("admin")
    assert throttle.check("admin") == 0 and throttle.failures("admin") == 1


def test_keys_are_independent():
    throttle = LoginThrottle(clock=FakeClock())
    for _ in range(5):
        throttle.failure("client-a")
    assert throttle.check("client-a") == 30
    assert throttle.check("client-b") == 0 and throttle.failures("client-b") == 0
    throttle.success("client-b")
    assert throttle.check("client-a") == 30


class OverlapClock:
    """A fixed clock that notes how many threads were inside it at once, pausing to invite overlap."""

    def __init__(self) -> None:
        self.inside = self.most_inside = 0
        self.guard = threading.Lock()

    def __call__(self) -> float:
        with self.guard:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0)  # release the GIL in the middle of the throttle's update
        with self.guard:
            self.inside -= 1
        return 1000.0


def test_throttle_counts_concurrent_failures_exactly():
    clock = OverlapClock()
    throttle = LoginThrottle(clock=clock, max_failures=10_000, base_delay=1, max_delay=1)
    threads, keys = 16, 100
    start = threading.Barrier(threads)

    def hammer() -> None:
        start.wait()
        for i in range(keys):  # every thread fails on the same fresh keys at about the same time
            throttle.failure(f"k{i}")
            throttle.failure("shared")
            throttle.check("shared")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        workers = [threading.Thread(target=hammer) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert clock.most_inside == 1  # updates are serialised: the clock is read under the throttle's lock
    assert [throttle.failures(f"k{i}") for i in range(keys)] == [threads] * keys
    assert throttle.failures("shared") == threads * keys


def test_throttle_memory_is_bounded_but_keeps_locked_keys():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, max_keys=10)
    for _ in range(5):
        throttle.failure("attacked")
    for i in range(100):
        clock.advance(0.01)
        throttle.failure(f"random-{i}")
    assert len(throttle._streaks) <= 11
    assert throttle.check("attacked") > 0


@pytest.mark.parametrize("configured", [None, "", "  ", SecretStr(""), SecretStr("\n")])
def test_authenticate_without_admin_explains_how_to_configure(configured):
    throttle = LoginThrottle(clock=FakeClock())
    result = authenticate("admin", PASSWORD, admin_user="admin", password_hash=configured, throttle=throttle,
                          key="admin")
    assert not result.ok and result.reason == "not_configured" and result.message == NOT_CONFIGURED_MESSAGE
    for needle in ("polydesk admin set-password", "POLYDESK_ADMIN_PASSWORD_HASH", "admin_password_hash",
                   "[polydesk]", ".streamlit/secrets.toml"):
        assert needle in result.message
    assert throttle.failures("admin") == 0


def test_authenticate_accepts_the_admin(admin_hash):
    throttle = LoginThrottle(clock=FakeClock())
    throttle.failure("admin")
    result = authenticate(" admin ", PASSWORD, admin_user="admin", password_hash=SecretStr(admin_hash),
                          throttle=throttle, key="admin")
    assert result.ok and result.reason == "ok" and result.user == "admin"
    assert throttle.failures("admin") == 0


@pytest.mark.parametrize(("user", "password"), [("admin", "wrong password!"), ("root", PASSWORD),
                                                ("Admin", PASSWORD), ("", "")])
def test_authenticate_refuses_with_one_generic_message(admin_hash, user, password):
    throttle = LoginThrottle(clock=FakeClock())
    result = authenticate(user, password, admin_user="admin", password_hash=admin_hash, throttle=throttle,
                          key="client")
    assert not result.ok and result.reason == "invalid" and result.message == WRONG_CREDENTIALS_MESSAGE
    assert result.user is None and throttle.failures("client") == 1


def test_authenticate_verifies_the_hash_even_for_an_unknown_user(monkeypatch, admin_hash):
    import core.admin.auth

    calls = []
    monkeypatch.setattr(core.admin.auth, "verify_password", lambda h, p: calls.append((h, p)) or True)
    throttle = LoginThrottle(clock=FakeClock())
    result = authenticate("nobody", PASSWORD, admin_user="admin", password_hash=admin_hash, throttle=throttle,
                          key="client")
    assert not result.ok and calls == [(admin_hash, PASSWORD)]


def test_authenticate_is_throttled_with_the_wait(admin_hash):
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        result = authenticate("admin", "guess guess guess", admin_user="admin", password_hash=admin_hash,
                              throttle=throttle, key="client")
        assert result.reason == "invalid"
    clock.advance(0.5)
    result = authenticate("admin", PASSWORD, admin_user="admin", password_hash=admin_hash, throttle=throttle,
                          key="client")
    assert not result.ok and result.reason == "throttled"
    assert result.retry_after == pytest.approx(29.5) and "30 s" in result.message
    assert throttle.failures("client") == 5  # a refused attempt is not verified and not counted
    clock.advance(30)
    assert authenticate("admin", PASSWORD, admin_user="admin", password_hash=admin_hash, throttle=throttle,
                        key="client").ok


def test_authenticate_with_a_malformed_hash_names_the_variable():
    with pytest.raises(ConfigError, match="POLYDESK_ADMIN_PASSWORD_HASH"):
        authenticate("admin", PASSWORD, admin_user="admin", password_hash="not-a-hash",
                     throttle=LoginThrottle(), key="client")


def test_session_expires():
    clock = FakeClock()
    session = new_session("admin", "password", 60, clock())
    assert isinstance(session, AdminSession) and session.user == "admin" and session.method == "password"
    assert session.is_valid(clock())
    clock.advance(60 * 60 - 1)
    assert session.is_valid(clock())
    require_admin(session, clock())
    clock.advance(1)
    assert not session.is_valid(clock())
    with pytest.raises(NotAuthorized, match="expired"):
        require_admin(session, clock())


def test_session_from_another_clock_is_not_valid():
    session = new_session("a@example.com", "sso", 60, 1_700_000_000.0)  # wall-clock seconds
    assert not session.is_valid(1000.0)  # checked against monotonic seconds: fails closed


def test_session_is_frozen():
    session = new_session("admin", "password", 60, 0.0)
    with pytest.raises(AttributeError):
        session.expires_at = float("inf")  # type: ignore[misc]


@pytest.mark.parametrize(("user", "method", "minutes", "error"), [
    ("admin", "password", 0, ConfigError), ("admin", "password", -5, ConfigError),
    ("admin", "cookie", 60, ValueError), (" ", "sso", 60, ValueError),
])
def test_new_session_rejects_bad_arguments(user, method, minutes, error):
    with pytest.raises(error):
        new_session(user, method, minutes, 0.0)


@pytest.mark.parametrize("session", [None, True, "admin", {"user": "admin", "expires_at": 1e18}])
def test_require_admin_refuses_anything_but_a_session(session):
    with pytest.raises(NotAuthorized, match="sign in") as info:
        require_admin(session, 0.0)
    assert isinstance(info.value, PolydeskError)


@pytest.mark.parametrize(("email", "allow_list", "expected"), [
    ("ana@example.com", "ana@example.com", True),
    ("Ana@Example.COM", " bob@example.com , ana@example.com ", True),
    ("  ana@example.com ", "ANA@EXAMPLE.COM", True),
    ("ana@example.com", "", False),
    ("ana@example.com", " , ,", False),
    ("", "ana@example.com", False),
    (None, "ana@example.com", False),
    ("", "", False),
    ("ana@example.co", "ana@example.com", False),
    ("mallory@evil.com", "ana@example.com,bob@example.com", False),
    ("ana@example.com.evil.com", "ana@example.com", False),
    ("example.com", "ana@example.com", False),
])
def test_is_admin_email(email, allow_list, expected):
    assert is_admin_email(email, allow_list) is expected


def test_set_password_instructions(admin_hash):
    text = set_password_instructions(admin_hash)
    assert f"export POLYDESK_ADMIN_PASSWORD_HASH='{admin_hash}'" in text
    assert f"[polydesk]\n       admin_password_hash = '{admin_hash}'" in text
    assert ".streamlit/secrets.toml" in text and PASSWORD not in text


def test_set_password_instructions_round_trip_through_settings(admin_hash, monkeypatch, tmp_path):
    """The printed secrets.toml lines are valid TOML that yield the hash back unchanged."""
    import tomllib

    text = set_password_instructions(admin_hash)
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(("[polydesk]", "admin_"))]
    table = tomllib.loads("\n".join(lines))["polydesk"]
    assert verify_password(table["admin_password_hash"], PASSWORD)
    export = next(line for line in text.splitlines() if "export" in line).split("=", 1)[1].strip()
    assert export == f"'{admin_hash}'"


def test_set_password_instructions_refuses_a_non_hash():
    with pytest.raises(ValueError):
        set_password_instructions(PASSWORD)


@pytest.mark.parametrize(("user", "address", "expected"), [
    (" Admin ", "10.0.0.7", ("user|admin", "address|10.0.0.7")),
    ("admin", None, ("user|admin", "address|unknown address")),
    ("admin", "", ("user|admin", "address|unknown address")),
])
def test_throttle_keys_are_the_user_and_the_address(user, address, expected):
    assert throttle_keys(user, address) == expected


def test_a_new_address_each_time_does_not_escape_the_user_throttle(admin_hash):
    throttle = LoginThrottle(clock=FakeClock())
    for i in range(5):
        result = authenticate("admin", "guess guess guess", admin_user="admin", password_hash=admin_hash,
                              throttle=throttle, key=throttle_keys("admin", f"203.0.113.{i}"))
        assert result.reason == "invalid"
    result = authenticate("Admin", PASSWORD, admin_user="admin", password_hash=admin_hash, throttle=throttle,
                          key=throttle_keys("Admin", "198.51.100.9"))
    assert result.reason == "throttled"


def test_an_attempt_is_counted_before_its_password_is_verified(monkeypatch, admin_hash):
    """An attempt that arrives while the lock-out-causing one is being verified is refused, not verified."""
    import core.admin.auth

    throttle = LoginThrottle(clock=FakeClock())
    for _ in range(4):
        throttle.failure("user|admin")
    verify, nested = core.admin.auth.verify_password, []

    def verify_while_another_arrives(password_hash: str, plain: str) -> bool:
        if not nested:
            nested.append(authenticate("admin", "second guess!", admin_user="admin", password_hash=admin_hash,
                                       throttle=throttle, key=throttle_keys("admin", "203.0.113.2")))
        return verify(password_hash, plain)

    monkeypatch.setattr(core.admin.auth, "verify_password", verify_while_another_arrives)
    first = authenticate("admin", "first guess!!", admin_user="admin", password_hash=admin_hash, throttle=throttle,
                         key=throttle_keys("admin", "203.0.113.1"))
    assert first.reason == "invalid" and nested[0].reason == "throttled"
