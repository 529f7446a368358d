"""Who the client is: the right-most address no trusted proxy vouches for. Pure, no I/O.

A hop is trusted when its address is in the configured proxy networks (a load balancer in front
of the gateway), or, for the direct peer only, when it presents one of the configured proxy keys
(the web service, which calls the gateway on behalf of browsers; on loopback an address proves
nothing, since every local process shares it). `X-Forwarded-For` is read only through trusted
hops, from the right: each proxy appends the address it saw, so everything left of the first
untrusted address may be made up by the client."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(raw: str) -> IPAddress | None:
    """An address from a forwarded entry: `1.2.3.4`, `1.2.3.4:567`, `::1`, `[::1]` or `[::1]:567`."""
    value = raw.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # IPv4 with a port; bare IPv6 has at least two colons
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(values: Iterable[str]) -> list[IPNetwork]:
    """Networks from addresses or CIDRs; raises ValueError on anything else."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


class ClientAddresses:
    def __init__(self, *, trusted_proxies: Sequence[str] = (), proxy_keys: Sequence[str] = ()) -> None:
        self.networks = parse_networks(trusted_proxies)
        self._keys = [k.encode() for k in proxy_keys if k]

    def is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def vouched(self, presented: str | None) -> bool:
        """Whether the peer presented a proxy key; compared in constant time against every key."""
        if not presented or not self._keys:
            return False
        value = presented.encode()
        found = False
        for key in self._keys:
            found |= hmac.compare_digest(value, key)
        return found

    def resolve(self, peer: str, forwarded_for: Sequence[str], *, peer_vouched: bool = False) -> str:
        """The client's address, given the socket peer and the X-Forwarded-For header values in order."""
        current = parse_address(peer)
        if current is None:
            return peer
        if not (peer_vouched or self.is_trusted(current)):
            return str(current)
        entries = [entry for value in forwarded_for for entry in value.split(",") if entry.strip()]
        for raw in reversed(entries):
            address = parse_address(raw)
            if address is None:
                # Only a trusted hop can have written this; the last address we could read stands.
                return str(current)
            if not self.is_trusted(address):
                return str(address)
            current = address
        return str(current)


def bucket_key(address: str, *, ipv6_prefix: int = 64) -> str:
    """The rate-limit key for an address: IPv6 clients are counted per network (a /64 is one
    subscriber's, and holds more addresses than any table could), IPv4 clients per address."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False))
    return str(parsed) if parsed is not None else address
