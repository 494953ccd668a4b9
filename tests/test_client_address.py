"""The sign-in address believes X-Forwarded-For only from the proxies an operator configured."""

from __future__ import annotations

import pytest

from core.admin.client_address import client_address, trusted_networks
from core.errors import ConfigError


@pytest.mark.parametrize(("peer", "forwarded", "proxies", "expected"), [
    ("198.51.100.7", ["203.0.113.99"], "", "198.51.100.7"),  # nobody trusted: the header is ignored
    (None, ["203.0.113.99"], "", "127.0.0.1"),  # a loopback peer, not trusted either
    ("10.0.0.2", ["203.0.113.99"], "10.0.0.0/8", "203.0.113.99"),
    ("10.0.0.2", ["1.2.3.4, 203.0.113.99, 10.0.0.5"], "10.0.0.0/8", "203.0.113.99"),  # the forged left hop stays
    (None, ["203.0.113.99"], "127.0.0.1", "203.0.113.99"),
    ("198.51.100.7", ["203.0.113.99"], "10.0.0.0/8", "198.51.100.7"),  # an untrusted peer's header is ignored
    ("10.0.0.2", [], "10.0.0.0/8", "10.0.0.2"),
    ("10.0.0.2", ["not-an-address"], "10.0.0.0/8", "not-an-address"),
])
def test_client_address(peer, forwarded, proxies, expected):
    assert client_address(peer, forwarded, trusted_networks(proxies)) == expected


def test_a_bad_proxy_entry_names_the_setting():
    with pytest.raises(ConfigError, match="POLYDESK_TRUSTED_PROXIES holds 'proxy.local'"):
        trusted_networks("10.0.0.1, proxy.local")
