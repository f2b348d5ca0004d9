"""Bulk indexing throughput on the real node: BulkWriter (mget + create/index, noop detection) vs plain bulk.

Usage: NEWSWATCH_ELASTICSEARCH_URL=http://127.0.0.1:9201 python bench/index_bulk.py [N]

Baseline: ``helpers.streaming_bulk`` of plain ``index`` actions (no change detection), measured in the
same run on its own fresh index. Prints docs/s of each phase, ratios to the baseline, and ends with one
``key=value`` line. Uses a unique index prefix and deletes its indices afterwards.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

# The project root first: run as ``python bench/index_bulk.py``, ``bench/`` is on the path and its
# ``ingest.py`` would hide the ``ingest`` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch.helpers import streaming_bulk

from index.client import make_client
from index.setup import ensure_indices
from index.writer import BulkWriter, bulk_actions
from ingest.model import Article, Source
from newswatch.settings import load_settings

T0 = datetime(2024, 5, 1, tzinfo=UTC)
WORDS = [
    "défense",
    "anti-aérienne",
    "OTAN",
    "Ukraine",
    "sanctions",
    "drones",
    "missiles",
    "budget",
    "ministre",
    "sommet",
]


def articles(n: int, variant: str = "") -> list[Article]:
    out = []
    for i in range(n):
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(30))
        out.append(
            Article(
                id=f"bench-{i}",
                url=f"https://bench.example/{i}",
                canonical_url=f"https://bench.example/{i}",
                feed_url="https://bench.example/feed",
                source=Source("Bench", "bench.example"),
                title=f"Article {i} {WORDS[i % len(WORDS)]}",
                summary=words[:120],
                content=words + variant,
                published_at=T0,
                fetched_at=T0,
                language="fr",
                content_hash=f"h{i}{variant}",
            )
        )
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    url = os.environ.get("NEWSWATCH_ELASTICSEARCH_URL", "http://127.0.0.1:9201")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    base_settings = load_settings(elasticsearch_url=url, index_prefix=f"{prefix}-base")
    settings = load_settings(elasticsearch_url=url, index_prefix=prefix)
    es = make_client(settings)
    try:
        ensure_indices(es, base_settings)
        ensure_indices(es, settings)
        arts = articles(n)

        t = time.perf_counter()
        for ok, item in streaming_bulk(
            es, bulk_actions(arts, base_settings.index_name("articles"), lambda: T0), chunk_size=500
        ):
            assert ok, item
        baseline = n / (time.perf_counter() - t)

        writer = BulkWriter(es, settings.index_name("articles"), chunk_size=500, now=lambda: T0)
        t = time.perf_counter()
        first = writer.write(arts)
        create = n / (time.perf_counter() - t)
        assert first.created == n, first

        t = time.perf_counter()
        again = writer.write(arts)
        noop = n / (time.perf_counter() - t)
        assert again.noop == n, again

        changed = articles(n // 10, variant=" v2")
        t = time.perf_counter()
        upd = writer.write(changed)
        mixed = (n // 10) / (time.perf_counter() - t)
        assert upd.updated == n // 10, upd

        print(f"docs={n} (small: ~40-word articles), chunk=500, node={url}")
        print(f"baseline plain index bulk : {baseline:8.0f} docs/s")
        print(f"BulkWriter first ingest   : {create:8.0f} docs/s  ratio={create / baseline:.2f}")
        print(f"BulkWriter re-ingest noop : {noop:8.0f} docs/s  ratio={noop / baseline:.2f}")
        print(f"BulkWriter 10% changed    : {mixed:8.0f} docs/s  ratio={mixed / baseline:.2f}")
        print(
            f"docs={n} baseline_dps={baseline:.0f} create_dps={create:.0f} noop_dps={noop:.0f} "
            f"update_dps={mixed:.0f} create_ratio={create / baseline:.2f} noop_ratio={noop / baseline:.2f}"
        )
    finally:
        for s in (base_settings, settings):
            alias = s.index_name("articles")
            es.indices.delete(index=f"{alias}-v1", ignore_unavailable=True)
            es.options(ignore_status=404).indices.delete_index_template(name=alias)
        es.close()


if __name__ == "__main__":
    main()
