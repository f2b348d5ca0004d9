"""``newswatch ingest [--dry-run] SOURCE...``: parse feed files, directories or URLs once and index them.

SOURCE is a feed file, a directory (searched recursively for feed files: ``.xml .rss .atom .rdf .json
.feed`` and any other file whose first bytes look like a feed), or an http(s) URL (fetched with the
project's fetcher: timeouts, redirect limit and body-size cap from the settings).

``--dry-run`` needs no Elasticsearch: one normalised, enriched Article per line as JSON on stdout.
Otherwise the articles are written through ``index.writer.BulkWriter`` and a summary goes to stderr.
A source that fails is named on stderr and the others are still processed; the exit status is then 1.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ingest.pipeline import Enricher, FeedBatch, process_feed
from newswatch.cli import AppContext, pass_app
from newswatch.errors import SourceError
from newswatch.settings import Settings

FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".json", ".feed"})
_SNIFF = (b"<rss", b"<feed", b"<rdf:rdf", b"<rdf", b"<channel", b"jsonfeed.org/version", b"<?xml")


@dataclass(frozen=True, slots=True)
class Document:
    """One feed document to process: where it came from, its bytes and its content type."""

    source: str
    feed_url: str
    data: bytes
    content_type: str | None = None


def looks_like_feed_file(path: Path) -> bool:
    """A file worth trying as a feed: known suffix, or feed-like first bytes."""
    if path.suffix.lower() in FEED_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(1024).lower()
    except OSError:
        return False
    return any(marker in head for marker in _SNIFF)


def feed_files(directory: Path) -> Iterator[Path]:
    """Feed files under ``directory`` (recursive, sorted, hidden files and folders skipped)."""
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and looks_like_feed_file(path):
            yield path


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


async def _fetch_all(urls: Sequence[str], settings: Settings) -> list[Document | SourceError]:
    from ingest.fetch import FetchLimits, HostLimiter, build_client, fetch_feed
    from ingest.schedule import FeedState

    limits = FetchLimits.from_settings(settings)
    limiter = HostLimiter.from_limits(limits)
    out: list[Document | SourceError] = []
    async with build_client(limits) as client:
        outcomes = await asyncio.gather(
            *(fetch_feed(client, FeedState(url=u), limits, limiter, now=datetime.now(UTC)) for u in urls)
        )
    for url, outcome in zip(urls, outcomes, strict=True):
        if outcome.status == "ok" and outcome.body is not None:
            out.append(Document(url, outcome.final_url or url, outcome.body, outcome.content_type))
        else:
            reason = outcome.error or f"fetch status {outcome.status} (HTTP {outcome.http_status})"
            if outcome.discovered_feeds:
                reason += "; the page advertises: " + ", ".join(outcome.discovered_feeds)
            out.append(SourceError(url, reason))
    return out


def collect(sources: Sequence[str], settings: Settings) -> Iterator[Document | SourceError]:
    """Documents for the sources, in order; a source that cannot be read yields a ``SourceError``."""
    urls = [s for s in sources if _is_url(s)]
    fetched: dict[str, Document | SourceError] = {}
    if urls:
        for url, result in zip(urls, asyncio.run(_fetch_all(urls, settings)), strict=True):
            fetched[url] = result
    for source in sources:
        if source in fetched:
            yield fetched[source]
            continue
        path = Path(source)
        if path.is_dir():
            files = list(feed_files(path))
            if not files:
                yield SourceError(source, "directory holds no feed files")
            for file in files:
                yield _read_file(file)
        elif path.is_file():
            yield _read_file(path)
        else:
            yield SourceError(source, "no such file or directory (and not an http(s) URL)")


def _read_file(path: Path) -> Document | SourceError:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SourceError(str(path), f"cannot read: {exc.strerror or exc}")
    return Document(str(path), path.resolve().as_uri(), data)


def load_enricher(settings: Settings) -> Enricher | None:
    """``ingest.enrich.build_enricher`` when that module exists; ``None`` (no enrichment) otherwise."""
    try:
        module: Any = importlib.import_module("ingest.enrich")
    except ModuleNotFoundError as exc:
        if exc.name != "ingest.enrich":
            raise
        return None
    enricher: Enricher = module.build_enricher(settings.config_dir, settings.languages)
    return enricher


@dataclass
class _Totals:
    sources: int = 0
    failed: int = 0
    entries: int = 0
    articles: int = 0
    entry_errors: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    index_errors: int = 0


def _report_batch(source: str, batch: FeedBatch) -> None:
    for line in batch.warnings:
        click.echo(f"newswatch ingest: warning: {source}: {line}", err=True)
    for line in batch.errors:
        click.echo(f"newswatch ingest: entry error: {source}: {line}", err=True)


@click.command("ingest")
@click.option("--dry-run", is_flag=True, help="Print articles as JSON lines; do not touch Elasticsearch.")
@click.argument("sources", nargs=-1, required=True)
@pass_app
def ingest_cmd(app: AppContext, dry_run: bool, sources: tuple[str, ...]) -> None:
    """Parse feed files, directories or URLs once and index (or, with --dry-run, print) their articles."""
    settings = app.settings
    enricher = load_enricher(settings)
    writer: Any = None
    if not dry_run:
        from index.client import make_client
        from index.setup import ensure_indices
        from index.writer import BulkWriter

        es = make_client(settings)
        ensure_indices(es, settings)
        writer = BulkWriter(es, settings.index_name("articles"), chunk_size=settings.bulk_chunk_size)

    totals = _Totals()
    out = sys.stdout
    for doc in collect(sources, settings):
        totals.sources += 1
        if isinstance(doc, SourceError):
            totals.failed += 1
            click.echo(f"newswatch ingest: {doc}", err=True)
            continue
        try:
            batch = process_feed(
                doc.data,
                feed_url=doc.feed_url,
                fetched_at=datetime.now(UTC),
                enricher=enricher,
                content_type=doc.content_type,
            )
        except SourceError as exc:
            totals.failed += 1
            reason = exc.reason if exc.source == doc.feed_url else str(exc)
            click.echo(f"newswatch ingest: {doc.source}: {reason}", err=True)
            continue
        _report_batch(doc.source, batch)
        totals.entries += len(batch.articles) + len(batch.errors)
        totals.articles += len(batch.articles)
        totals.entry_errors += len(batch.errors)
        if dry_run:
            for article in batch.articles:
                out.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")
            out.flush()
        elif batch.articles:
            report = writer.write(batch.articles)
            totals.created += report.created
            totals.updated += report.updated
            totals.unchanged += report.noop
            totals.index_errors += len(report.errors)
            for err in report.errors[:20]:
                click.echo(f"newswatch ingest: index error: {doc.source}: {err}", err=True)

    summary = (
        f"sources={totals.sources} failed={totals.failed} entries={totals.entries} "
        f"articles={totals.articles} entry_errors={totals.entry_errors}"
    )
    if not dry_run:
        summary += (
            f" created={totals.created} updated={totals.updated} unchanged={totals.unchanged}"
            f" index_errors={totals.index_errors}"
        )
    click.echo(f"newswatch ingest: {summary}", err=True)
    if totals.failed or totals.index_errors:
        raise SystemExit(1)


def register(group: click.Group) -> None:
    group.add_command(ingest_cmd)
