"""``AlertEngine``: what the service runs every ``alert_interval_s`` (and ``newswatch alerts run --once``).

One cycle = (in a thread) match + log + feed health + dispatch to the outbox, then (async) one delivery pass
over the due outbox docs. Every piece of state is in Elasticsearch, so engines can be restarted, and two of
them can run at once: exactly-once comes from the alert log's ``op_type=create`` and the conditional
updates, never from in-process memory.

Wiring (the service)::

    engine = AlertEngine(es, settings)
    await engine.start()                       # indices + rules from config/alerts.yaml into ES
    service.add_periodic("alerts", engine.run_cycle, settings.alert_interval_s)
    ...
    await engine.aclose()
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from elasticsearch import Elasticsearch

from alerts.email import SmtpConfig
from alerts.evaluate import CycleReport, Evaluator
from alerts.outbox import DeliveryPolicy, DeliveryReport, Outbox, OutboxCounters
from alerts.rules import AlertConfig, AlertRule, load_alert_config
from alerts.store import AlertStore, Names, ensure_alert_indices
from index.setup import ensure_indices
from newswatch.settings import Settings

log = structlog.get_logger(__name__)


def alerts_file(settings: Settings) -> Path:
    return settings.config_dir / "alerts.yaml"


class AlertEngine:
    def __init__(
        self,
        es: Elasticsearch,
        settings: Settings,
        *,
        config: AlertConfig | None = None,
        http: httpx.AsyncClient | None = None,
        smtp: SmtpConfig | None = None,
        policy: DeliveryPolicy | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
        page_size: int = 100,
        batch_size: int = 250,
    ) -> None:
        self.es = es
        self.settings = settings
        self.config = config if config is not None else load_alert_config(alerts_file(settings))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.store = AlertStore(es, Names.of(settings))
        self.evaluator = Evaluator(
            self.store,
            settings.alert_safety_margin_s,
            self.worker_id,
            page_size=page_size,
            batch_size=batch_size,
        )
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self.counters = OutboxCounters()
        self.outbox = Outbox(
            self.store,
            self.http,
            smtp or SmtpConfig.from_settings(settings),
            policy
            or DeliveryPolicy(
                max_attempts=settings.delivery_max_attempts,
                backoff_base_s=settings.delivery_backoff_base_s,
                backoff_cap_s=settings.delivery_backoff_cap_s,
                timeout_s=settings.delivery_timeout_s,
            ),
            self.worker_id,
            default_secret=settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
            environ=environ,
            clock=self.clock,
            rng=rng,
            counters=self.counters,
        )
        self.last_report: CycleReport | None = None

    # --- set-up ------------------------------------------------------------------------------

    def setup(self) -> dict[str, int]:
        """Indices (articles + alert indices) and the file's rules synced into ES. Idempotent."""
        ensure_indices(self.es, self.settings)
        ensure_alert_indices(self.es, self.settings)
        return self.store.sync_rules(self.config.rules, self.clock())

    async def start(self) -> dict[str, int]:
        return await asyncio.to_thread(self.setup)

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    # --- cycle -------------------------------------------------------------------------------

    def rules(self) -> list[AlertRule]:
        return self.store.load_rules()

    def evaluate_and_dispatch(self, now: datetime | None = None) -> CycleReport:
        now = now or self.clock()
        t0 = time.perf_counter()
        report = CycleReport()
        rules = self.rules()
        self.evaluator.evaluate(rules, now, report)
        report.match_s = time.perf_counter() - t0
        if self.config.feed_health is not None:
            self.evaluator.feed_health(self.config.feed_health, now, report)
        t1 = time.perf_counter()
        self.evaluator.dispatch(rules, self.config.feed_health, now, report)
        report.dispatch_s = time.perf_counter() - t1
        report.duration_s = time.perf_counter() - t0
        for err in report.errors:
            log.error("alerts.rule.failed", error=err)
        return report

    async def deliver(self, limit: int = 100) -> DeliveryReport:
        return await self.outbox.deliver_due(limit)

    async def run_cycle(self) -> CycleReport:
        report = await asyncio.to_thread(self.evaluate_and_dispatch)
        delivery = await self.deliver()
        self.last_report = report
        log.info(
            "alerts.cycle",
            **{k: v for k, v in report.as_dict().items() if k != "errors"},
            errors=len(report.errors),
            delivered=delivery.delivered,
            retried=delivery.retried,
            dead=delivery.dead,
        )
        return report

    def metrics(self) -> dict[str, Any]:
        """Counters for a metrics registry (delivery counters, and the last cycle's figures)."""
        out: dict[str, Any] = {f"outbox_{k}": v for k, v in self.counters.as_dict().items()}
        if self.last_report is not None:
            out.update({f"cycle_{k}": v for k, v in self.last_report.as_dict().items() if k != "errors"})
        return out


async def run_alert_cycle(
    es: Elasticsearch, settings: Settings, engine: AlertEngine | None = None
) -> CycleReport:
    """One cycle with ``engine`` (or a throwaway one: set-up, cycle, close)."""
    if engine is not None:
        return await engine.run_cycle()
    eng = AlertEngine(es, settings)
    try:
        await eng.start()
        return await eng.run_cycle()
    finally:
        await eng.aclose()
