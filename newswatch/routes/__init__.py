"""The HTTP API's search, article, alert and feed endpoints (FastAPI routers).

The service's app factory (``newswatch.api``) calls ``register_routes(app, es, settings)`` once; tests can
build a bare app with ``build_app``. Endpoints are plain ``def`` (the Elasticsearch client is synchronous;
FastAPI runs them in its thread pool). See docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from elasticsearch import Elasticsearch
from fastapi import FastAPI

from newswatch.netguard import Resolver
from newswatch.routes import alerts, feeds, search
from newswatch.routes.deps import ApiDeps, BodyLimit, PercentEncodeQuery, install, install_error_handlers
from newswatch.settings import Settings

ROUTERS = (search.router, alerts.router, feeds.router)


def register_routes(
    app: FastAPI,
    es: Elasticsearch,
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    resolver: Resolver | None = None,
) -> None:
    """Add the routers, their dependencies (in ``app.state``) and error handlers to ``app``."""
    deps = ApiDeps(es=es, settings=settings)
    if clock is not None or resolver is not None:
        deps = ApiDeps(
            es=es,
            settings=settings,
            clock=clock or deps.clock,
            resolver=resolver or deps.resolver,
        )
    install(app, deps)
    install_error_handlers(app)
    app.add_middleware(PercentEncodeQuery)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    for router in ROUTERS:
        app.include_router(router)


def build_app(
    es: Elasticsearch,
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    resolver: Resolver | None = None,
) -> FastAPI:
    """A bare app with only these routes (tests; the service uses ``newswatch.api``)."""
    app = FastAPI(title="newswatch", version="0.1.0")
    register_routes(app, es, settings, clock=clock, resolver=resolver)
    return app


__all__ = ["ROUTERS", "ApiDeps", "build_app", "register_routes"]
