"""A real, scriptable HTTP feed server on 127.0.0.1 for tests (no mocks).

It runs ``http.server.ThreadingHTTPServer`` (HTTP/1.1, keep-alive) on a random port in a background
thread, so sync tests, async tests (any event loop) and other helpers' service tests can all talk to
it. Each test scripts what a path answers and reads back what was asked::

    def test_something(feed_server: FeedServer) -> None:
        feed_server.route("/feed.xml", body=rss_feed(3), etag='"v1"')
        feed_server.redirect("/old.xml", "/feed.xml", status=301)
        feed_server.route("/slow.xml", body=rss_feed(3), stall_after=100)   # headers + 100 bytes, then stall
        url = feed_server.url("/feed.xml")
        ...
        [req] = feed_server.requests_for("/feed.xml")
        assert req.headers["if-none-match"] == '"v1"'

What a route can do (all keyword arguments of ``route``; see ``Route``): any status, body (bytes or
str, or ``body_size`` filler bytes generated on the fly), content type, extra headers, ``etag`` /
``last_modified`` with a 304 when the request's validators match, ``changing_etag`` (a new ETag on
every response, same body: a server with wrong validators), ``encoding`` (gzip/deflate/br applied on
the fly), ``chunked`` (no Content-Length), ``delay`` before the headers, ``stall_after`` (send that
many body bytes then go silent for ``stall_s`` seconds), ``location`` for redirects. ``script(path,
[Route(...), ...])`` answers successive requests in turn (the last one repeats); ``handler=fn`` lets
``fn(request) -> Route`` decide anything else.

Every request is recorded (``requests``, ``requests_for``): method, path, lower-cased headers, the
``time.monotonic()`` it arrived and when its answer was finished, and the client port (to see
connection reuse), so tests assert conditional headers, per-host concurrency and spacing from the log.
The fixture ``feed_server`` (import it into a conftest) yields a started server and stops it after.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import brotli
import pytest

__all__ = [
    "FeedServer",
    "RecordedRequest",
    "Route",
    "feed_server",
    "feed_server_fixture",
    "gzip_bomb",
    "html_with_feed_links",
    "rss_feed",
]


@dataclass(frozen=True, slots=True)
class Route:
    """What one path answers. Defaults: 200, an RSS content type, no validators, sent at once."""

    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "application/rss+xml; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    changing_etag: bool = False
    encoding: str | None = None
    """Compress the body on the fly: "gzip", "deflate" or "br". (Pre-compressed bodies: pass the bytes
    and ``headers={"Content-Encoding": "gzip"}``.)"""
    body_size: int | None = None
    """Send this many filler bytes instead of ``body`` (generated in blocks, never held in memory)."""
    chunked: bool = False
    location: str | None = None
    """Location header (a path is made absolute against the server)."""
    delay: float = 0.0
    """Seconds to wait before sending the status line."""
    stall_after: int | None = None
    """Send the headers (full Content-Length) and this many body bytes, then go silent."""
    stall_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    """Lower-cased names."""
    started: float
    """``time.monotonic()`` when the request line arrived."""
    client_port: int
    finished: list[float] = field(default_factory=list, compare=False)
    """``[time.monotonic()]`` once the answer was written (empty while it is still being served)."""

    @property
    def done(self) -> float | None:
        return self.finished[0] if self.finished else None


Handler = Callable[[RecordedRequest], Route]


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    feed_server: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that aborts a body (a bomb, an oversized feed) resets its keep-alive connection
        # while the handler waits for the next request: expected, not worth a traceback on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Httpd
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.server.feed_server._serve(self)

    def do_HEAD(self) -> None:
        self.server.feed_server._serve(self, head=True)


class FeedServer:
    """A scriptable feed server; use as a context manager or call ``start``/``stop``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._routes: dict[str, list[Route] | Handler] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None
        self._etag_counter = 0
        self._in_flight = 0
        self.max_in_flight = 0
        """The most requests the server was answering at once (all paths)."""
        self.requests: list[RecordedRequest] = []

    # -- lifecycle
    def start(self) -> FeedServer:
        httpd = _Httpd((self._host, self._port), _RequestHandler)
        httpd.feed_server = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="feedserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- scripting
    def route(self, path: str, *, handler: Handler | None = None, **kwargs: Any) -> Route | None:
        """Script ``path``: ``Route(**kwargs)`` for every request, or ``handler(request) -> Route``."""
        with self._lock:
            self._served[path] = 0
            if handler is not None:
                self._routes[path] = handler
                return None
            route = Route(**kwargs)
            self._routes[path] = [route]
            return route

    def script(self, path: str, routes: Sequence[Route]) -> None:
        """Answer successive requests to ``path`` with ``routes`` in turn; the last one repeats."""
        if not routes:
            raise ValueError("script needs at least one Route")
        with self._lock:
            self._served[path] = 0
            self._routes[path] = list(routes)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.route(path, status=status, location=to, content_type=None)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    # -- serving (runs in handler threads)
    def _pick(self, request: RecordedRequest) -> Route | None:
        with self._lock:
            entry = self._routes.get(request.path)
            if entry is None:
                return None
            n = self._served[request.path]
            self._served[request.path] = n + 1
        if callable(entry):
            return entry(request)
        return entry[min(n, len(entry) - 1)]

    def _next_etag(self) -> str:
        with self._lock:
            self._etag_counter += 1
            return f'"changing-{self._etag_counter}"'

    def _serve(self, h: _RequestHandler, head: bool = False) -> None:
        path = h.path.split("?", 1)[0]
        request = RecordedRequest(
            method=h.command,
            path=path,
            headers={k.lower(): v for k, v in h.headers.items()},
            started=time.monotonic(),
            client_port=int(h.client_address[1]),
        )
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            route = self._pick(request) or Route(
                status=404, body=b"not found", content_type="text/plain; charset=utf-8"
            )
            self._answer(h, request, route, head)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            h.close_connection = True  # the client went away (e.g. aborted an oversized body)
        finally:
            request.finished.append(time.monotonic())
            with self._lock:
                self._in_flight -= 1

    def _answer(self, h: _RequestHandler, request: RecordedRequest, route: Route, head: bool) -> None:
        if route.delay and self._stopping.wait(route.delay):
            h.close_connection = True
            return
        etag = self._next_etag() if route.changing_etag else route.etag
        if route.status == 200 and _not_modified(request.headers, etag, route.last_modified):
            h.send_response(304)
            if etag:
                h.send_header("ETag", etag)
            if route.last_modified:
                h.send_header("Last-Modified", route.last_modified)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return

        body = route.body.encode("utf-8") if isinstance(route.body, str) else route.body
        if route.encoding and route.body_size is None:
            body = _encode(body, route.encoding)
        size = route.body_size if route.body_size is not None else len(body)

        h.send_response(route.status)
        if route.content_type:
            h.send_header("Content-Type", route.content_type)
        if etag:
            h.send_header("ETag", etag)
        if route.last_modified:
            h.send_header("Last-Modified", route.last_modified)
        if route.encoding:
            h.send_header("Content-Encoding", route.encoding)
        if route.location is not None:
            loc = route.location
            h.send_header("Location", self.url(loc) if loc.startswith("/") else loc)
        for name, value in route.headers.items():
            h.send_header(name, value)
        if route.chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(size))
        h.end_headers()
        if head or h.command == "HEAD":
            return

        sent = 0
        for block in _blocks(body, route.body_size):
            if route.stall_after is not None and sent + len(block) > route.stall_after:
                block = block[: route.stall_after - sent]
                self._write(h, block, route.chunked)
                h.wfile.flush()
                self._stopping.wait(route.stall_s)
                h.close_connection = True
                return
            self._write(h, block, route.chunked)
            sent += len(block)
        if route.chunked:
            h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    @staticmethod
    def _write(h: _RequestHandler, block: bytes, chunked: bool) -> None:
        if not block:
            return
        if chunked:
            h.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        else:
            h.wfile.write(block)


def _blocks(body: bytes, body_size: int | None, block: int = 64 * 1024) -> Iterator[bytes]:
    if body_size is None:
        for i in range(0, len(body), block):
            yield body[i : i + block]
        return
    filler = b"x" * block
    left = body_size
    while left > 0:
        yield filler[: min(block, left)]
        left -= block


def _not_modified(headers: Mapping[str, str], etag: str | None, last_modified: str | None) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None and etag is not None:
        wanted = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return etag.removeprefix("W/") in wanted or "*" in wanted
    ims = headers.get("if-modified-since")
    return ims is not None and last_modified is not None and ims.strip() == last_modified


def _encode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "br":
        return bytes(brotli.compress(body))
    raise ValueError(f"unknown encoding {encoding!r}")


# --------------------------------------------------------------------------------------------- content


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def rss_feed(
    items: int | Sequence[str] = 3,
    *,
    title: str = "Test feed",
    link: str = "https://example.org/",
    ttl_minutes: int | None = None,
    encoding: str = "utf-8",
    start: datetime | None = None,
) -> bytes:
    """A small valid RSS 2.0 document; ``items`` is a count or the item titles (guids derive from them)."""
    titles = [f"Item {i}" for i in range(items)] if isinstance(items, int) else list(items)
    start = start or datetime(2025, 1, 1, tzinfo=UTC)
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test</description>",
    ]
    if ttl_minutes is not None:
        parts.append(f"<ttl>{ttl_minutes}</ttl>")
    for i, t in enumerate(titles):
        parts.append(
            f"<item><title>{escape(t)}</title><link>{escape(link)}item/{i}</link>"
            f'<guid isPermaLink="false">{escape(link)}item/{escape(t)}</guid>'
            f"<pubDate>{http_date(start + timedelta(minutes=i))}</pubDate>"
            f"<description>{escape(t)} body</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode(encoding)


def html_with_feed_links(links: Mapping[str, str], *, title: str = "A page") -> bytes:
    """An HTML page advertising feeds: ``{href: type}``, e.g. ``{"/rss.xml": "application/rss+xml"}``."""
    tags = "".join(
        f'<link rel="alternate" type="{escape(kind)}" href="{escape(href)}" title="feed">'
        for href, kind in links.items()
    )
    return (
        f"<!doctype html><html><head><title>{escape(title)}</title>{tags}</head>"
        "<body><p>Not a feed.</p></body></html>"
    ).encode()


def gzip_bomb(decompressed_size: int) -> bytes:
    """A gzip stream of ``decompressed_size`` zero bytes (about 1000 times smaller than that)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    block = b"\0" * (1024 * 1024)
    out = []
    left = decompressed_size
    while left > 0:
        out.append(comp.compress(block[: min(left, len(block))]))
        left -= len(block)
    out.append(comp.flush())
    return b"".join(out)


@pytest.fixture(name="feed_server")
def feed_server_fixture() -> Iterator[FeedServer]:
    """A started ``FeedServer`` on 127.0.0.1 (random port), stopped after the test.

    Registered as ``feed_server``; import ``feed_server`` (or ``feed_server_fixture``) into a conftest,
    or ``feed_server_fixture`` into a test module (so parameters named ``feed_server`` do not shadow it).
    """
    with FeedServer() as server:
        yield server


feed_server = feed_server_fixture
