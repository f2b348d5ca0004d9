"""The service's health: is Elasticsearch reachable, is the scheduler alive, how old is the last good poll.

``evaluate`` is pure (takes the observations and ``now``); the service gathers the observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class HealthReport:
    ok: bool
    checks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unhealthy", **self.checks}


def evaluate(
    *,
    now: datetime,
    es_reachable: bool,
    es_error: str | None,
    scheduler_running: bool,
    last_poll_at: datetime | None,
    started_at: datetime | None,
    max_poll_age_s: float,
    spool_records: int = 0,
    extra: dict[str, Any] | None = None,
) -> HealthReport:
    """Healthy when Elasticsearch answers, the scheduler runs, and a poll succeeded within
    ``max_poll_age_s`` (or the service started less than that long ago)."""
    since = last_poll_at or started_at
    age = (now - last_poll_at).total_seconds() if last_poll_at else None
    fresh = since is not None and (now - since).total_seconds() <= max_poll_age_s
    checks: dict[str, Any] = {
        "elasticsearch": {"reachable": es_reachable, **({"error": es_error} if es_error else {})},
        "scheduler": {"running": scheduler_running},
        "last_successful_poll": {
            "at": last_poll_at.isoformat() if last_poll_at else None,
            "age_s": round(age, 3) if age is not None else None,
            "max_age_s": max_poll_age_s,
            "fresh": fresh,
        },
        "spool": {"records": spool_records},
    }
    if extra:
        checks.update(extra)
    return HealthReport(ok=es_reachable and scheduler_running and fresh, checks=checks)
