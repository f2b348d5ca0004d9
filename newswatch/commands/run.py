"""``newswatch run [--once] [--no-http]``: the service (scheduler + /healthz + /metrics).

SIGTERM/SIGINT: stop scheduling, let in-flight feed updates finish within ``shutdown_grace_s`` (then
cancel them and release their leases), replay the spool if Elasticsearch is there, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import click
import structlog

from index.client import make_client
from newswatch.api import create_app, serve_in_loop
from newswatch.cli import AppContext, pass_app
from newswatch.errors import StorageUnavailable
from newswatch.service import Service
from newswatch.settings import Settings

log = structlog.get_logger("newswatch.run")

START_RETRY_S = 5.0


def build_service(settings: Settings) -> Service:
    """The service ``run`` starts. Other areas add their periodic jobs with ``service.add_periodic``."""
    return Service(settings, make_client(settings))


def register(group: click.Group) -> None:
    @group.command("run")
    @click.option("--once", is_flag=True, help="One poll of everything due, flush, print a summary, exit.")
    @click.option("--no-http", is_flag=True, help="Do not serve /healthz and /metrics.")
    @pass_app
    def run_cmd(app: AppContext, once: bool, no_http: bool) -> None:
        """Run the fetching service until SIGTERM/SIGINT."""
        code = asyncio.run(_run(app.settings, once=once, http=not no_http))
        sys.exit(code)


async def _run(settings: Settings, *, once: bool, http: bool) -> int:
    service = build_service(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if once:
            try:
                await service.start(schedule=False)
                report = await service.poll_once()
            finally:
                await service.shutdown()
            click.echo(report.summary())
            return 0
        server = None
        if http:
            app = create_app(registry=service.registry, health=service.health, settings=settings)
            server = await serve_in_loop(app, settings.api_host, settings.api_port)
            log.info("http.start", url=f"http://{settings.api_host}:{server.port}")
        while not stop.is_set():
            try:
                await service.start()
                break
            except StorageUnavailable as exc:  # keep trying: /healthz says 503 meanwhile
                log.warning("service.start_failed", reason=str(exc), retry_in_s=START_RETRY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), START_RETRY_S)
        await stop.wait()
        log.info("service.stopping", grace_s=settings.shutdown_grace_s)
        await service.shutdown()
        if server is not None:
            await server.stop()
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
