"""The HTTP API (FastAPI). For now ``/healthz`` and ``/metrics``; search and alert endpoints plug in here.

``create_app`` takes what it serves (a metrics registry, a health probe) instead of reaching for globals,
so the service, the ``api`` command and tests each build their own app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from elasticsearch import Elasticsearch
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from newswatch.health import HealthReport
from newswatch.routes import register_routes
from newswatch.settings import Settings

HealthProbe = Callable[[], Awaitable[HealthReport]]


def create_app(
    *,
    registry: CollectorRegistry | None = None,
    health: HealthProbe | None = None,
    settings: Any = None,
    title: str = "newswatch",
    es: Elasticsearch | None = None,
) -> FastAPI:
    """``registry``: what ``/metrics`` exposes (an empty one if not given). ``health``: the probe behind
    ``/healthz`` (200 when healthy, 503 otherwise, JSON either way); without one, ``/healthz`` only says
    the API process is up. ``settings`` is kept on ``app.state.settings`` for the endpoints added later."""
    app = FastAPI(title=title)
    reg = registry if registry is not None else CollectorRegistry()
    app.state.registry = reg
    app.state.settings = settings

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if health is None:
            return JSONResponse({"status": "ok", "service": "api"})
        report = await health()
        return JSONResponse(report.to_dict(), status_code=200 if report.ok else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(reg), media_type=CONTENT_TYPE_LATEST)

    # Search, articles, alerts and feeds (newswatch.routes, docs/api.md): need the ES client and settings.
    if es is not None and isinstance(settings, Settings):
        register_routes(app, es, settings)

    return app


class _EmbeddedServer:
    """uvicorn in the caller's event loop, without uvicorn's own signal handlers (the service owns them)."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        import contextlib

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Any:
                yield

        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        self.server = Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises the startup error (port taken...)
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        for srv in servers:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return int(self.server.config.port)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


async def serve_in_loop(app: FastAPI, host: str, port: int) -> _EmbeddedServer:
    """Start serving ``app`` on ``host:port`` in the running loop (port 0: any free port)."""
    server = _EmbeddedServer(app, host, port)
    await server.start()
    return server
