"""The fetching service: an APScheduler loop that asks Elasticsearch what is due, claims it, fetches it.

The scheduler holds no state. Every ``poll_interval_s`` the poll job asks the feed store for due feeds,
claims a batch with leases (``index.feedstate``), and runs one *feed update* per claimed feed under a
global semaphore (``fetch_concurrency``) and the per-host limiter:

    fetch (conditional GET) -> if ok: parse + enrich (``process_feed``) -> keep only new or changed entries
    (entry id + content hash) -> index them (or spool them when Elasticsearch is unreachable)
    -> ``apply_outcome`` -> save the state and release the lease

A ``full_text: true`` feed is parsed *without* enrichment; the pages of its new or changed entries only
are fetched (``ingest.fullpage``, same client and per-host limiter, same private-address guard as the
feed) and their main text merged in (falling back to the feed's text when a page fails); then those
entries are enriched. The ``feed.update`` line then says ``full_text="ok=N fallback=M"``.

The state is saved only after the articles are acknowledged (indexed or fsync'd to the spool), so a crash
in between means a re-fetch, never a loss; re-indexing is a noop thanks to deterministic ids. Each feed
update logs exactly one ``feed.update`` line (``feed``, ``status``, ``reason``, counts, HTTP status,
elapsed); ``feed=`` is bound for everything logged in between.

Other periodic jobs (alert evaluation...) join the same scheduler with ``add_periodic``. ``poll_once`` is
the same work as a one-shot (``newswatch run --once``, ``newswatch fetch --once``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from elasticsearch import Elasticsearch

from index.feedstate import ORIGIN_RUNTIME, FeedRecord, FeedStore
from index.writer import BulkReport, BulkWriter, article_to_doc, iso
from ingest.feeds import FeedConfig, parse_feeds_yaml
from ingest.fetch import FetchLimits, FetchOutcome, HostLimiter, build_client, fetch_feed
from ingest.fullpage import fetch_full_texts, merge_full_text
from ingest.model import Article
from ingest.schedule import SchedulePolicy, apply_outcome, new_or_changed, remember_entries
from newswatch import health as health_mod
from newswatch import netguard
from newswatch.errors import ConfigError, StorageUnavailable
from newswatch.metrics import ServiceMetrics
from newswatch.settings import Settings
from newswatch.spool import Spool, SpoolFull

log = structlog.get_logger("newswatch.service")

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------- processing


@dataclass(frozen=True, slots=True)
class ProcessedFeed:
    """What the service needs from parsing one feed body."""

    articles: Sequence[Article]
    title: str | None = None
    site_url: str | None = None
    ttl_s: int | None = None
    update_period_s: int | None = None
    warnings: Sequence[str] = ()
    errors: Sequence[str] = ()
    language: str | None = None
    """The language the feed document declares (its ``<language>``), if any."""


class Processor(Protocol):
    def __call__(
        self,
        data: bytes,
        *,
        feed_url: str,
        fetched_at: datetime,
        content_type: str | None,
        language_hint: str | None,
    ) -> ProcessedFeed: ...


@runtime_checkable
class DeferredProcessor(Processor, Protocol):
    """A processor that can normalise without enriching and enrich later (``full_text`` feeds: enrich
    after the page text is in). A plain ``Processor`` still works: the page text is merged into its
    already-enriched articles."""

    def normalise(
        self,
        data: bytes,
        *,
        feed_url: str,
        fetched_at: datetime,
        content_type: str | None,
        language_hint: str | None,
    ) -> ProcessedFeed: ...

    def enrich(
        self, articles: Sequence[Article], *, language_hint: str | None
    ) -> tuple[list[Article], list[str]]: ...


class PipelineProcessor:
    """``ingest.pipeline.process_feed`` with the enricher built once (``ingest.enrich.build_enricher``).
    ``enrich=False`` normalises only (tests, benches)."""

    def __init__(self, settings: Settings, *, enrich: bool = True) -> None:
        from ingest.enrich import build_enricher  # imported late: heavy (language models, rules)

        self._enricher = build_enricher(settings.config_dir, settings.languages) if enrich else None
        self._lock = threading.Lock()  # the enricher's story index is shared state
        self._warmed = False

    def warm_stories(self, es: Elasticsearch, settings: Settings) -> int:
        """Load the fingerprints of recently published articles into the story index, once, so a
        restarted service puts a new copy of yesterday's wire story into yesterday's story."""
        from index.search import recent_fingerprints

        if self._enricher is None or self._warmed:
            return 0
        stories = self._enricher.stories
        since = datetime.now(UTC) - timedelta(seconds=stories.window)
        n = 0
        with self._lock:
            for article_id, fp, published_at, story_id in recent_fingerprints(
                es, settings.index_name("articles"), since, limit=stories.max_entries
            ):
                stories.add(article_id, fp, published_at, story_id=story_id)
                n += 1
            self._warmed = True
        log.info("stories.warmed", articles=n, window_h=round(stories.window / 3600))
        return n

    def __call__(
        self,
        data: bytes,
        *,
        feed_url: str,
        fetched_at: datetime,
        content_type: str | None,
        language_hint: str | None,
    ) -> ProcessedFeed:
        return self._run(data, feed_url, fetched_at, content_type, language_hint, enrich=True)

    def normalise(
        self,
        data: bytes,
        *,
        feed_url: str,
        fetched_at: datetime,
        content_type: str | None,
        language_hint: str | None,
    ) -> ProcessedFeed:
        """Parse and normalise only; ``enrich`` the articles later."""
        return self._run(data, feed_url, fetched_at, content_type, language_hint, enrich=False)

    def enrich(
        self, articles: Sequence[Article], *, language_hint: str | None
    ) -> tuple[list[Article], list[str]]:
        """Enrich ``articles``; one that fails is kept un-enriched with a warning (as ``process_feed``).
        Without ``language_hint``, an article's own language (e.g. from its page) is the hint."""
        if self._enricher is None:
            return list(articles), []
        from ingest.pipeline import enrich_all

        out: list[Article] = []
        warnings: list[str] = []
        hints = [language_hint or (a.language if a.language not in ("", "und") else None) for a in articles]
        with self._lock:
            results = enrich_all(self._enricher, articles, hints)
        for article, result in zip(articles, results, strict=True):
            if isinstance(result, Exception):
                log.error("ingest.enrich_failed", feed=article.feed_url, article=article.id, exc_info=result)
                warnings.append(f"{article.feed_url}: {article.url or article.id}: not enriched: {result!r}")
                out.append(article)
            else:
                out.append(result)
        return out, warnings

    def _run(
        self,
        data: bytes,
        feed_url: str,
        fetched_at: datetime,
        content_type: str | None,
        language_hint: str | None,
        *,
        enrich: bool,
    ) -> ProcessedFeed:
        from ingest.pipeline import process_feed

        with self._lock:
            batch = process_feed(
                data,
                feed_url=feed_url,
                fetched_at=fetched_at,
                enricher=self._enricher if enrich else None,
                content_type=content_type,
                language_hint=language_hint,
            )
        meta = batch.meta
        return ProcessedFeed(
            articles=batch.articles,
            title=meta.title or None,
            site_url=meta.link or None,
            ttl_s=meta.ttl_s,
            update_period_s=meta.update_period_s,
            warnings=batch.warnings,
            errors=batch.errors,
            language=meta.language or None,
        )


# --------------------------------------------------------------------------------------------- sink


@dataclass(frozen=True, slots=True)
class SinkResult:
    created: int = 0
    updated: int = 0
    noop: int = 0
    errors: int = 0
    spooled: int = 0


class ArticleSink:
    """Writes articles to Elasticsearch, or to the spool when it is unreachable; replays the spool.

    While the spool holds anything, new documents go *behind* it (replay first, else append), so an old
    version replayed late can never overwrite a newer one. Thread-safe (calls come from worker threads).
    """

    def __init__(
        self, writer: BulkWriter, spool: Spool | None, metrics: ServiceMetrics | None, clock: Clock = utcnow
    ) -> None:
        self.writer = writer
        self.spool = spool
        self.metrics = metrics
        self.clock = clock
        self._lock = threading.Lock()

    def _count(self, report: BulkReport) -> SinkResult:
        if self.metrics is not None:
            self.metrics.articles.labels("new").inc(report.created)
            self.metrics.articles.labels("updated").inc(report.updated)
            self.metrics.articles.labels("duplicate").inc(report.noop)
            self.metrics.indexing_errors.inc(len(report.errors))
        return SinkResult(report.created, report.updated, report.noop, len(report.errors))

    def _gauge(self) -> None:
        if self.metrics is not None and self.spool is not None:
            self.metrics.spool_bytes.set(self.spool.depth_bytes)
            self.metrics.spool_records.set(self.spool.depth_records)

    def write(self, articles: Sequence[Article]) -> SinkResult:
        """Index ``articles``; on ``StorageUnavailable`` spool them (``SpoolFull`` if no room)."""
        docs = [article_to_doc(a, self.clock()) for a in articles]
        if not docs:
            return SinkResult()
        if self.spool is not None and len(self.spool):
            with self._lock:
                if len(self.spool):
                    try:
                        self._replay_locked()
                    except StorageUnavailable:
                        return self._spool_locked(docs)
        try:
            return self._count(self.writer.write_docs(docs))
        except SpoolFull:
            raise
        except StorageUnavailable as exc:
            if self.spool is None:
                raise
            log.warning("spool.write", reason=str(exc), documents=len(docs))
            with self._lock:
                return self._spool_locked(docs)

    def _spool_locked(self, docs: list[dict[str, Any]]) -> SinkResult:
        assert self.spool is not None
        self.spool.append(docs)
        if self.metrics is not None:
            self.metrics.spooled.inc(len(docs))
        self._gauge()
        return SinkResult(spooled=len(docs))

    def replay(self) -> SinkResult:
        """Write back what the spool holds. ``StorageUnavailable`` if Elasticsearch is still away."""
        if self.spool is None or not len(self.spool):
            return SinkResult()
        with self._lock:
            return self._replay_locked()

    def _replay_locked(self) -> SinkResult:
        assert self.spool is not None
        total = SinkResult()

        def write(batch: list[dict[str, Any]]) -> None:
            nonlocal total
            now = iso(self.clock())
            # indexed_at is the alerts' watermark: documents become visible now, not when spooled.
            fresh = [{**d, "indexed_at": now, "first_indexed_at": now} for d in batch]
            r = self._count(self.writer.write_docs(fresh))
            total = SinkResult(
                total.created + r.created,
                total.updated + r.updated,
                total.noop + r.noop,
                total.errors + r.errors,
            )

        try:
            report = self.spool.replay(write)
        finally:
            self._gauge()
        log.info(
            "spool.replayed",
            records=report.records,
            segments=report.segments,
            created=total.created,
            updated=total.updated,
            noop=total.noop,
            errors=total.errors,
        )
        return total


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """The outcome of one feed update (what the ``feed.update`` log line says)."""

    url: str
    status: str
    reason: str
    http_status: int | None = None
    entries: int = 0
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    spooled: int = 0
    elapsed_s: float = 0.0
    moved_to: str | None = None
    saved: bool = True
    key: str = ""
    full_text_ok: int = 0
    """``full_text`` feeds: new or changed entries whose page text was used..."""
    full_text_fallback: int = 0
    """...and those that kept the feed's text (page not fetched, failed, or without main text)."""
    full_text_error: str | None = None
    """The first reason for a fallback."""


@dataclass(frozen=True, slots=True)
class PollReport:
    updates: tuple[FeedUpdate, ...] = ()
    elapsed_s: float = 0.0
    released: int = 0

    @property
    def by_status(self) -> dict[str, int]:
        return dict(Tally(u.status for u in self.updates))

    def total(self, name: str) -> int:
        return sum(int(getattr(u, name)) for u in self.updates)

    def summary(self) -> str:
        statuses = " ".join(f"{k}={v}" for k, v in sorted(self.by_status.items()))
        return (
            f"feeds={len(self.updates)} {statuses} new={self.total('new')} updated={self.total('updated')} "
            f"duplicate={self.total('duplicate')} spooled={self.total('spooled')} "
            f"elapsed_s={self.elapsed_s:.2f}"
        ).replace("  ", " ")


@dataclass
class _Periodic:
    name: str
    fn: Callable[[], Awaitable[object]]
    interval_s: float


# --------------------------------------------------------------------------------------------- service


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def load_feed_file(settings: Settings) -> tuple[FeedConfig, ...]:
    """``{config_dir}/feeds.yaml`` (no file: no configured feeds)."""
    path = Path(settings.config_dir) / "feeds.yaml"
    if not path.is_file():
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_feeds_yaml(text, str(path))


@dataclass
class Service:
    """See the module docstring. Build with the settings and an Elasticsearch client; ``start`` then
    ``run_until`` (or ``poll_once`` for one shot), and always ``shutdown``."""

    settings: Settings
    es: Elasticsearch
    processor: Processor | None = None
    registry: Any = None
    worker_id: str = ""
    clock: Clock = utcnow
    feeds: Sequence[FeedConfig] | None = None
    """The configured feeds to sync in at start; ``None`` reads ``{config_dir}/feeds.yaml``."""
    transport: httpx.AsyncBaseTransport | None = None
    rng: random.Random = field(default_factory=random.Random)
    store: FeedStore = field(init=False)
    metrics: ServiceMetrics = field(init=False)
    sink: ArticleSink = field(init=False)

    def __post_init__(self) -> None:
        from prometheus_client import CollectorRegistry

        s = self.settings
        self.worker_id = self.worker_id or s.worker_id or default_worker_id()
        self.registry = self.registry if self.registry is not None else CollectorRegistry()
        self.metrics = ServiceMetrics.create(self.registry)
        self.store = FeedStore(self.es, s.index_name("feeds"))
        self.policy = SchedulePolicy.from_settings(s)
        # A lease must outlive the slowest possible feed update (every hop at the request timeout).
        # A full_text feed's update also fetches article pages, within full_text_budget_s.
        self.lease_s = max(
            float(s.lease_s), (s.max_redirects + 1) * s.request_timeout_s + 60.0 + s.full_text_budget_s
        )
        self.limits = FetchLimits.from_settings(s)
        self.limiter = HostLimiter.from_limits(self.limits)
        self.spool = Spool(s.spool_dir, s.spool_max_bytes)
        self.sink = ArticleSink(
            BulkWriter(self.es, s.index_name("articles"), s.bulk_chunk_size),
            self.spool,
            self.metrics,
            self.clock,
        )
        self._client: httpx.AsyncClient | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._periodic: list[_Periodic] = []
        self._semaphore = asyncio.Semaphore(s.fetch_concurrency)
        self._stopping = False
        self._started_at: datetime | None = None
        self.last_poll_at: datetime | None = None
        self._in_flight: dict[str, FeedRecord] = {}
        self._poll_task: asyncio.Task[Any] | None = None
        self._poll_lock = asyncio.Lock()
        self._spool_open = False

    # ------------------------------------------------------------------------------------ lifecycle
    async def start(self, *, schedule: bool = True) -> None:
        """Indices, config sync, spool, HTTP client; then (``schedule``) the scheduler with its jobs."""
        from index.setup import ensure_indices

        feeds = self.feeds if self.feeds is not None else load_feed_file(self.settings)
        if not self._spool_open:
            await asyncio.to_thread(self.spool.open)
            self._spool_open = True
        await asyncio.to_thread(self.store.ensure_index)
        await asyncio.to_thread(ensure_indices, self.es, self.settings)
        await asyncio.to_thread(self.store.sync_config, feeds, self.clock())
        if self.processor is None:  # built now so a bad topics/entities file fails the start, not each feed
            self.processor = await asyncio.to_thread(PipelineProcessor, self.settings)
        if isinstance(self.processor, PipelineProcessor):
            await asyncio.to_thread(self.processor.warm_stories, self.es, self.settings)
        self._client = self._build_client()
        self._started_at = self.clock()
        self.metrics.spool_bytes.set(self.spool.depth_bytes)
        self.metrics.spool_records.set(self.spool.depth_records)
        log.info("service.start", worker=self.worker_id, feeds=len(feeds), spool=len(self.spool))
        if schedule:
            self._start_scheduler()

    def _build_client(self) -> httpx.AsyncClient:
        inner = self.transport or httpx.AsyncHTTPTransport(
            http1=True,
            http2=False,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=self.limits.global_concurrency,
                max_keepalive_connections=self.limits.global_concurrency,
                keepalive_expiry=30.0,
            ),
        )
        guarded = netguard.GuardedTransport(inner, allow_private=self.settings.allow_private_feeds)
        return build_client(self.limits, transport=guarded)

    def _start_scheduler(self) -> None:
        # "skipped: maximum number of running instances reached" is the normal case of a long poll.
        aps_log = logging.getLogger("apscheduler")
        if aps_log.level == logging.NOTSET:
            aps_log.setLevel(logging.ERROR)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._poll_job,
            "interval",
            seconds=self.settings.poll_interval_s,
            id="poll",
            name="poll feeds",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        self._scheduler = scheduler
        for job in self._periodic:
            self._schedule_periodic(job)
        scheduler.start()

    def add_periodic(self, name: str, fn: Callable[[], Awaitable[object]], interval_s: float) -> None:
        """Run ``await fn()`` every ``interval_s`` on the service's scheduler (one at a time; errors are
        logged, never fatal). May be called before or after ``start``."""
        job = _Periodic(name, fn, interval_s)
        self._periodic.append(job)
        if self._scheduler is not None:
            self._schedule_periodic(job)

    def _schedule_periodic(self, job: _Periodic) -> None:
        assert self._scheduler is not None

        async def run() -> None:
            if self._stopping:
                return
            try:
                await job.fn()
            except Exception as exc:
                log.error("job.failed", job=job.name, error=f"{type(exc).__name__}: {exc}")

        self._scheduler.add_job(
            run,
            "interval",
            seconds=job.interval_s,
            id=f"periodic:{job.name}",
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC) + timedelta(seconds=min(job.interval_s, 1.0)),
        )

    @property
    def scheduler_running(self) -> bool:
        return bool(self._scheduler is not None and self._scheduler.running and not self._stopping)

    async def shutdown(self, grace_s: float | None = None) -> PollReport | None:
        """Stop scheduling; let in-flight feed updates finish within ``grace_s`` (else cancel them and give
        their leases back); replay the spool if Elasticsearch is there; close everything. Idempotent."""
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        report: PollReport | None = None
        task = self._poll_task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._in_flight:
            left = list(self._in_flight.values())
            self._in_flight.clear()
            try:
                await asyncio.to_thread(self.store.release, left, self.clock())
                log.info("service.leases_released", feeds=len(left))
            except StorageUnavailable as exc:
                log.warning("service.leases_not_released", feeds=len(left), reason=str(exc))
        if self._spool_open and len(self.spool):
            try:
                await asyncio.to_thread(self.sink.replay)
            except StorageUnavailable as exc:
                log.warning("spool.kept", records=len(self.spool), reason=str(exc))
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._spool_open:
            await asyncio.to_thread(self.spool.close)
            self._spool_open = False
        log.info("service.stop", worker=self.worker_id)
        return report

    # ------------------------------------------------------------------------------------ polling
    async def _poll_job(self) -> None:
        if self._stopping:
            return
        self._poll_task = asyncio.current_task()
        try:
            await self.poll_once()
        except StorageUnavailable as exc:
            self.metrics.polls.labels("error").inc()
            log.warning("poll.failed", reason=str(exc))
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.info("poll.cancelled", reason="shutdown grace period over")
        except Exception as exc:
            self.metrics.polls.labels("error").inc()
            log.error("poll.failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._poll_task = None

    async def poll_once(
        self, *, on_update: Callable[[FeedUpdate], None] | None = None, max_feeds: int | None = None
    ) -> PollReport:
        """Claim and update every due feed (batch after batch) until none is left or shutdown starts."""
        async with self._poll_lock:
            started = time.perf_counter()
            if len(self.spool):
                try:
                    await asyncio.to_thread(self.sink.replay)
                except StorageUnavailable as exc:
                    log.warning("spool.replay_failed", reason=str(exc), records=len(self.spool))
            updates: list[FeedUpdate] = []
            seen: set[str] = set()
            batch_size = max(1, self.settings.fetch_concurrency)
            while not self._stopping:
                limit = batch_size if max_feeds is None else min(batch_size, max_feeds - len(updates))
                if limit <= 0:
                    break
                batch = await asyncio.to_thread(
                    functools.partial(
                        self.store.claim_batch,
                        self.worker_id,
                        self.clock(),
                        self.lease_s,
                        limit,
                        exclude=sorted(seen),
                        rng=self.rng,
                    )
                )
                if not batch.won and not batch.lost:
                    break
                seen.update(batch.lost)
                seen.update(r.key for r in batch.won)
                updates.extend(await self._run_batch(batch.won, on_update))
            await self._refresh_gauges()
            self.last_poll_at = self.clock()
            self.metrics.last_poll.set(self.last_poll_at.timestamp())
            self.metrics.polls.labels("ok").inc()
            report = PollReport(tuple(updates), time.perf_counter() - started)
            if updates:
                log.info("poll.done", worker=self.worker_id, **_summary_fields(report))
            return report

    async def _run_batch(
        self, claimed: Sequence[FeedRecord], on_update: Callable[[FeedUpdate], None] | None
    ) -> list[FeedUpdate]:
        for rec in claimed:
            self._in_flight[rec.key] = rec

        async def one(rec: FeedRecord) -> FeedUpdate:
            async with self._semaphore:
                result = await self.update_feed(rec)
            self._in_flight.pop(rec.key, None)
            if on_update is not None:
                on_update(result)
            return result

        return list(await asyncio.gather(*(one(r) for r in claimed)))

    async def _refresh_gauges(self) -> None:
        try:
            counts = await asyncio.to_thread(self.store.counts, self.clock(), self.policy)
        except StorageUnavailable:
            return
        self.metrics.unhealthy_feeds.set(counts.unhealthy)
        for kind in ("total", "enabled", "due", "failing"):
            self.metrics.feeds.labels(kind).set(getattr(counts, kind))

    async def fetch_now(self, url: str) -> FeedUpdate | None:
        """Update one feed now, due or not (``fetch --once --feed``); ``None`` if another worker holds it."""
        rec = await asyncio.to_thread(self.store.claim, url, self.worker_id, self.clock(), self.lease_s)
        if rec is None:
            return None
        self._in_flight[rec.key] = rec
        try:
            async with self._semaphore:
                return await self.update_feed(rec)
        finally:
            self._in_flight.pop(rec.key, None)

    # ------------------------------------------------------------------------------------ one feed
    async def update_feed(self, rec: FeedRecord) -> FeedUpdate:
        """One feed update (the record must be claimed). Never raises for the feed's own problems."""
        with structlog.contextvars.bound_contextvars(feed=rec.url):
            started = time.perf_counter()
            update = await self._update(rec, started)
            log.info(
                "feed.update",
                status=update.status,
                reason=update.reason,
                http_status=update.http_status,
                entries=update.entries,
                new=update.new,
                updated=update.updated,
                duplicate=update.duplicate,
                spooled=update.spooled,
                elapsed_s=round(update.elapsed_s, 3),
                **({"moved_to": update.moved_to} if update.moved_to else {}),
                **({"saved": False} if not update.saved else {}),
                **_full_text_fields(update),
            )
            return update

    async def _update(self, rec: FeedRecord, started: float) -> FeedUpdate:
        assert self._client is not None, "Service.start() first"
        now = self.clock()
        with netguard.guarded(rec.origin == ORIGIN_RUNTIME):
            outcome = await fetch_feed(self._client, rec.state, self.limits, self.limiter, now=now)
        m = self.metrics
        m.fetch_seconds.observe(outcome.elapsed_s)
        m.fetch_bytes.inc(outcome.bytes_read)

        state = rec.state
        title, site = rec.title, rec.site_url
        entries = new_entries = 0
        sink = SinkResult()
        ttl = period = None
        reason = _reason(outcome)
        full_ok = full_fallback = 0
        full_error: str | None = None
        if outcome.status == "ok" and outcome.body is not None:
            deferred = False
            try:
                processed, deferred = await asyncio.to_thread(
                    self._process, outcome.body, rec, now, outcome.content_type
                )
            except Exception as exc:  # a parser bug must not stop the other feeds
                processed = ProcessedFeed((), errors=(f"{type(exc).__name__}: {exc}",))
            if not processed.articles and processed.errors:
                msg = "; ".join(processed.errors[:3])
                if outcome.discovered_feeds:
                    msg += f" (an HTML page advertising {', '.join(outcome.discovered_feeds[:3])})"
                outcome = dataclasses.replace(outcome, status="error", error=f"{rec.url}: {msg}", body=None)
                reason = outcome.error or msg
            else:
                pairs = [(a.id, a.content_hash) for a in processed.articles]
                changed = new_or_changed(pairs, state)
                known = {entry_id for entry_id, _ in state.entry_hashes}
                to_write = [a for a in processed.articles if a.id in changed]
                new_entries = sum(1 for a in to_write if a.id not in known)
                entries = len(processed.articles)
                if rec.feed.full_text and to_write:
                    feed_language = rec.feed.language or processed.language
                    with netguard.guarded(rec.origin == ORIGIN_RUNTIME):
                        to_write, full_ok, full_fallback, full_error = await self._full_text(
                            to_write, feed_language, now
                        )
                    if deferred:
                        to_write = await asyncio.to_thread(self._enrich, to_write, feed_language)
                if to_write:
                    try:
                        sink = await asyncio.to_thread(self.sink.write, to_write)
                    except StorageUnavailable as exc:
                        # Not acknowledged: leave the state as it was so the feed is fetched again.
                        m.fetches.labels("error").inc()
                        return FeedUpdate(
                            rec.url,
                            "error",
                            f"articles not stored: {exc}",
                            outcome.http_status,
                            entries,
                            elapsed_s=time.perf_counter() - started,
                            saved=False,
                            key=rec.key,
                            full_text_ok=full_ok,
                            full_text_fallback=full_fallback,
                            full_text_error=full_error,
                        )
                state = remember_entries(state, pairs)
                title = processed.title or title
                site = processed.site_url or site
                ttl, period = processed.ttl_s, processed.update_period_s
                reason = f"{len(to_write)} new or changed of {entries} entries"
        m.fetches.labels(outcome.status).inc()

        new_state = apply_outcome(
            state,
            outcome,
            now,
            self.policy,
            self.rng,
            new_entries=new_entries,
            feed_ttl_s=ttl,
            update_period_s=period,
        )
        moved = new_state.url if new_state.url != rec.state.url else None
        saved_rec = dataclasses.replace(
            rec, state=new_state, title=title, site_url=site, last_new=sink.created, last_updated=sink.updated
        )
        saved = True
        try:
            saved = await asyncio.to_thread(self.store.save, saved_rec, self.clock()) is not None
        except StorageUnavailable as exc:
            saved = False
            log.warning("feed.state_not_saved", reason=str(exc))
        return FeedUpdate(
            url=rec.url,
            status=outcome.status,
            reason=reason,
            http_status=outcome.http_status,
            entries=entries,
            new=sink.created,
            updated=sink.updated,
            duplicate=sink.noop,
            spooled=sink.spooled,
            elapsed_s=time.perf_counter() - started,
            moved_to=moved,
            saved=saved,
            key=rec.key,
            full_text_ok=full_ok,
            full_text_fallback=full_fallback,
            full_text_error=full_error,
        )

    def _process(
        self, body: bytes, rec: FeedRecord, now: datetime, content_type: str | None
    ) -> tuple[ProcessedFeed, bool]:
        """The processed feed, and whether its enrichment was deferred (``full_text`` feeds)."""
        if self.processor is None:
            self.processor = PipelineProcessor(self.settings)
        processor = self.processor
        kw: dict[str, Any] = {
            "feed_url": rec.url,
            "fetched_at": now,
            "content_type": content_type,
            "language_hint": rec.feed.language,
        }
        if rec.feed.full_text and isinstance(processor, DeferredProcessor):
            return processor.normalise(body, **kw), True
        return processor(body, **kw), False

    def _enrich(self, articles: Sequence[Article], language_hint: str | None) -> list[Article]:
        assert isinstance(self.processor, DeferredProcessor)
        enriched, _warnings = self.processor.enrich(articles, language_hint=language_hint)
        return enriched

    async def _full_text(
        self, articles: Sequence[Article], feed_language: str | None, now: datetime
    ) -> tuple[list[Article], int, int, str | None]:
        """Fetch the pages of ``articles`` (new or changed entries of a ``full_text`` feed) and merge their
        main text; ``(articles, ok, fallback, first fallback reason)``. Never raises for a page."""
        assert self._client is not None
        s = self.settings
        results = await fetch_full_texts(
            self._client,
            articles,
            self.limits,
            self.limiter,
            now=now,
            concurrency=s.full_text_concurrency,
            max_pages=s.full_text_max_pages,
            budget_s=s.full_text_budget_s,
        )
        merged: list[Article] = []
        ok = fallback = 0
        first_error: str | None = None
        for article, result in zip(articles, results, strict=True):
            self.metrics.fetch_bytes.inc(result.bytes_read)
            if result.full is not None:
                merged.append(merge_full_text(article, result.full, feed_language=feed_language))
                ok += 1
            else:
                merged.append(article)
                fallback += 1
                first_error = first_error or result.reason
        self.metrics.full_text.labels("ok").inc(ok)
        self.metrics.full_text.labels("fallback").inc(fallback)
        return merged, ok, fallback, first_error

    # ------------------------------------------------------------------------------------ health
    async def health(self) -> health_mod.HealthReport:
        es_ok, es_error = True, None
        try:  # cluster health, not ping: some distributions answer only DELETE on "/"
            status = await asyncio.to_thread(
                lambda: str(self.es.options(request_timeout=3, max_retries=0).cluster.health()["status"])
            )
            if status == "red":
                es_ok, es_error = False, "cluster status red"
        except Exception as exc:
            es_ok, es_error = False, f"{type(exc).__name__}: {exc}"
        max_age = max(3 * self.settings.poll_interval_s, 60.0) + self.settings.request_timeout_s
        return health_mod.evaluate(
            now=self.clock(),
            es_reachable=es_ok,
            es_error=es_error,
            scheduler_running=self.scheduler_running,
            last_poll_at=self.last_poll_at,
            started_at=self._started_at,
            max_poll_age_s=max_age,
            spool_records=len(self.spool) if self._spool_open else 0,
            extra={"worker": self.worker_id},
        )

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run the scheduler until ``stop`` is set (the caller then calls ``shutdown``)."""
        if self._scheduler is None:
            self._start_scheduler()
        await stop.wait()


def _reason(outcome: FetchOutcome) -> str:
    if outcome.status == "not_modified":
        return "not modified (304)"
    if outcome.status == "unchanged":
        return "same body as last time"
    if outcome.status == "gone":
        return outcome.error or "HTTP 410 Gone"
    if outcome.status == "error":
        return outcome.error or "error"
    return "fetched"


def _full_text_fields(update: FeedUpdate) -> dict[str, Any]:
    if not (update.full_text_ok or update.full_text_fallback):
        return {}
    fields: dict[str, Any] = {"full_text": f"ok={update.full_text_ok} fallback={update.full_text_fallback}"}
    if update.full_text_error:
        fields["full_text_error"] = update.full_text_error
    return fields


def _summary_fields(report: PollReport) -> dict[str, Any]:
    return {
        "feeds": len(report.updates),
        **{f"status_{k}": v for k, v in report.by_status.items()},
        "new": report.total("new"),
        "updated": report.total("updated"),
        "spooled": report.total("spooled"),
        "elapsed_s": round(report.elapsed_s, 3),
    }
