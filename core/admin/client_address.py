"""The address a request comes from: the connection's peer, or the X-Forwarded-For hop that a configured
proxy (POLYDESK_TRUSTED_PROXIES) vouches for."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from core.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1"  # Streamlit reports a loopback peer as None


def trusted_networks(setting: str) -> tuple[Network, ...]:
    """POLYDESK_TRUSTED_PROXIES: comma-separated addresses or networks (10.0.0.0/8); empty trusts none."""
    networks = []
    for entry in (part.strip() for part in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(f"POLYDESK_TRUSTED_PROXIES holds {entry!r}, which is not an IP address or network: "
                              "list the reverse proxies' addresses, such as 127.0.0.1,10.0.0.0/8.") from None
    return tuple(networks)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: X-Forwarded-For is read, right to left, only while each hop is a trusted proxy."""
    address = peer or LOOPBACK
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    while _is_trusted(address, trusted) and hops:
        address = hops.pop()
    return address


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    """Whether an address lies in one of the trusted networks (an unparsable one never does)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
