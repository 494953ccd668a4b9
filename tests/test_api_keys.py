"""API keys: stored hashed, checked, revoked, in a real SQLite database."""

import pytest

from core.errors import ConfigError
from core.ops.api.keys import KeyStore


def test_key_is_stored_hashed_and_checked(tmp_path):
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    key = store.create("zendesk", "ask")
    assert (tmp_path / "keys.db").read_bytes().find(key.encode()) == -1
    assert store.check(key).name == "zendesk"
    assert store.check(key + "x") is None
    assert store.has_keys()


def test_revoked_key_stops_working(tmp_path):
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    key = store.create("bot", "admin")
    store.revoke("bot")
    assert store.check(key) is None
    assert not store.has_keys()
    assert store.list()[0].revoked_at is not None
    with pytest.raises(ConfigError, match="No active key"):
        store.revoke("bot")


def test_bad_scope_and_duplicate_name_are_clear_errors(tmp_path):
    store = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    with pytest.raises(ConfigError, match="Unknown scope"):
        store.create("x", "root")
    store.create("x", "ask")
    with pytest.raises(ConfigError, match="exists already"):
        store.create("x", "ask")
