"""The one SSRF guard for outgoing HTTP (webhook deliveries and the ``http_request``
step): refuse loopback, private, link-local, metadata and other internal addresses
unless an allow-list (``WEBHOOK_ALLOWED_HOSTS``, ``HTTP_STEP_ALLOWED_HOSTS``) names the
host or its network.

The check runs where the socket is opened (a custom httpcore network backend), on
every address DNS returns at that moment, and the connection goes to an address
that was checked: a name that resolved to a public address when a URL was saved
and to 10.0.0.5 today is refused today, and a name cannot be re-pointed between
the check and the connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from mimeia_telemetry import tracing

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services (AWS/GCP/Azure/DO, AWS IPv6, Alibaba, Oracle).
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class BlockedAddressError(httpcore.ConnectError):
    """A connection was refused because its target is an internal address."""

    def __init__(
        self, host: str, address: str, address_class: str, setting: str = "WEBHOOK_ALLOWED_HOSTS"
    ) -> None:
        self.host = host
        self.address = address
        self.address_class = address_class
        message = (
            f"refused to connect to {host} ({address}): {address_class} address "
            f"not permitted by {setting}"
        )
        if address_class == "metadata":
            # also say which range it sits in ("link-local" for 169.254.169.254)
            underlying = _network_class(ipaddress.ip_address(address))
            message += f" (a {underlying} address)" if underlying else ""
        super().__init__(message)


def address_class(address: IPAddress) -> str | None:
    """Why ``address`` is internal ('loopback', 'private', ...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA_ADDRESSES:
        return "metadata"
    return _network_class(address)


def _network_class(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which internal hosts and networks outgoing requests may still reach.

    ``setting`` names the configuration that holds the allow-list, for error messages.
    """

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)
    setting: str = "WEBHOOK_ALLOWED_HOSTS"

    @classmethod
    def from_setting(
        cls, value: str | Iterable[str] | None, setting: str = "WEBHOOK_ALLOWED_HOSTS"
    ) -> AddressPolicy:
        """Parse an allow-list setting: comma-separated host names and CIDR ranges."""
        if value is None:
            return cls(setting=setting)
        parts = value.split(",") if isinstance(value, str) else list(value)
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in parts:
            item = raw.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(
            allowed_hosts=frozenset(hosts), allowed_networks=tuple(networks), setting=setting
        )

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """The address class that makes ``address`` refused, or None when allowed."""
        if host.lower().rstrip(".") in self.allowed_hosts:
            return None
        if any(address in net for net in self.allowed_networks):
            return None
        return address_class(address)

    def check(self, host: str, address: IPAddress) -> None:
        reason = self.refusal(host, address)
        if reason is not None:
            raise BlockedAddressError(host, str(address), reason, self.setting)


class InvalidWebhookURL(ValueError):
    """A webhook URL that can never be delivered to."""


def check_url(url: str, policy: AddressPolicy) -> str:
    """Validate an endpoint URL when it is saved (DNS is checked again on every connect)."""
    if not isinstance(url, str) or not url:
        raise InvalidWebhookURL("url must be a non-empty string")
    if len(url) > 2048:
        raise InvalidWebhookURL("url is longer than 2048 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidWebhookURL("url must use http or https")
    host = parts.hostname
    if not host:
        raise InvalidWebhookURL("url has no host")
    if parts.username or parts.password:
        raise InvalidWebhookURL("url must not carry credentials")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = policy.refusal(host, literal)
        if reason is not None:
            raise InvalidWebhookURL(f"url points at a {reason} address")
    elif host.lower() in _METADATA_NAMES and host.lower() not in policy.allowed_hosts:
        raise InvalidWebhookURL("url points at a metadata service")
    elif host.lower() == "localhost" and "localhost" not in policy.allowed_hosts:
        raise InvalidWebhookURL("url points at a loopback address")
    return url


async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:  # noqa: ASYNC109
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        # the scope id of link-local IPv6 answers ('fe80::1%eth0') is not part of the address
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every answer, then connects to a checked address."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        # every answer must pass: a name that mixes public and internal answers is refused
        for address in addresses:
            self._policy.check(host, address)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("guarded connections never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def default_ssl_context() -> ssl.SSLContext:
    """TLS for outgoing requests: certificates verified against certifi's CA bundle
    (the one httpx uses), host names checked, TLS 1.2 or newer."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose connections pass the SSRF guard.

    Proxies from the environment are ignored: a proxy would make the connect
    step reach the proxy, not the destination, and the guard would check the wrong host.
    ``ssl_context`` defaults to :func:`default_ssl_context`; pass one that trusts a
    private CA for allow-listed internal hosts.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        keepalive_expiry: float = 5.0,
    ) -> None:
        context = ssl_context if ssl_context is not None else default_ssl_context()
        super().__init__(verify=context, trust_env=False)
        # httpx takes no network backend, so the connection pool is ours: built with
        # the TLS context above (never read back out of httpx's or httpcore's internals)
        # and the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Every outgoing request (webhooks, HTTP steps) in a client span whose
        ``traceparent`` the receiver sees; exactly the parent's call when tracing is off."""
        if not tracing.tracing_enabled():
            return await super().handle_async_request(request)
        with tracing.client_span(request.method, str(request.url), request.headers) as current:
            response = await super().handle_async_request(request)
            tracing.set_http_status(current, response.status_code)
            return response
