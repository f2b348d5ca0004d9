"""The API under a real uvicorn on 127.0.0.1 (httpx, and raw bytes on a socket), and its wiring in
``newswatch.api.create_app`` next to /healthz and /metrics."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from newswatch.api import create_app
from newswatch.routes import build_app
from newswatch.routes.deps import PercentEncodeQuery

from . import test_api_support as support
from .test_api_support import AUTH, NOW, TOKEN, Api, TestClient

pytestmark = pytest.mark.es

search_api = support.search_api  # the fixture


@pytest.fixture(scope="module")
def server_url(search_api: Api) -> Iterator[str]:
    app = build_app(search_api.es, search_api.settings, clock=lambda: NOW)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped during start-up"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def raw_get(url: str, target: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_search_over_http(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10, trust_env=False) as client:
        r = client.get("/search", params={"q": "défense anti-aérienne", "limit": 1})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 2 and len(body["hits"]) == 1 and body["next_cursor"]
        nxt = client.get(
            "/search", params={"q": "défense anti-aérienne", "cursor": body["next_cursor"], "limit": 1}
        )
        assert nxt.status_code == 200
        assert nxt.json()["hits"][0]["id"] != body["hits"][0]["id"]
        r = client.get("/search", params={"q": "(" * 30 + "x"})
        assert r.status_code == 400 and r.json()["parameter"] == "q"
        assert client.post("/alerts", json={}).status_code == 401  # this app has a token: wrong/no auth
        assert client.get("/openapi.json").status_code == 200


def test_raw_bytes_in_the_query_string(server_url: str) -> None:
    """uvicorn's h11 refuses unencoded bytes itself (400); whatever the server, never a 500."""
    for target in (b"/search?q=d\xc3\xa9fense&limit=5", b"/search?q=d\xe9fense"):
        status, body = raw_get(server_url, target)
        assert status == 200 or 400 <= status < 500, body
    status, body = raw_get(server_url, b"/search?q=d%E9fense")  # percent-encoded Latin-1
    assert status == 400 and b'"parameter":"q"' in body


async def test_percent_encode_middleware() -> None:
    """For servers that pass raw bytes through (httptools): they are percent-encoded before Starlette."""
    seen: list[bytes] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["query_string"])

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    mw = PercentEncodeQuery(inner)
    for raw in (b"q=d\xc3\xa9fense", b"q=plain%20text"):
        await mw({"type": "http", "query_string": raw}, receive, send)
    assert seen == [b"q=d%C3%A9fense", b"q=plain%20text"]


def test_create_app_serves_routes_next_to_health_and_metrics(search_api: Api) -> None:
    app = create_app(settings=search_api.settings, es=search_api.es)
    client = TestClient(app)
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    r = client.get("/search", params={"q": "OTAN"})
    assert r.status_code == 200 and r.json()["total"] == 2
    assert client.get("/alerts", headers=AUTH).status_code == 200
    assert search_api.settings.api_token is not None
    assert search_api.settings.api_token.get_secret_value() == TOKEN
    # without a client the factory still serves health and metrics only
    bare = TestClient(create_app())
    assert bare.get("/healthz").status_code == 200
    assert bare.get("/search").status_code == 404


def raw_request(url: str, head: bytes, chunks: Sequence[bytes] = ()) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent: what we test
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    head_out, _, body = data.partition(b"\r\n\r\n")
    return int(head_out.split(b" ")[1]), body


def test_declared_oversized_body_is_refused_unread(server_url: str) -> None:
    head = (
        b"POST /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n"
    )
    status, body = raw_request(server_url, head)  # no body sent at all: refused on the header alone
    assert status == 413
    assert b"NEWSWATCH_API_MAX_BODY_BYTES" in body


def test_chunked_oversized_body_is_refused(server_url: str) -> None:
    head = (
        b"POST /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    piece = b"x" * 65536
    chunks = [b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(20)] + [b"0\r\n\r\n"]
    status, body = raw_request(server_url, head, chunks)
    assert status == 413, body
    assert b"larger than 1048576 bytes" in body


def test_small_body_passes_the_limit(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10, trust_env=False) as client:
        r = client.post("/alerts", json={"name": ""}, headers=AUTH)
    assert r.status_code == 422, r.text  # reached the endpoint's validation, not the body cap
