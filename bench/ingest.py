"""Ingest throughput: parse → normalise → enrich → bulk action body, articles per second on one core.

Corpus: ``fastfeedparser-benchmark`` (200 real feeds) under NEWSWATCH_CORPORA (default ../shared/corpora).

* ours: ``ingest.parse.parse_feed`` (lxml fast path, else feedparser without sanitising, buffered expat)
  → ``normalise_entry``
  (selectolax HTML→text) → ``ingest.enrich`` (language, topics, entities, story) if present → the bulk
  body (``index.writer.article_to_doc`` + JSON) if present, else ``json.dumps(article.to_dict())``.
* naive baseline, same run: ``feedparser.parse`` with its defaults (sanitising on) → a Python ``re``
  alternation over the topic keywords of ``config/topics.yaml`` → ``json.dumps`` of the entry fields.
* parse only: ``parse_feed`` (lxml fast path, feedparser fallback) against ``parse_feed_feedparser``
  (feedparser for every document), entries/s, and the share of documents taking the fast path.
* bulk: if NEWSWATCH_ELASTICSEARCH_URL is set, ``BulkWriter`` into a throw-away index on that node
  (wall-clock docs/s), deleted afterwards; otherwise ``n/a``.

CPU figures are process time (one core). Usage: ``python bench/ingest.py [--files N] [--repeat N]``.
Last line: ``articles_per_s=… naive_articles_per_s=… ratio_vs_naive=… bulk_docs_per_s=…``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import re
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import yaml  # noqa: E402

from ingest.fastparse import fast_parse  # noqa: E402
from ingest.model import Article  # noqa: E402
from ingest.normalise import normalise_entry  # noqa: E402
from ingest.parse import parse_feed, parse_feed_feedparser  # noqa: E402
from newswatch.errors import ParseError  # noqa: E402


def corpus_files(limit: int | None) -> list[Path]:
    root = Path(os.environ.get("NEWSWATCH_CORPORA", ROOT.parent / "shared" / "corpora"))
    folder = root / "fastfeedparser-benchmark" / "feeds"
    if not folder.is_dir():
        sys.exit(f"bench/ingest.py: {folder} not found (set NEWSWATCH_CORPORA)")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return files[:limit] if limit else files


def optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def body_function() -> tuple[str, Callable[[Article], str | bytes]]:
    writer = optional("index.writer")
    if writer is not None and hasattr(writer, "article_to_doc"):
        now = datetime.now(UTC)

        client = optional("index.client")
        serializer = getattr(client, "SERIALIZER", None)
        if serializer is not None:  # what the Elasticsearch client writes the bulk lines with

            def body_bytes(article: Article) -> bytes:
                doc = writer.article_to_doc(article, now)
                return serializer.dumps({"index": {"_id": article.id}}) + b"\n" + serializer.dumps(doc)

            return "index.writer.article_to_doc + client serializer", body_bytes

        def body(article: Article) -> str:
            doc = writer.article_to_doc(article, now)
            return json.dumps({"index": {"_id": article.id}}) + "\n" + json.dumps(doc, ensure_ascii=False)

        return "index.writer.article_to_doc + json", body
    return "json.dumps(to_dict)", lambda a: json.dumps(a.to_dict(), ensure_ascii=False)


def topic_keywords(path: Path) -> list[str]:
    """Every term string in topics.yaml (for the naive regex baseline)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: set[str] = set()

    def walk(node: Any, in_terms: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if in_terms and isinstance(key, str) and isinstance(value, int | float):
                    out.add(key)  # {"term": weight}
                walk(value, in_terms or key in ("terms", "any", "all", "near", "not") or len(str(key)) == 2)
        elif isinstance(node, list):
            for item in node:
                walk(item, in_terms)
        elif isinstance(node, str) and in_terms:
            out.add(node)

    for topic in doc.get("topics", []):
        for key in ("terms", "all", "any", "near", "not"):
            walk(topic.get(key), True)
    return sorted({t.rstrip("*").strip() for t in out if t.strip("* ")}, key=len, reverse=True)


class Clock:
    def __init__(self) -> None:
        self.parts: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + seconds


def run_ours(
    datas: list[bytes], enricher: Any, body: Callable[[Article], str | bytes], clock: Clock
) -> list[Article]:
    fetched_at = datetime.now(UTC)
    pt = time.process_time
    articles: list[Article] = []
    for i, data in enumerate(datas):
        url = f"https://bench.test/feed/{i}"
        t0 = pt()
        try:
            parsed = parse_feed(data, url=url)
        except ParseError:
            clock.add("parse (lxml fast path / feedparser)", pt() - t0)
            continue
        t1 = pt()
        clock.add("parse (lxml fast path / feedparser)", t1 - t0)
        batch = [normalise_entry(e, parsed.meta, feed_url=url, fetched_at=fetched_at) for e in parsed.entries]
        t2 = pt()
        clock.add("normalise (html→text, urls, dates)", t2 - t1)
        if enricher is not None:
            many = getattr(enricher, "enrich_many", None)
            if many is not None:  # stage by stage over the feed's batch, as ingest.pipeline does
                hints = [parsed.meta.language] * len(batch)
                batch = [a for a in many(batch, hints) if isinstance(a, Article)]
            else:
                batch = [enricher.enrich(a, language_hint=parsed.meta.language) for a in batch]
        t3 = pt()
        clock.add("enrich (language, topics, entities, story)", t3 - t2)
        for a in batch:
            body(a)
        clock.add("bulk body (article_to_doc + JSON lines)", pt() - t3)
        articles.extend(batch)
    return articles


def run_naive(datas: list[bytes], pattern: re.Pattern[str], clock: Clock) -> int:
    pt = time.process_time
    n = 0
    tag_re = re.compile(r"<[^>]+>")
    for data in datas:
        t0 = pt()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = feedparser.parse(io.BytesIO(data))
        t1 = pt()
        clock.add("feedparser.parse (defaults, sanitising)", t1 - t0)
        for e in result.entries:
            text = " ".join(
                [e.get("title", ""), e.get("summary", "")]
                + [c.get("value", "") for c in e.get("content", [])]
            )
            text = tag_re.sub(" ", text)
            hits = sorted({m.lower() for m in pattern.findall(text)})
            json.dumps({"title": e.get("title"), "link": e.get("link"), "text": text, "topics": hits})
            n += 1
        clock.add("re alternation + json", pt() - t1)
    return n


def bulk_rate(articles: Iterable[Article]) -> str:
    url = os.environ.get("NEWSWATCH_ELASTICSEARCH_URL")
    if not url:
        return "n/a"
    from index.client import make_client
    from index.setup import ensure_indices
    from index.writer import BulkWriter
    from newswatch.settings import load_settings

    items = list(articles)
    settings = load_settings(elasticsearch_url=url, index_prefix=f"nwbench-{uuid.uuid4().hex[:8]}")
    es = make_client(settings)
    try:
        ensure_indices(es, settings)
        writer = BulkWriter(es, settings.index_name("articles"), chunk_size=settings.bulk_chunk_size)
        t0 = time.perf_counter()
        report = writer.write(items)
        dt = time.perf_counter() - t0
        print(
            f"bulk: {report.created} created, {report.updated} updated, {report.noop} unchanged, "
            f"{len(report.errors)} errors in {dt:.2f}s wall"
        )
        return f"{len(items) / dt:.0f}"
    finally:
        prefix = settings.index_prefix
        try:
            es.indices.delete(index=f"{prefix}-articles-v1", ignore_unavailable=True)
            es.indices.delete_index_template(name=f"{prefix}-articles")
        except Exception as exc:  # cleanup is best effort; say so
            print(f"bulk: cleanup of {prefix}-* failed: {exc}", file=sys.stderr)


def parse_only(datas: list[bytes], repeat: int) -> None:
    """Parse-only entries/s: ``parse_feed`` vs ``parse_feed_feedparser``; fast-path share."""
    rates = {}
    for name, fn in (("parse_feed", parse_feed), ("parse_feed_feedparser", parse_feed_feedparser)):
        best = None
        for _ in range(repeat):
            n = 0
            t0 = time.process_time()
            for i, data in enumerate(datas):
                with contextlib.suppress(ParseError):
                    n += len(fn(data, url=f"https://bench.test/feed/{i}").entries)
            dt = time.process_time() - t0
            best = dt if best is None else min(best, dt)
        assert best is not None
        rates[name] = n / best
        print(f"parse only, {name:22s}: {n} entries in {best:.2f}s CPU = {n / best:.0f} entries/s")
    taken = sum(
        fast_parse(d, url=f"https://bench.test/feed/{i}", content_type=None) is not None
        for i, d in enumerate(datas)
    )
    print(
        f"parse only: fast path ×{rates['parse_feed'] / rates['parse_feed_feedparser']:.2f} "
        f"vs feedparser; {taken} of {len(datas)} documents took the lxml fast path"
    )


def breakdown(clock: Clock, total: float, n: int) -> None:
    for name, sec in clock.parts.items():
        share = 100 * sec / total
        print(f"  {name:45s} {sec:6.2f}s  {share:5.1f}%  {1e6 * sec / max(n, 1):7.0f} µs/article")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=None, help="only the first N feed files")
    ap.add_argument("--repeat", type=int, default=1, help="run each path N times, keep the best")
    args = ap.parse_args()

    datas = [p.read_bytes() for p in corpus_files(args.files)]
    print(f"corpus: {len(datas)} feeds, {sum(map(len, datas)) / 1e6:.1f} MB")

    enrich_mod = optional("ingest.enrich")
    enricher = None
    if enrich_mod is not None:
        from newswatch.settings import DEFAULT_LANGUAGES

        enricher = enrich_mod.build_enricher(ROOT / "config", DEFAULT_LANGUAGES, reload_topics=False)
    body_name, body = body_function()
    from ingest.text import speedups_enabled

    speedups = int(speedups_enabled())
    print(f"enricher: {'ingest.enrich' if enricher else 'none'}; bulk body: {body_name}")
    print(f"C speed-ups (ingest/_speedups.c): {'on' if speedups else 'off'} (off: NEWSWATCH_SPEEDUPS=0)")

    best_ours: tuple[float, int, Clock] | None = None
    articles: list[Article] = []
    for _ in range(args.repeat):
        clock = Clock()
        t0 = time.process_time()
        articles = run_ours(datas, enricher, body, clock)
        dt = time.process_time() - t0
        if best_ours is None or dt < best_ours[0]:
            best_ours = (dt, len(articles), clock)
    assert best_ours is not None
    ours_dt, ours_n, ours_clock = best_ours

    keywords = topic_keywords(ROOT / "config" / "topics.yaml")
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keywords) + r")", re.IGNORECASE)
    best_naive: tuple[float, int, Clock] | None = None
    for _ in range(args.repeat):
        clock = Clock()
        t0 = time.process_time()
        n = run_naive(datas, pattern, clock)
        dt = time.process_time() - t0
        if best_naive is None or dt < best_naive[0]:
            best_naive = (dt, n, clock)
    assert best_naive is not None
    naive_dt, naive_n, naive_clock = best_naive

    ours_rate = ours_n / ours_dt
    naive_rate = naive_n / naive_dt
    print(f"\nours : {ours_n} articles in {ours_dt:.2f}s CPU = {ours_rate:.0f} articles/s")
    breakdown(ours_clock, ours_dt, ours_n)
    print(
        f"naive: {naive_n} entries in {naive_dt:.2f}s CPU = {naive_rate:.0f} articles/s "
        f"({len(keywords)} keywords in one alternation)"
    )
    breakdown(naive_clock, naive_dt, naive_n)
    parse_only(datas, args.repeat)
    bulk = bulk_rate(articles)
    print(
        f"articles_per_s={ours_rate:.0f} naive_articles_per_s={naive_rate:.0f} "
        f"ratio_vs_naive={ours_rate / naive_rate:.2f} bulk_docs_per_s={bulk} speedups={speedups}"
    )


if __name__ == "__main__":
    main()
