"""The polite HTTP fetcher: one shared ``httpx.AsyncClient``, per-host limits, conditional GET, capped bodies.

``fetch_feed`` never raises for a per-feed problem: every failure (DNS, connect, timeout, TLS, HTTP
status, redirect loop, body too large, undecodable gzip) comes back as ``FetchOutcome(status="error")``
whose ``error`` text names the URL and the cause, built from the ``newswatch.errors`` tree.

Politeness: conditional GET from the stored validators; a ``User-Agent`` naming the project and a
contact URL; at most ``per_host_concurrency`` requests in flight to one host and at least
``per_host_delay_s`` between the starts of two requests to it (``HostLimiter``); redirects followed by
hand, at most ``max_redirects``, loops detected.

Limits: connect/read timeouts on the client, plus ``asyncio.timeout(request_timeout_s)`` around each
request (one hop: send, headers, whole body), so a server trickling one byte per read timeout cannot
hold a worker forever. The body is streamed and counted *after* decoding, in steps of at most 64 KiB
(``ingest.decode``), so a gzip or brotli bomb is aborted at ``max_body_bytes`` like any oversized body
without ever being inflated much past it; ``Content-Length`` is checked before reading anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin, urlsplit

import httpx

from ingest import decode
from ingest.schedule import FeedState, parse_retry_after
from newswatch.errors import BodyTooLarge, FetchError, RedirectError

if TYPE_CHECKING:
    from newswatch.settings import Settings

FetchStatus = Literal["ok", "not_modified", "unchanged", "error", "gone"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate, br"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
FEED_LINK_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"}
)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_body_bytes: int = 16 * 1024 * 1024
    max_redirects: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    request_timeout_s: float = 60.0
    per_host_concurrency: int = 2
    per_host_delay_s: float = 1.0
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    global_concurrency: int = 64
    """Sizes the connection pool; the service runs at most this many fetches at once."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        ua = settings.user_agent
        if settings.contact_url and settings.contact_url not in ua:
            ua = f"{ua} (+{settings.contact_url})"
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_redirects=settings.max_redirects,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            request_timeout_s=settings.request_timeout_s,
            per_host_concurrency=settings.per_host_concurrency,
            per_host_delay_s=settings.per_host_delay_s,
            user_agent=ua,
            global_concurrency=settings.fetch_concurrency,
        )


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    url: str
    """The URL asked for (``FeedState.url``)."""
    final_url: str
    """Where the answer came from after redirects."""
    status: FetchStatus
    http_status: int | None
    body: bytes | None
    """Decoded body for ``ok`` only (``unchanged`` drops it: nothing to parse)."""
    content_type: str | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    headers: Mapping[str, str]
    permanent_redirect: str | None
    """Set when every hop to ``final_url`` was a 301/308: the service should store this URL."""
    retry_after: datetime | None
    error: str | None
    bytes_read: int
    elapsed_s: float
    discovered_feeds: tuple[str, ...] = ()
    """For an HTML page: the feeds it advertises with ``<link rel="alternate" type="...">``."""


# --------------------------------------------------------------------------------------------- limiter


@dataclass(slots=True)
class _Host:
    semaphore: asyncio.Semaphore
    next_start: float = 0.0
    users: int = 0


@dataclass(slots=True)
class HostLimiter:
    """At most ``concurrency`` requests in flight per host and ``delay_s`` between request starts to it.

    One per service (not a global). Idle hosts are forgotten least-recently-used first once more than
    ``max_hosts`` are known, so the table stays bounded however many feeds there are.
    """

    concurrency: int
    delay_s: float
    max_hosts: int = 10_000
    _hosts: OrderedDict[str, _Host] = field(default_factory=OrderedDict)

    @classmethod
    def from_limits(cls, limits: FetchLimits) -> HostLimiter:
        return cls(limits.per_host_concurrency, limits.per_host_delay_s)

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.concurrency))
            self._evict()
        else:
            self._hosts.move_to_end(key)
        return host

    def _evict(self) -> None:
        if len(self._hosts) <= self.max_hosts:
            return
        now = time.monotonic()
        for key in [k for k, h in self._hosts.items() if h.users == 0 and h.next_start <= now]:
            del self._hosts[key]
            if len(self._hosts) <= self.max_hosts:
                return

    def __len__(self) -> int:
        return len(self._hosts)

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        key = host_key(url)
        host = self._host(key)
        host.users += 1
        try:
            async with host.semaphore:
                if self.delay_s > 0:
                    now = time.monotonic()
                    start = max(now, host.next_start)
                    host.next_start = start + self.delay_s  # reserved before awaiting: no race in asyncio
                    if start > now:
                        await asyncio.sleep(start - now)
                yield
        finally:
            host.users -= 1


def host_key(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc or parts.path).lower()


# --------------------------------------------------------------------------------------------- client


def build_client(
    limits: FetchLimits, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one shared client: HTTP/1.1, pool sized to the global concurrency, our own redirect handling.

    ``trust_env=False``: no proxy or netrc picked up from the environment behind the operator's back.
    """
    return httpx.AsyncClient(
        http1=True,
        http2=False,
        follow_redirects=False,
        trust_env=False,
        transport=transport,
        timeout=httpx.Timeout(
            connect=limits.connect_timeout_s,
            read=limits.read_timeout_s,
            write=limits.read_timeout_s,
            pool=limits.request_timeout_s,
        ),
        limits=httpx.Limits(
            max_connections=limits.global_concurrency,
            max_keepalive_connections=limits.global_concurrency,
            keepalive_expiry=30.0,
        ),
        headers={"User-Agent": limits.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
    )


def conditional_headers(state: FeedState) -> dict[str, str]:
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def content_hash(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=20).hexdigest()


# --------------------------------------------------------------------------------------------- discovery


class _LinkFinder(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            href = dict(attrs).get("href")
            if href:
                self.base_url = urljoin(self.base_url, href.strip())
            return
        if tag != "link":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").split(";")[0].strip().lower()
        href = a.get("href", "").strip()
        if "alternate" in rels and kind in FEED_LINK_TYPES and href:
            url = urljoin(self.base_url, href)
            if urlsplit(url).scheme in ("http", "https") and url not in self.found:
                self.found.append(url)


def discover_feed_links(html: bytes | str, base_url: str) -> tuple[str, ...]:
    """Feed URLs an HTML page advertises (``<link rel="alternate" type="application/rss+xml" ...>``),
    absolute, in document order, without duplicates. Never raises on bad HTML."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    finder = _LinkFinder(base_url)
    try:
        finder.feed(text)
        finder.close()
    except Exception:  # html.parser is lenient; whatever it found before choking is still good
        pass
    return tuple(finder.found)


def _is_html(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")


# --------------------------------------------------------------------------------------------- fetch


@dataclass(slots=True)
class _Hop:
    """What one request produced (internal)."""

    response: httpx.Response
    body: bytes | None = None
    bytes_read: int = 0


async def _read_capped(response: httpx.Response, url: str, cap: int) -> tuple[bytes, int]:
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise BodyTooLarge(
            url, f"Content-Length {int(declared)} exceeds the {cap}-byte cap", response.status_code
        )
    chunks: list[bytes] = []
    size = 0

    def take(piece: bytes) -> None:
        nonlocal size
        size += len(piece)
        if size > cap:
            raise BodyTooLarge(url, f"body exceeds the {cap}-byte cap (after decoding)", response.status_code)
        chunks.append(piece)

    decoders = decode.decoders_for(response.headers.get("content-encoding"))
    if decoders is None:  # a coding we do not decode in steps (zstd...): httpx decodes it
        async for chunk in response.aiter_bytes():  # decoded bytes, counted as they inflate
            take(chunk)
        return b"".join(chunks), size
    # Raw bytes decoded here in steps of at most decode.STEP: a gzip bomb is stopped within one step
    # of the cap, never inflated a whole network chunk at a time (64 KiB -> 64 MiB).
    async for raw in response.aiter_raw():
        for piece in decode.feed(decoders, raw):
            take(piece)
    for piece in decode.finish(decoders):
        take(piece)
    return b"".join(chunks), size


def _reason(exc: Exception, limits: FetchLimits) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {limits.connect_timeout_s:g}s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"read timed out (no data for {limits.read_timeout_s:g}s)"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {limits.request_timeout_s:g}s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {exc!r}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode body ({exc})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid URL: {exc}"
    return f"{type(exc).__name__}: {exc}"


async def fetch_feed(
    client: httpx.AsyncClient,
    state: FeedState,
    limits: FetchLimits,
    limiter: HostLimiter,
    *,
    now: datetime,
) -> FetchOutcome:
    """Fetch ``state.url`` once (following redirects) and say what happened. Never raises for the feed's
    own problems; cancellation still propagates."""
    started = time.perf_counter()
    url = state.url
    visited = [url]
    permanent: str | None = None
    all_permanent = True
    headers = conditional_headers(state)
    bytes_read = 0

    def outcome(status: FetchStatus, response: httpx.Response | None, **kw: object) -> FetchOutcome:
        h: Mapping[str, str] = response.headers if response is not None else {}
        values: dict[str, object] = {
            "url": state.url,
            "final_url": url,
            "status": status,
            "http_status": response.status_code if response is not None else None,
            "body": None,
            "content_type": h.get("content-type"),
            "etag": h.get("etag") or state.etag,
            "last_modified": h.get("last-modified") or state.last_modified,
            "content_hash": state.content_hash,
            "headers": h,
            "permanent_redirect": permanent,
            "retry_after": None,
            "error": None,
            "bytes_read": bytes_read,
            "elapsed_s": time.perf_counter() - started,
        }
        values.update(kw)
        return FetchOutcome(**values)  # type: ignore[arg-type]

    try:
        for hop in range(limits.max_redirects + 1):
            async with limiter.slot(url), asyncio.timeout(limits.request_timeout_s):
                request = client.build_request("GET", url, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    code = response.status_code
                    if code in REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(url, f"HTTP {code} redirect without a Location header", code)
                        target = urljoin(url, location.strip())
                        if urlsplit(target).scheme not in ("http", "https"):
                            raise RedirectError(url, f"HTTP {code} redirect to non-HTTP URL {target!r}", code)
                        if target in visited:
                            chain = " -> ".join([*visited, target])
                            raise RedirectError(state.url, f"redirect loop: {chain}", code)
                        if hop == limits.max_redirects:
                            raise RedirectError(
                                state.url,
                                f"more than {limits.max_redirects} redirects (last to {target})",
                                code,
                            )
                        all_permanent = all_permanent and code in PERMANENT_REDIRECTS
                        permanent = target if all_permanent else None
                        visited.append(target)
                        url = target
                        continue
                    if code == 304:
                        return outcome("not_modified", response)
                    if code == 410:
                        return outcome("gone", response, error=f"{url}: HTTP 410 Gone (feed removed)")
                    if code in (429, 503):
                        retry = parse_retry_after(response.headers.get("retry-after"), now)
                        msg = f"HTTP {code} {response.reason_phrase}".rstrip()
                        if retry is not None:
                            msg += f" (retry after {retry.isoformat()})"
                        return outcome("error", response, error=f"{url}: {msg}", retry_after=retry)
                    if code >= 400 or code < 200 or code == 204:
                        msg = f"HTTP {code} {response.reason_phrase}".rstrip()
                        return outcome("error", response, error=str(FetchError(url, msg, code)))
                    body, bytes_read = await _read_capped(response, url, limits.max_body_bytes)
                finally:
                    await response.aclose()
            digest = content_hash(body)
            if digest == state.content_hash:
                return outcome("unchanged", response, content_hash=digest)
            content_type = response.headers.get("content-type")
            found = discover_feed_links(body, url) if _is_html(content_type) else ()
            return outcome("ok", response, body=body, content_hash=digest, discovered_feeds=found)
        raise AssertionError("unreachable: the redirect loop returns or raises")  # pragma: no cover
    except FetchError as exc:
        resp = None
        return outcome("error", resp, error=str(exc), http_status=exc.status_code)
    except TimeoutError:
        return outcome("error", None, error=f"{url}: request took longer than {limits.request_timeout_s:g}s")
    except httpx.HTTPError as exc:
        return outcome("error", None, error=f"{url}: {_reason(exc, limits)}")
    except (OSError, ValueError, UnicodeError) as exc:  # e.g. an invalid header value, a bad host name
        return outcome("error", None, error=f"{url}: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------- pages

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
PageStatus = Literal["ok", "error"]


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """One article page (``full_text`` feeds): the decoded HTML body, or why there is none."""

    url: str
    final_url: str
    status: PageStatus
    http_status: int | None
    body: bytes | None
    content_type: str | None
    error: str | None
    bytes_read: int
    elapsed_s: float

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of the Content-Type, if any."""
        for param in (self.content_type or "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


async def fetch_page(
    client: httpx.AsyncClient,
    url: str,
    limits: FetchLimits,
    limiter: HostLimiter,
    *,
    now: datetime,
) -> PageOutcome:
    """GET an article page with the same politeness and limits as ``fetch_feed`` (per-host slot and
    spacing, ``request_timeout_s`` per hop, redirects by hand with loop detection, body cap), no
    conditional headers. Only an HTML/XHTML 2xx answer is ``ok``. Never raises for the page's own
    problems; cancellation still propagates. ``now`` is accepted for symmetry with ``fetch_feed``."""
    del now  # nothing time-dependent yet (no Retry-After bookkeeping for pages)
    started = time.perf_counter()
    current = url
    visited = [url]
    bytes_read = 0

    def outcome(
        status: PageStatus,
        http_status: int | None,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        error: str | None = None,
    ) -> PageOutcome:
        return PageOutcome(
            url=url,
            final_url=current,
            status=status,
            http_status=http_status,
            body=body,
            content_type=content_type,
            error=error,
            bytes_read=bytes_read,
            elapsed_s=time.perf_counter() - started,
        )

    if urlsplit(url).scheme not in ("http", "https"):
        return outcome("error", None, error=f"{url}: not an http(s) URL")
    try:
        for hop in range(limits.max_redirects + 1):
            async with limiter.slot(current), asyncio.timeout(limits.request_timeout_s):
                request = client.build_request("GET", current, headers={"Accept": PAGE_ACCEPT})
                response = await client.send(request, stream=True)
                try:
                    code = response.status_code
                    if code in REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(current, f"HTTP {code} redirect without a Location header", code)
                        target = urljoin(current, location.strip())
                        if urlsplit(target).scheme not in ("http", "https"):
                            raise RedirectError(
                                current, f"HTTP {code} redirect to non-HTTP URL {target!r}", code
                            )
                        if target in visited:
                            raise RedirectError(
                                url, f"redirect loop: {' -> '.join([*visited, target])}", code
                            )
                        if hop == limits.max_redirects:
                            raise RedirectError(
                                url, f"more than {limits.max_redirects} redirects (last to {target})", code
                            )
                        visited.append(target)
                        current = target
                        continue
                    if code < 200 or code >= 300 or code == 204:
                        msg = f"HTTP {code} {response.reason_phrase}".rstrip()
                        return outcome("error", code, error=str(FetchError(current, msg, code)))
                    content_type = response.headers.get("content-type")
                    if content_type and not _is_html(content_type):
                        kind = content_type.split(";")[0].strip()
                        return outcome(
                            "error",
                            code,
                            content_type=content_type,
                            error=f"{current}: not an HTML page ({kind})",
                        )
                    body, bytes_read = await _read_capped(response, current, limits.max_body_bytes)
                finally:
                    await response.aclose()
            return outcome("ok", code, body=body, content_type=content_type)
        raise AssertionError("unreachable: the redirect loop returns or raises")  # pragma: no cover
    except FetchError as exc:
        return outcome("error", exc.status_code, error=str(exc))
    except TimeoutError:
        return outcome(
            "error", None, error=f"{current}: request took longer than {limits.request_timeout_s:g}s"
        )
    except httpx.HTTPError as exc:
        return outcome("error", None, error=f"{current}: {_reason(exc, limits)}")
    except (OSError, ValueError, UnicodeError) as exc:
        return outcome("error", None, error=f"{current}: {type(exc).__name__}: {exc}")
