"""``newswatch api``: the HTTP API alone (search, articles, alerts, feeds, /healthz, /metrics), no polling.

``newswatch run`` serves the same API next to the scheduler; this is for a read-only search front end
or a separate API process in front of the same Elasticsearch.
"""

from __future__ import annotations

import click

from newswatch.cli import AppContext, pass_app


def register(group: click.Group) -> None:
    @group.command("api")
    @click.option("--host", default=None, help="Bind address (default: NEWSWATCH_API_HOST).")
    @click.option("--port", type=int, default=None, help="Port (default: NEWSWATCH_API_PORT).")
    @pass_app
    def api_cmd(app: AppContext, host: str | None, port: int | None) -> None:
        """Serve the HTTP API only (OpenAPI docs at /docs)."""
        import uvicorn

        from index.client import make_client
        from newswatch.api import create_app

        settings = app.settings
        fastapi_app = create_app(settings=settings, es=make_client(settings))
        uvicorn.run(
            fastapi_app,
            host=host or settings.api_host,
            port=port or settings.api_port,
            log_level=settings.log_level.lower(),
        )
