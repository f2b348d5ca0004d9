"""Refuse feeds that point into private networks (SSRF guard for feeds added at run time).

A feed added from the CLI or the API is refused when its host resolves to a loopback, private,
link-local, multicast, reserved, unspecified or otherwise non-global address -- *every* resolved
address is checked, so a name with one public and one private record is refused -- unless
``allow_private_feeds`` is set. ``address_problem`` is the pure check (table-tested); ``check_feed_url``
resolves with ``getaddrinfo`` (passed in, so tests give their own resolver).

At fetch time, ``GuardedTransport`` re-checks the host of every request, redirects included, for the
feeds that were added at run time (``guarded()`` marks the current task), so a feed that redirects to
``http://169.254.169.254/`` is refused there too. Feeds from ``config/feeds.yaml`` are trusted (the
operator wrote them). The name is resolved for the check and again by httpx to connect, so a DNS
answer that changes in between (rebinding) could point the connection elsewhere: the transport also
checks the address the connection actually reached, when the response headers arrive, and refuses
the response before any of its body is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import httpx

from newswatch.errors import ConfigError

Resolver = Callable[[str, int | None], Sequence[str]]

_GUARD: ContextVar[bool] = ContextVar("newswatch_netguard", default=False)


def address_problem(address: str) -> str | None:
    """Why ``address`` may not be fetched (``"loopback"``, ``"private"``...), ``None`` if it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            problem = address_problem(str(mapped))
            return f"{problem} (IPv4 {mapped} inside IPv6)" if problem else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if not ip.is_global:  # shared address space 100.64/10, documentation ranges, ...
        return "not globally routable"
    return None


def system_resolver(host: str, port: int | None) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (any family, TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def url_problem(url: str, resolver: Resolver = system_resolver) -> str | None:
    """Why ``url`` may not be fetched, or ``None``: scheme, host, and every address the host resolves to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http or https"
    host = parts.hostname
    if not host:
        return "no host"
    try:
        port = parts.port
    except ValueError:
        return "invalid port"
    try:
        addresses = [host] if _is_ip(host) else list(resolver(host, port))
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve {host}: {exc}"
    if not addresses:
        return f"{host} resolves to no address"
    for address in addresses:
        problem = address_problem(address)
        if problem:
            shown = host if host == address else f"{host} -> {address}"
            return f"{shown} is a {problem} address"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_feed_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """``ConfigError`` naming the URL when it may not be added as a feed."""
    if allow_private:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{url}: not an http(s) URL with a host")
        return
    problem = url_problem(url, resolver)
    if problem:
        raise ConfigError(
            f"{url}: refused: {problem} (set NEWSWATCH_ALLOW_PRIVATE_FEEDS=true to allow private feeds)"
        )


@contextmanager
def guarded(enabled: bool = True) -> Iterator[None]:
    """Within this block (this task), ``GuardedTransport`` checks every request's host."""
    token = _GUARD.set(enabled)
    try:
        yield
    finally:
        _GUARD.reset(token)


def _peer_address(response: httpx.Response) -> str | None:
    """The IP address the response's connection reached (httpcore's ``network_stream``), if known."""
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    if get_extra_info is None:
        return None
    try:
        server = get_extra_info("server_addr")
    except Exception:  # a stream that cannot say: the pre-connection check stands alone
        return None
    if isinstance(server, tuple) and server:
        return str(server[0])
    return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; in a ``guarded()`` block, a request to a non-public address fails with a
    ``ConnectError`` naming the reason (``fetch_feed`` turns it into an ordinary feed error)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, allow_private: bool, resolver: Resolver = system_resolver
    ) -> None:
        self._inner = inner
        self._allow_private = allow_private
        self._resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _GUARD.get() and not self._allow_private:
            host = request.url.host
            port = request.url.port
            loop = asyncio.get_running_loop()
            resolver = self._resolver

            def resolve(h: str, p: int | None) -> list[str]:
                return list(resolver(h, p))

            try:
                addresses = [host] if _is_ip(host) else await loop.run_in_executor(None, resolve, host, port)
            except OSError as exc:
                raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    raise httpx.ConnectError(
                        f"refused: {host} -> {address} is a {problem} address", request=request
                    )
            response = await self._inner.handle_async_request(request)
            peer = _peer_address(response)
            problem = address_problem(peer) if peer is not None else None
            if problem:
                await response.aclose()
                raise httpx.ConnectError(
                    f"refused: {host} connected to {peer}, a {problem} address "
                    "(its DNS answer changed after the check)",
                    request=request,
                )
            return response
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Any:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self._inner.__aexit__(*args)
