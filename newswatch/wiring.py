"""Service wiring: what ``newswatch run`` assembles from the parts.

The fetching service (``newswatch.service.Service``) owns the scheduler; alert evaluation is one more
periodic job on it, and the HTTP API serves search, alerts and feeds next to ``/healthz`` and
``/metrics``. Everything is built from the one ``Settings`` object and the one Elasticsearch client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from alerts.engine import AlertEngine
from index.client import make_client
from newswatch.api import create_app
from newswatch.errors import NewswatchError
from newswatch.service import Service
from newswatch.settings import Settings

log = structlog.get_logger("newswatch.wiring")


class AlertMetrics(Collector):
    """Exposes the alert engine's delivery counters and outbox depth (dead letters included) on /metrics."""

    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        counters = self.engine.counters.as_dict()
        deliveries = CounterMetricFamily(
            "newswatch_alert_deliveries", "Alert delivery attempts by outcome", labels=["outcome"]
        )
        for key in ("delivered", "retried", "dead", "attempts"):
            deliveries.add_metric([key], float(counters.get(key, 0)))
        yield deliveries
        outbox = GaugeMetricFamily(
            "newswatch_alert_outbox", "Alert outbox documents by state", labels=["state"]
        )
        try:
            for state, count in self.engine.store.outbox_counts().items():
                outbox.add_metric([state], float(count))
        except NewswatchError:  # Elasticsearch down: /healthz says so; metrics stay scrapeable
            pass
        yield outbox
        report = self.engine.last_report
        if report is not None:
            cycle = GaugeMetricFamily(
                "newswatch_alert_last_cycle_seconds", "Duration of the last alert cycle"
            )
            cycle.add_metric([], float(report.as_dict().get("duration_s", 0.0)))
            yield cycle


class AlertJob:
    """The periodic alert job: sets its indices up on first success, then evaluates and delivers."""

    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine
        self._ready = False

    async def __call__(self) -> None:
        if not self._ready:
            await self.engine.start()
            self._ready = True
        await self.engine.run_cycle()


def build_service(settings: Settings, *, alerts: bool = True) -> tuple[Service, AlertEngine | None]:
    """The fetching service with the alert job on its scheduler (every ``alert_interval_s``)."""
    es = make_client(settings)
    service = Service(settings, es)
    engine: AlertEngine | None = None
    if alerts:
        engine = AlertEngine(es, settings)
        service.add_periodic("alerts", AlertJob(engine), settings.alert_interval_s)
        service.registry.register(AlertMetrics(engine))
    return service, engine


def build_app(service: Service, settings: Settings) -> FastAPI:
    """The HTTP API of a running service: search, articles, alerts, feeds, /healthz, /metrics."""
    return create_app(registry=service.registry, health=service.health, settings=settings, es=service.es)


async def close_engine(engine: AlertEngine | None) -> None:
    if engine is not None:
        await asyncio.shield(engine.aclose())
