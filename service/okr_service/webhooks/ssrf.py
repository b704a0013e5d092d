"""The SSRF guard: webhooks reach public addresses only, checked when the socket connects.

Checking a URL once at subscription time is not enough (DNS can change, or answer
differently each time: rebinding). So the HTTP client's network backend resolves the host
itself, refuses if any address is blocked, and connects to the address it checked; TLS
still verifies the certificate against the URL's host name (httpcore passes it as SNI).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

from okr_service.kit.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


@dataclass(frozen=True)
class AddressPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()
    allow_http: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "AddressPolicy":
        cidrs = [part.strip() for part in settings.webhook_allowed_cidrs.split(",")]
        return cls(
            allowed_networks=tuple(ipaddress.ip_network(cidr) for cidr in cidrs if cidr),
            allow_http=settings.webhook_allow_http,
        )

    def permits(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed_networks):
            return True
        return is_public(address)

    def check(self, addresses: Iterable[IPAddress], host: str) -> None:
        for address in addresses:
            if not self.permits(address):
                raise BlockedAddress(f"{host} resolves to a blocked address ({address}).")


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, also once unwrapped from IPv6 forms that embed IPv4."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise BlockedAddress(f"{host} does not resolve.") from error
    # The scope of a link-local IPv6 answer ("fe80::1%eth0") is not part of the address.
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )


def url_problem(url: str, policy: AddressPolicy) -> str | None:
    """Why `url` is not acceptable as an endpoint without resolving it, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        return "Must be an https:// URL." if not policy.allow_http else "Must be an http(s) URL."
    if not parts.hostname:
        return "The URL needs a host."
    if parts.username or parts.password:
        return "Credentials in the URL are not accepted; verify signatures instead."
    if port == 0:
        return "Not a valid port."
    return None


async def check_url(url: str, policy: AddressPolicy) -> None:
    """Raise BlockedAddress if `url` is malformed or its host resolves to a blocked address."""
    problem = url_problem(url, policy)
    if problem is not None:
        raise BlockedAddress(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    policy.check(await resolve(host, parts.port or 443), host)


class GuardedNetworkBackend(AsyncNetworkBackend):
    """Connects only to addresses the policy permits, to the very address it checked."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await resolve(host, port)
        self.policy.check(addresses, host)
        return await self.inner.connect_tcp(
            str(addresses[0]), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        raise BlockedAddress("Unix sockets are not webhook endpoints.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        # One TLS context (its CA bundle costs about 0.7 MB), for httpx's pool and ours.
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx offers no public hook for the network backend: rebuild its pool around ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy),
        )


def guarded_client(
    policy: AddressPolicy, *, timeout: float, max_connections: int = 100
) -> httpx.AsyncClient:
    """The client every webhook goes out with: guarded, no redirects, no proxies from env."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, limits),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
