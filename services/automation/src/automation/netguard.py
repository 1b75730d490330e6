"""SSRF guard for outgoing HTTP: refuse loopback, private, link-local, metadata and
other non-public addresses unless an allow-list names the host or its network.

The check runs on the addresses DNS returns at request time and the request is
sent to the address that was checked (so a name cannot be re-pointed between
the check and the connection).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddressError(Exception):
    """The destination is not a public address and no allow-list entry permits it."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> AllowList:
        """``"localhost, 127.0.0.0/8, ::1"``: host names and CIDR ranges."""
        items = text.split(",") if isinstance(text, str) else list(text)
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in items:
            item = raw.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(
            address in net for net in self.networks
        )


def classify(address: IPAddress) -> str | None:
    """Why an address is not public (``"loopback"``, ``"private"``...), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return classify(address.ipv4_mapped)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata lives here)"
    if address.is_private:
        return "private"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved or address.is_unspecified:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


async def resolve_checked(
    host: str, port: int, allow: AllowList, dns_timeout: float = 5.0
) -> IPAddress:
    """The first address of ``host`` after checking every address DNS returned."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses: list[IPAddress] = [literal]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(dns_timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise BlockedAddressError(f"cannot resolve {host!r}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise BlockedAddressError(f"{host!r} has no addresses")
    for address in addresses:
        reason = classify(address)
        if reason and not allow.permits(host, address):
            raise BlockedAddressError(
                f"{host!r} resolves to {address}, a {reason} address; "
                "allow it explicitly in the allowed hosts setting"
            )
    return addresses[0]
