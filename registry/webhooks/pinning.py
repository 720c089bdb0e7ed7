"""The worker's HTTP client: it connects only to addresses `addresses.lookup` has just checked.

Checking a name and then letting httpx resolve it again on connect leaves a gap a hostile DNS
server can use (DNS rebinding): a public address for the check, 127.0.0.1 for the connect. So
the name is resolved once, in the network backend where httpcore opens its connections, and the
socket goes to the checked address itself. Everything above the socket still uses the URL's
name: the Host header, TLS SNI and certificate verification, and the pool's key (a connection
made for one name is never lent to another name that happens to share an address). A connection
kept alive (5 s at most) is used again without a new lookup: it leads where the check said when
it was opened.

httpx has no parameter for a network backend, only httpcore's pool has one; so the transport is
httpx's own with its pool built again around ours. `_pool` is the one private name we rely on; if
it stopped working, httpx would look names up itself and test_ssrf.py's rebinding test would fail.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable

import httpcore
import httpx

from registry.webhooks import addresses

# httpx's own defaults, written out because the pool is built here.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the name once per connection, then connects to what was checked."""

    def __init__(self, *, production: bool) -> None:
        self.production = production
        self.network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # The lookup and the tries share the connect timeout, as they did when httpx looked up the name.
        try:
            async with asyncio.timeout(timeout):
                return await self._connect_checked(host, port, local_address, socket_options)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection to {host} within {timeout} s") from None

    async def _connect_checked(
        self,
        host: str,
        port: int,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        """Each checked address in turn (httpx would have raced them, 250 ms apart: in turn is slower
        only when an address does not answer)."""
        failures: list[httpcore.ConnectError] = []
        for address in await addresses.lookup(host, port, production=self.production):
            try:
                return await self.network.connect_tcp(
                    address, port, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                failures.append(exc)
        raise failures[-1]  # getaddrinfo answers at least one address or raises

    async def sleep(self, seconds: float) -> None:
        await self.network.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (its request and error mapping) over a pool that connects through PinnedBackend."""

    def __init__(self, *, production: bool, ssl_context: ssl.SSLContext | None = None) -> None:
        """`ssl_context`: the certificates to trust, when not the usual ones (a test's own authority)."""
        super().__init__(trust_env=False, limits=LIMITS)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=PinnedBackend(production=production),
        )


def pinned_client(*, production: bool, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The client the worker posts webhooks with.

    trust_env=False: no proxy or .netrc from the environment (a proxy would resolve the name
    itself). Redirects are not followed: an agency's URL must answer itself, and a redirect could
    lead to an address we refuse.
    """
    return httpx.AsyncClient(
        transport=PinnedTransport(production=production), timeout=timeout, trust_env=False, follow_redirects=False
    )
