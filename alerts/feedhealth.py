"""The built-in feed-health rule: a feed failing for longer than a threshold, and its recovery.

Reads the feed state documents in ``{prefix}-feeds`` (fields ``url``, ``error_streak``,
``first_error_at``, ``last_success_at``, ``last_error``, optionally ``title``). Each incident is keyed by
(feed url, ``first_error_at``): its ``failing`` log entry and its ``recovered`` entry have deterministic
ids, so each is told once, across restarts and concurrent workers (``op_type=create`` in the alert log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from alerts.store import parse_iso
from index.client import storage_errors


@dataclass(frozen=True)
class Incident:
    log_doc_id: str
    feed_url: str
    since: str  # first_error_at, ISO


@dataclass(frozen=True)
class HealthEvents:
    failing: tuple[tuple[dict[str, Any], str], ...]  # (feed doc, first_error_at)
    recovered: tuple[tuple[dict[str, Any], Incident], ...]


def health_events(
    feeds: Sequence[Mapping[str, Any]],
    open_incidents: Sequence[Incident],
    threshold: timedelta,
    now: datetime,
) -> HealthEvents:
    """Which feeds just crossed the failing threshold, and which open incidents recovered (pure)."""
    by_url = {str(f.get("url", "")): dict(f) for f in feeds}
    open_urls = {i.feed_url: i for i in open_incidents}
    failing: list[tuple[dict[str, Any], str]] = []
    for url, feed in sorted(by_url.items()):
        since = parse_iso(feed.get("first_error_at"))
        if int(feed.get("error_streak") or 0) <= 0 or since is None:
            continue
        if now - since < threshold:
            continue
        inc = open_urls.get(url)
        if inc is not None and parse_iso(inc.since) == since:
            continue
        failing.append((feed, str(feed["first_error_at"])))
    recovered: list[tuple[dict[str, Any], Incident]] = []
    for inc in open_incidents:
        state = by_url.get(inc.feed_url)
        if state is None:
            continue
        feed = state
        since = parse_iso(feed.get("first_error_at"))
        healthy = int(feed.get("error_streak") or 0) == 0
        new_incident = since is not None and parse_iso(inc.since) != since
        if healthy or new_incident:
            recovered.append((feed, inc))
    return HealthEvents(tuple(failing), tuple(recovered))


FEED_FIELDS = ["url", "title", "name", "error_streak", "first_error_at", "last_success_at", "last_error"]


def read_feeds(es: Elasticsearch, index: str) -> list[dict[str, Any]]:
    """Every feed's health fields (feeds number in the thousands at most). A missing index: no feeds."""
    with storage_errors(es, f"reading {index}"):
        try:
            resp = es.search(index=index, size=10_000, source_includes=FEED_FIELDS, query={"match_all": {}})
        except NotFoundError:
            return []
    return [h["_source"] for h in resp.body["hits"]["hits"]]
