"""Resident memory of the fetching service with 10,000 feeds configured (no network).

The feeds point at distinct loopback addresses on the closed port 9 (``http://127.a.b.c:9/feed.xml``), so
every fetch is an immediate "connection refused": the feed state is loaded into Elasticsearch, the
scheduler runs, every feed is claimed, fetched, fails, and has its state written back -- all of the
service's machinery, none of the internet. Runs against NEWSWATCH_ELASTICSEARCH_URL on a throwaway index
prefix, deleted at the end.

Baseline: the same process after importing everything (settings, service, enricher models not yet
loaded), before the service starts. Target: rss_mb < 300.

    python bench/service_memory.py [--feeds 10000] [--seconds 120] [--no-enrich]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.client import make_client
from ingest.feeds import FeedConfig
from newswatch.service import PipelineProcessor, Service
from newswatch.settings import load_settings


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def feed_urls(n: int) -> list[str]:
    return [f"http://127.{(i >> 16) & 255}.{(i >> 8) & 255}.{(i & 255) or 1}:9/feed{i}.xml" for i in range(n)]


async def main(n: int, seconds: float, enrich: bool) -> None:
    prefix = f"nwbench-{uuid.uuid4().hex[:8]}"
    spool = Path("/tmp") / f"{prefix}-spool"
    settings = load_settings(
        index_prefix=prefix,
        spool_dir=spool,
        per_host_delay_s=0,
        connect_timeout_s=2,
        poll_interval_s=1.0,
        log_level="WARNING",
    )
    from newswatch.logs import configure_logging

    configure_logging("WARNING", json=True)
    es = make_client(settings)
    baseline = rss_mb()
    print(f"baseline (imports done): rss_mb={baseline:.1f}")
    t0 = time.perf_counter()
    processor = PipelineProcessor(settings, enrich=enrich)
    after_models = rss_mb()
    print(f"pipeline built (enrich={enrich}): rss_mb={after_models:.1f} ({time.perf_counter() - t0:.1f}s)")
    feeds = [FeedConfig(url=u, tags=("bench",)) for u in feed_urls(n)]
    service = Service(settings, es, processor=processor, feeds=feeds)
    try:
        t1 = time.perf_counter()
        await service.start()
        print(
            f"state loaded ({n} feeds synced), scheduler running: rss_mb={rss_mb():.1f} "
            f"({time.perf_counter() - t1:.1f}s)"
        )
        deadline = time.monotonic() + seconds
        fetched = 0.0
        while time.monotonic() < deadline:
            await asyncio.sleep(2)
            fetched = service.registry.get_sample_value("newswatch_fetches_total", {"outcome": "error"}) or 0
            if fetched >= n:
                break
        elapsed = time.perf_counter() - t1
        current = rss_mb()
        print(
            f"after {elapsed:.0f}s: fetched={int(fetched)}/{n} rss_mb={current:.1f} peak_mb={peak_mb():.1f}"
        )
    finally:
        await service.shutdown(grace_s=2)
        es.options(ignore_status=404).indices.delete(
            index=f"{prefix}-feeds,{prefix}-articles-v1", allow_no_indices=True
        )
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-articles")
        es.close()
        for p in spool.glob("*"):
            p.unlink()
        spool.rmdir()
    print(
        f"feeds={n} rss_mb={current:.1f} peak_mb={peak_mb():.1f} baseline_mb={baseline:.1f} "
        f"ratio={current / baseline:.2f} fetched={int(fetched)} elapsed_s={elapsed:.0f} target_mb=300"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--no-enrich", action="store_true")
    args = ap.parse_args()
    asyncio.run(main(args.feeds, args.seconds, not args.no_enrich))
