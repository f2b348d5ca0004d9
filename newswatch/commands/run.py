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

from newswatch.api import serve_in_loop
from newswatch.cli import AppContext, pass_app
from newswatch.errors import StorageUnavailable
from newswatch.service import Service
from newswatch.settings import Settings
from newswatch.wiring import build_app, close_engine
from newswatch.wiring import build_service as build_wired_service

log = structlog.get_logger("newswatch.run")

START_RETRY_S = 5.0


def build_service(settings: Settings) -> Service:
    """The service ``run`` starts, without the alert job (``newswatch.wiring`` adds it)."""
    service, _ = build_wired_service(settings, alerts=False)
    return service


def register(group: click.Group) -> None:
    @group.command("run")
    @click.option("--once", is_flag=True, help="One poll of everything due, flush, print a summary, exit.")
    @click.option("--no-http", is_flag=True, help="Do not serve the HTTP API.")
    @click.option("--no-alerts", is_flag=True, help="Do not evaluate and deliver alerts.")
    @pass_app
    def run_cmd(app: AppContext, once: bool, no_http: bool, no_alerts: bool) -> None:
        """Run the service until SIGTERM/SIGINT: poll, index, alert, serve the API."""
        code = asyncio.run(_run(app.settings, once=once, http=not no_http, alerts=not no_alerts))
        sys.exit(code)


async def _run(settings: Settings, *, once: bool, http: bool, alerts: bool = True) -> int:
    service, engine = build_wired_service(settings, alerts=alerts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if once:
            try:
                await service.start(schedule=False)
                report = await service.poll_once()
                if engine is not None:
                    await engine.start()
                    await engine.run_cycle()
            finally:
                await service.shutdown()
                await close_engine(engine)
            click.echo(report.summary())
            return 0
        server = None
        if http:
            app = build_app(service, settings)
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
        await close_engine(engine)
        if server is not None:
            await server.stop()
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
