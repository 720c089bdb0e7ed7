"""Server-side request forgery: in production a webhook may only point at the public internet.

An agency chooses the URL and the registry's worker posts to it, so a URL naming (or resolving
to) a loopback, private, link-local or otherwise non-global address would let an agency make the
registry call its own internal services. The URL is checked when it is registered and again
whenever the worker connects (a name can be pointed elsewhere later); the worker then connects to
the very addresses that were checked (registry/webhooks/pinning.py), never to a second answer for
the name. Development and the tests allow any address, so a test can run its receiver on loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class RefusedUrl(Exception):
    """The URL may not be called; the message says why, in words for the agency."""


def parts(url: str, *, production: bool) -> tuple[str, int]:
    """Host and port of an acceptable webhook URL (https in production, http(s) otherwise)."""
    split = urlsplit(url)
    schemes = ("https",) if production else ("https", "http")
    if split.scheme not in schemes:
        raise RefusedUrl("must be an https URL" if production else "must be an http(s) URL")
    if split.username is not None or split.password is not None:
        raise RefusedUrl("must not carry a user name or password")
    try:
        port = split.port or (443 if split.scheme == "https" else 80)
    except ValueError:
        raise RefusedUrl("has a port that is not a number from 1 to 65535") from None
    if not split.hostname:
        raise RefusedUrl("has no host")
    return split.hostname, port


async def check(url: str, *, production: bool) -> None:
    """Refuse a URL we will not call; in production also one with any non-public address."""
    host, port = parts(url, production=production)
    if production:
        await lookup(host, port, production=True)


async def lookup(host: str, port: int, *, production: bool) -> list[str]:
    """The addresses `host` resolves to, asked once; in production refused if any is not public.

    Any, not all: a name that answers both a public and a private address could be connected to
    the private one.
    """
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedUrl(f"the host {host} does not resolve") from None
    checked: dict[str, None] = {}
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if production and (not ip.is_global or ip.is_multicast):
            raise RefusedUrl(f"resolves to {ip}, a private, loopback or link-local address")
        checked[str(address[0])] = None
    return list(checked)
