"""Alert evaluation benchmark on the local node: N rules against M newly indexed articles.

    NEWSWATCH_ELASTICSEARCH_URL=http://127.0.0.1:9201 python bench/alerts.py [--rules 1000] [--docs 10000]

Reports: one cycle's wall time (match + log + dispatch) and its Elasticsearch time (sum of the ``_msearch``
``took``), against a baseline measured in the same run (the same searches sent one ``_search`` each); the
delivery pass of the alerts produced; and the end-to-end latency (article indexed -> webhook received) with
the engine running every ``--interval`` seconds (no explicit refresh: the safety margin covers it).
Last line: ``rules=… docs=… cycle_s=… es_s=… latency_s=…``. Uses its own index prefix, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import Elasticsearch

from alerts.engine import AlertEngine
from alerts.evaluate import _search_body
from alerts.rules import AlertConfig, AlertRule
from index.writer import BulkWriter
from ingest.model import Article, Source, TopicMatch
from newswatch.settings import load_settings
from tests.alerts.receiver import Receiver

VOCAB = 20_000
TAGS = 500  # articles carry one of these rare words; rules whose word is one of them match


def words(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(VOCAB)}" for _ in range(n))


def make_articles(rng: random.Random, n: int, start: int) -> list[Article]:
    now = datetime.now(UTC)
    out = []
    for i in range(start, start + n):
        url = f"https://bench.example/{i}"
        tag = f"tag{rng.randrange(TAGS)}"
        out.append(
            Article(
                id=f"b-{i}",
                url=url,
                canonical_url=url,
                feed_url="https://bench.example/feed",
                source=Source("Bench", "bench.example"),
                title=f"{words(rng, 6)} {tag}",
                summary=words(rng, 20),
                content=words(rng, 60),
                published_at=now,
                fetched_at=now,
                language="en",
                topics=(TopicMatch(f"t{rng.randrange(50)}", 1.0, ()),),
            )
        )
    return out


def make_rules(rng: random.Random, n: int, url: str) -> list[AlertRule]:
    rules = []
    for i in range(n):
        # ~5% of rules name a tag word that occurs (about 20 articles each); the rest match nothing here.
        word = f"tag{rng.randrange(TAGS)}" if i % 20 == 0 else f"nomatch{i}"
        query = f'{word} OR "w{rng.randrange(VOCAB)} w{rng.randrange(VOCAB)}"'
        rules.append(
            AlertRule.model_validate(
                {
                    "id": f"rule-{i}",
                    "query": query,
                    "channels": {"webhooks": [{"url": url}]},
                    **({"topics": [f"t{rng.randrange(50)}"]} if i % 3 == 0 else {}),
                }
            )
        )
    return rules


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--latency-samples", type=int, default=5)
    args = ap.parse_args()
    url = os.environ.get("NEWSWATCH_ELASTICSEARCH_URL", "http://127.0.0.1:9201")
    prefix = f"bench-alerts-{uuid.uuid4().hex[:6]}"
    settings = load_settings(
        elasticsearch_url=url,
        index_prefix=prefix,
        alert_safety_margin_s=args.margin,
        alert_interval_s=max(1, int(args.interval)),
        webhook_secret="bench",
        delivery_backoff_base_s=0.2,
    )
    es = Elasticsearch(url, request_timeout=120)
    rng = random.Random(42)
    receiver = Receiver().start()
    rules = make_rules(rng, args.rules, receiver.url)
    engine = AlertEngine(es, settings, config=AlertConfig(rules=tuple(rules)))
    try:
        engine.setup()
        engine.evaluate_and_dispatch()  # new rules start now
        marks = engine.store.watermarks(r.id for r in rules)
        lower = min(marks.values())

        t0 = time.perf_counter()
        BulkWriter(es, settings.index_name("articles"), chunk_size=1000).write(
            make_articles(rng, args.docs, 0)
        )
        es.indices.refresh(index=settings.index_name("articles"))
        index_s = time.perf_counter() - t0
        print(f"indexed {args.docs} articles in {index_s:.1f}s")
        time.sleep(args.margin + 0.1)

        report = engine.evaluate_and_dispatch()
        cycle_s, es_s = report.duration_s, report.es_took_ms / 1000
        print(
            f"cycle: {report.rules} rules in {report.msearch_requests} _msearch requests, "
            f"{report.hits} hits, "
            f"{report.new_matches} new alerts, {report.messages} messages -> outbox: "
            f"wall {cycle_s:.2f}s (match+log {report.match_s:.2f}s, dispatch {report.dispatch_s:.2f}s), "
            f"Elasticsearch took {es_s:.2f}s"
        )

        # Baseline: the same searches, one _search request each.
        upper = datetime.now(UTC)
        t0 = time.perf_counter()
        took = 0
        for r in rules:
            resp = es.search(
                index=settings.index_name("articles"), **_search_body(r, lower, upper, 100, None)
            )
            took += int(resp.body["took"])
        base_s = time.perf_counter() - t0
        print(
            f"baseline: {len(rules)} separate _search requests: wall {base_s:.2f}s, took {took / 1000:.2f}s "
            f"-> the batched match phase is {base_s / report.match_s:.1f}x faster (match+log "
            f"{report.match_s:.2f}s vs {base_s:.2f}s; the baseline runs warm, after the cycle)"
        )

        t0 = time.perf_counter()
        delivered = 0
        while True:
            d = await engine.deliver(limit=500)
            delivered += d.delivered
            if d.claimed == 0:
                break
        deliver_s = time.perf_counter() - t0
        print(f"delivery: {delivered} webhooks in {deliver_s:.2f}s ({len(receiver.accepted)} accepted)")

        idle = engine.evaluate_and_dispatch()
        print(
            f"idle cycle (nothing new): wall {idle.duration_s:.2f}s, "
            f"Elasticsearch took {idle.es_took_ms / 1000:.2f}s"
        )

        # End-to-end latency with the engine running every --interval seconds.
        stop = asyncio.Event()

        async def loop() -> None:
            while not stop.is_set():
                started = time.monotonic()
                await engine.run_cycle()
                await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - started)))

        task = asyncio.create_task(loop())
        latencies = []
        hot = next(r for r in rules if r.query.startswith("tag"))
        word = hot.query.split()[0]
        for k in range(args.latency_samples):
            before = len(receiver.accepted)
            art = make_articles(rng, 1, 1_000_000 + k)[0]
            art = Article(
                **{
                    **{f: getattr(art, f) for f in art.__dataclass_fields__},
                    "title": f"latency probe {word}",
                    "topics": tuple((hot.topics and [TopicMatch(hot.topics[0], 1.0, ())]) or []),
                }
            )
            t_index = time.time()
            await asyncio.to_thread(BulkWriter(es, settings.index_name("articles")).write, [art])
            while len(receiver.accepted) <= before:
                await asyncio.sleep(0.02)
            got = max(receiver.accepted.values(), key=lambda r: r.at).at
            latencies.append(got - t_index)
            await asyncio.sleep(rng.uniform(0, args.interval))
        stop.set()
        await task
        lat = statistics.median(latencies)
        print(
            f"latency (indexed -> webhook received), interval {args.interval}s, margin {args.margin}s: "
            f"median {lat:.2f}s, max {max(latencies):.2f}s, target <= 2x interval = {2 * args.interval:.1f}s"
        )
        print(
            f"rules={len(rules)} docs={args.docs} cycle_s={cycle_s:.2f} es_s={es_s:.2f} latency_s={lat:.2f} "
            f"latency_max_s={max(latencies):.2f} match_s={report.match_s:.2f} baseline_s={base_s:.2f}"
        )
    finally:
        await engine.aclose()
        receiver.stop()
        for name in es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body:
            es.indices.delete(index=name, ignore_unavailable=True)
        es.options(ignore_status=404).indices.delete_index_template(name=settings.index_name("articles"))
        es.close()


if __name__ == "__main__":
    asyncio.run(main())
