"""Who is asking: the client address that per-address limits count by.

The address is the socket's peer, unless that peer is one of REGISTRY_TRUSTED_PROXIES: then
uvicorn has already put the client named in X-Forwarded-For in its place (registry/server.py
passes the list as `forwarded_allow_ips`). With no trusted proxies (the default), a client
cannot choose its own address by sending the header.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The address per-client limits count by (None when the server knows no peer, as on a Unix socket)."""
    return connection.client.host if connection.client else None
