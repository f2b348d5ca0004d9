"""Prometheus metrics of the fetching service, on a registry passed in (never the global one).

The 304 ratio is ``rate(newswatch_fetches_total{outcome="not_modified"}) / rate(newswatch_fetches_total)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class ServiceMetrics:
    registry: CollectorRegistry
    fetches: Counter
    fetch_bytes: Counter
    fetch_seconds: Histogram
    articles: Counter
    indexing_errors: Counter
    spool_bytes: Gauge
    spool_records: Gauge
    spooled: Counter
    feeds: Gauge
    unhealthy_feeds: Gauge
    polls: Counter
    last_poll: Gauge
    full_text: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ServiceMetrics:
        ns = "newswatch"
        return cls(
            registry=registry,
            fetches=Counter(
                "fetches",
                "Feed fetches by outcome (ok, not_modified, unchanged, error, gone)",
                ["outcome"],
                namespace=ns,
                registry=registry,
            ),
            fetch_bytes=Counter("fetch_bytes", "Body bytes read (decoded)", namespace=ns, registry=registry),
            fetch_seconds=Histogram(
                "fetch_seconds",
                "Fetch latency (all hops)",
                buckets=FETCH_BUCKETS,
                namespace=ns,
                registry=registry,
            ),
            articles=Counter(
                "articles",
                "Articles by result: new, updated, duplicate (unchanged)",
                ["result"],
                namespace=ns,
                registry=registry,
            ),
            indexing_errors=Counter(
                "indexing_errors", "Documents Elasticsearch refused", namespace=ns, registry=registry
            ),
            spool_bytes=Gauge(
                "spool_bytes", "Bytes waiting in the local spool", namespace=ns, registry=registry
            ),
            spool_records=Gauge(
                "spool_records", "Documents waiting in the local spool", namespace=ns, registry=registry
            ),
            spooled=Counter(
                "spooled_documents",
                "Documents written to the spool because Elasticsearch was unreachable",
                namespace=ns,
                registry=registry,
            ),
            feeds=Gauge(
                "feeds",
                "Feeds known, by kind (total, enabled, due, failing)",
                ["kind"],
                namespace=ns,
                registry=registry,
            ),
            unhealthy_feeds=Gauge(
                "unhealthy_feeds",
                "Feeds gone or failing for longer than unhealthy_after_s",
                namespace=ns,
                registry=registry,
            ),
            polls=Counter(
                "polls", "Poll cycles by result (ok, error)", ["result"], namespace=ns, registry=registry
            ),
            last_poll=Gauge(
                "last_successful_poll_timestamp_seconds",
                "Unix time of the last successful poll",
                namespace=ns,
                registry=registry,
            ),
            full_text=Counter(
                "full_text",
                "Article pages of full_text feeds by result (ok: main text used, fallback: the feed's text)",
                ["result"],
                namespace=ns,
                registry=registry,
            ),
        )
