"""The outbox: durable deliveries, retried with exponential backoff + jitter, dead-lettered after N attempts.

A delivery doc is created ``pending`` before anything is sent. A worker *claims* it by a conditional update
(``if_seq_no``/``if_primary_term``) to ``sending`` with a lease (``claim_until``); a second worker that read
the same version gets a conflict and skips it. After the attempt the same worker finishes it
(``delivered``, back to ``pending`` with ``next_attempt_at``, or ``dead``), again conditionally. A worker
that dies mid-send leaves a ``sending`` doc whose lease expires; it is then due again (the webhook's
``Idempotency-Key`` is the delivery id, so a receiver can drop the rare duplicate of such a crash).

Retry on timeouts, connection errors, 429 and 5xx (``Retry-After`` honoured, capped); never on other 4xx
or SMTP 5xx; dead after ``max_attempts``. A restart simply finds the pending docs again.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from alerts.email import SmtpConfig, send_email
from alerts.render import webhook_body, webhook_payload
from alerts.store import AlertStore, iso
from alerts.webhook import post
from newswatch.errors import DeliveryError

log = structlog.get_logger(__name__)

MAX_HISTORY = 20


def backoff_delay(
    attempt: int, base_s: float, cap_s: float, jitter: float, retry_after_s: float | None = None
) -> float:
    """Seconds before attempt ``attempt + 1``: ``base * 2**(attempt-1)`` capped, times a jitter factor in
    ``[0.5, 1.0]`` (``jitter`` in [0, 1) picks it), and never sooner than the server's ``Retry-After``."""
    exp = min(cap_s, base_s * float(2 ** max(0, attempt - 1)))
    delay = exp * (0.5 + 0.5 * jitter)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return float(delay)


@dataclass
class OutboxCounters:
    """Counters a metrics registry can read (``as_dict``); owned by one engine instance."""

    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    claim_conflicts: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        out = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        out.update({f"delivered_{k}": v for k, v in self.by_channel.items()})
        return out


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 3600.0
    timeout_s: float = 10.0
    lease_s: float = 120.0
    concurrency: int = 8


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int
    delivered: int
    retried: int
    dead: int


class Outbox:
    def __init__(
        self,
        store: AlertStore,
        http: httpx.AsyncClient,
        smtp: SmtpConfig,
        policy: DeliveryPolicy,
        worker_id: str,
        default_secret: str | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        counters: OutboxCounters | None = None,
    ) -> None:
        self.store = store
        self.http = http
        self.smtp = smtp
        self.policy = policy
        self.worker_id = worker_id
        self.default_secret = default_secret
        self.environ = environ if environ is not None else os.environ
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rng = rng or random.Random()
        self.counters = counters or OutboxCounters()

    async def deliver_due(self, limit: int = 100) -> DeliveryReport:
        now = self.clock()
        due = await asyncio.to_thread(self.store.due_outbox, now, limit)
        claimed: list[tuple[dict[str, Any], tuple[int, int]]] = []
        for hit in due:
            version = await asyncio.to_thread(self._claim, hit, now)
            if version is None:
                self.counters.claim_conflicts += 1
                continue
            claimed.append((hit, version))
        sem = asyncio.Semaphore(self.policy.concurrency)

        async def one(hit: dict[str, Any], version: tuple[int, int]) -> str:
            async with sem:
                return await self._attempt(hit, version)

        results = await asyncio.gather(*(one(h, v) for h, v in claimed))
        return DeliveryReport(
            len(claimed), results.count("delivered"), results.count("retry"), results.count("dead")
        )

    def _claim(self, hit: dict[str, Any], now: datetime) -> tuple[int, int] | None:
        src = hit["_source"]
        return self.store.update_outbox(
            hit["_id"],
            {
                "status": "sending",
                "claimed_by": self.worker_id,
                "claim_until": iso(now + timedelta(seconds=self.policy.lease_s)),
                "attempts": int(src.get("attempts") or 0) + 1,
                "updated_at": iso(now),
            },
            (hit["_seq_no"], hit["_primary_term"]),
        )

    def _secret(self, env_name: str | None) -> str | None:
        if env_name:
            value = self.environ.get(env_name)
            if value:
                return value
            log.warning("alerts.webhook.secret_missing", env=env_name)
        return self.default_secret

    async def _send(self, delivery_id: str, src: dict[str, Any], now: datetime) -> None:
        msg = src["message"]
        if src["channel"] == "email":
            await send_email(self.smtp, msg, src["target"], delivery_id)
        elif src["channel"] == "webhook":
            body = webhook_body(webhook_payload(msg, delivery_id, now))
            await post(
                self.http,
                src["target"],
                body,
                self._secret(src.get("secret_env")),
                delivery_id,
                now,
                self.policy.timeout_s,
            )
        else:
            raise DeliveryError(f"unknown channel {src['channel']!r}", retryable=False)

    async def _attempt(self, hit: dict[str, Any], version: tuple[int, int]) -> str:
        src = hit["_source"]
        delivery_id = hit["_id"]
        attempt = int(src.get("attempts") or 0) + 1
        now = self.clock()
        self.counters.attempts += 1
        error: DeliveryError | None = None
        try:
            await self._send(delivery_id, src, now)
        except DeliveryError as exc:
            error = exc
        done = self.clock()
        history = list(src.get("history") or [])[-(MAX_HISTORY - 1) :]
        entry: dict[str, Any] = {"at": iso(done), "attempt": attempt, "worker": self.worker_id}
        fields: dict[str, Any] = {"updated_at": iso(done), "claimed_by": None, "claim_until": None}
        if error is None:
            outcome = "delivered"
            fields.update(status="delivered", delivered_at=iso(done), last_error=None)
            entry["result"] = "delivered"
            self.counters.delivered += 1
            self.counters.by_channel[src["channel"]] = self.counters.by_channel.get(src["channel"], 0) + 1
        else:
            status = getattr(error, "status", None)
            entry.update(result="error", error=str(error), status=status)
            fields.update(last_error=str(error), last_status=status)
            if error.retryable and attempt < self.policy.max_attempts:
                outcome = "retry"
                delay = backoff_delay(
                    attempt,
                    self.policy.backoff_base_s,
                    self.policy.backoff_cap_s,
                    self.rng.random(),
                    getattr(error, "retry_after_s", None),
                )
                fields.update(status="pending", next_attempt_at=iso(done + timedelta(seconds=delay)))
                self.counters.retried += 1
            else:
                outcome = "dead"
                fields.update(status="dead")
                self.counters.dead += 1
        fields["history"] = [*history, entry]
        ok = await asyncio.to_thread(self.store.update_outbox, delivery_id, fields, version)
        log.info(
            "alerts.delivery",
            delivery=delivery_id,
            channel=src["channel"],
            rule=src.get("rule_id"),
            attempt=attempt,
            outcome=outcome,
            error=str(error) if error else None,
            recorded=ok is not None,
        )
        return outcome
