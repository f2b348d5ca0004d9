"""Feeds and their fetch state in Elasticsearch (``{prefix}-feeds``), and the leases workers share them by.

One document per feed, id = ``feed_key(configured URL)`` (a SHA-256 prefix of the URL as configured, so a
permanent redirect moves ``url`` -- the address fetched -- without changing the document or losing its
state). The document holds the feed's configuration (name, language hint, tags, interval, full_text,
enabled, origin ``config``/``runtime``), its ``FeedState`` (validators, hashes, next check, error streak,
last success and error...) and a lease (``lease_owner``, ``lease_until``).

Leases: ``claim_due`` searches enabled feeds whose ``next_check_at`` is due and whose lease is free or
expired, then claims each with a bulk ``index`` guarded by ``if_seq_no``/``if_primary_term`` from the
search hit. A 409 means another worker changed the document since (claimed it, or already fetched it and
moved ``next_check_at``): the feed is skipped. The search may be stale (refresh interval), but a stale hit
carries a stale ``_seq_no``, so it can never be claimed: correctness does not depend on refreshes. The
state written after the fetch is guarded the same way by the ``_seq_no`` of the claim, and clears the
lease. A worker that dies holding a lease loses it after ``lease_s``.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from index.client import api_error_reason, api_error_type, storage_errors
from ingest.feeds import FeedConfig
from ingest.schedule import FeedState, SchedulePolicy
from newswatch.errors import ConfigError

log = structlog.get_logger(__name__)

ORIGIN_CONFIG = "config"
ORIGIN_RUNTIME = "runtime"

_DATE = {"type": "date"}
_KW = {"type": "keyword"}
FEEDS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "url": _KW,
        "config_url": _KW,
        "name": {"type": "text", "fields": {"raw": _KW}},
        "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
        "site_url": {"type": "keyword", "index": False},
        "language": _KW,
        "tags": _KW,
        "full_text": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "origin": _KW,
        "disabled_reason": {"type": "keyword", "index": False},
        "interval_s": {"type": "long"},
        "etag": {"type": "keyword", "index": False},
        "last_modified": {"type": "keyword", "index": False},
        "content_hash": {"type": "keyword", "index": False},
        "last_fetch_at": _DATE,
        "last_success_at": _DATE,
        "next_check_at": _DATE,
        "error_streak": {"type": "integer"},
        "first_error_at": _DATE,
        "last_error": {"type": "text"},
        "last_status": {"type": "integer"},
        "gone": {"type": "boolean"},
        "observed_interval_s": {"type": "double"},
        "ttl_s": {"type": "long"},
        "entry_hashes": {"type": "object", "enabled": False},
        "last_new": {"type": "integer"},
        "last_updated": {"type": "integer"},
        "lease_owner": _KW,
        "lease_until": _DATE,
        "added_at": _DATE,
        "updated_at": _DATE,
    },
}


def feed_key(url: str) -> str:
    """The document id of a feed: a hash of its configured URL."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:32]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One feed document: configuration, state, lease, and the version it was read at."""

    key: str
    feed: FeedConfig
    """The feed as configured (``feed.url`` is the configured URL)."""
    state: FeedState
    """``state.url`` is the URL fetched (differs from ``feed.url`` after a permanent redirect)."""
    origin: str = ORIGIN_CONFIG
    title: str | None = None
    site_url: str | None = None
    disabled_reason: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_new: int = 0
    last_updated: int = 0
    added_at: datetime | None = None
    seq_no: int | None = None
    primary_term: int | None = None

    @property
    def url(self) -> str:
        return self.state.url

    def to_doc(self, now: datetime) -> dict[str, Any]:
        s = self.state
        return {
            "url": s.url,
            "config_url": self.feed.url,
            "name": self.feed.display_name,
            "title": self.title,
            "site_url": self.site_url,
            "language": self.feed.language,
            "tags": list(self.feed.tags),
            "full_text": self.feed.full_text,
            "enabled": self.feed.enabled,
            "origin": self.origin,
            "disabled_reason": self.disabled_reason,
            "interval_s": self.feed.interval_s,
            "etag": s.etag,
            "last_modified": s.last_modified,
            "content_hash": s.content_hash,
            "last_fetch_at": _iso(s.last_fetch_at),
            "last_success_at": _iso(s.last_success_at),
            "next_check_at": _iso(s.next_check_at),
            "error_streak": s.error_streak,
            "first_error_at": _iso(s.first_error_at),
            "last_error": s.last_error,
            "last_status": s.last_status,
            "gone": s.gone,
            "observed_interval_s": s.observed_interval_s,
            "ttl_s": s.ttl_s,
            "entry_hashes": [list(pair) for pair in s.entry_hashes],
            "last_new": self.last_new,
            "last_updated": self.last_updated,
            "lease_owner": self.lease_owner,
            "lease_until": _iso(self.lease_until),
            "added_at": _iso(self.added_at or now),
            "updated_at": _iso(now),
        }

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> FeedRecord:
        src = hit["_source"]
        config_url = src.get("config_url") or src["url"]
        feed = FeedConfig.model_validate(
            {
                "url": config_url,
                "name": src.get("name") or "",
                "interval": src.get("interval_s"),
                "language": src.get("language"),
                "tags": src.get("tags") or [],
                "full_text": bool(src.get("full_text")),
                "enabled": src.get("enabled", True) is not False,
            }
        )
        state = FeedState(
            url=src.get("url") or config_url,
            etag=src.get("etag"),
            last_modified=src.get("last_modified"),
            content_hash=src.get("content_hash"),
            last_fetch_at=_dt(src.get("last_fetch_at")),
            last_success_at=_dt(src.get("last_success_at")),
            next_check_at=_dt(src.get("next_check_at")),
            error_streak=int(src.get("error_streak") or 0),
            first_error_at=_dt(src.get("first_error_at")),
            last_error=src.get("last_error"),
            last_status=src.get("last_status"),
            gone=bool(src.get("gone")),
            interval_s=feed.interval_s,
            observed_interval_s=src.get("observed_interval_s"),
            ttl_s=src.get("ttl_s"),
            entry_hashes=tuple((str(a), str(b)) for a, b in src.get("entry_hashes") or ()),
        )
        return cls(
            key=str(hit["_id"]),
            feed=feed,
            state=state,
            origin=src.get("origin") or ORIGIN_CONFIG,
            title=src.get("title"),
            site_url=src.get("site_url"),
            disabled_reason=src.get("disabled_reason"),
            lease_owner=src.get("lease_owner"),
            lease_until=_dt(src.get("lease_until")),
            last_new=int(src.get("last_new") or 0),
            last_updated=int(src.get("last_updated") or 0),
            added_at=_dt(src.get("added_at")),
            seq_no=hit.get("_seq_no"),
            primary_term=hit.get("_primary_term"),
        )


def new_record(feed: FeedConfig, origin: str, now: datetime) -> FeedRecord:
    """A feed never fetched: due at once."""
    return FeedRecord(
        key=feed_key(feed.url),
        feed=feed,
        state=FeedState(url=feed.url, interval_s=feed.interval_s),
        origin=origin,
        added_at=now,
    )


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    won: list[FeedRecord]
    lost: list[str]
    """Keys of due feeds another worker claimed (or changed) first."""


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    disabled: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FeedCounts:
    total: int
    enabled: int
    due: int
    failing: int
    unhealthy: int
    leased: int


def _config_fields(feed: FeedConfig) -> tuple[Any, ...]:
    return (feed.display_name, feed.language, feed.tags, feed.full_text, feed.enabled, feed.interval_s)


class FeedStore:
    """The feeds index. Synchronous (see docs/decisions.md); the service calls it through ``to_thread``."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    # ------------------------------------------------------------------------------------ setup
    def ensure_index(self) -> None:
        """Create the index (or push the current mapping onto it). Idempotent, concurrency-safe."""
        with storage_errors(self.es, f"setting up {self.index}"):
            try:
                self.es.indices.create(
                    index=self.index,
                    mappings=FEEDS_MAPPINGS,
                    settings={"number_of_shards": 1, "number_of_replicas": 0},
                )
                log.info("feeds.index.created", index=self.index)
            except BadRequestError as exc:
                if api_error_type(exc) != "resource_already_exists_exception":
                    raise ConfigError(f"cannot create {self.index}: {api_error_reason(exc)}") from exc
                try:
                    self.es.indices.put_mapping(index=self.index, **FEEDS_MAPPINGS)
                except BadRequestError as exc2:
                    raise ConfigError(
                        f"mapping of {self.index} conflicts with this version: {api_error_reason(exc2)}"
                    ) from exc2

    def refresh(self) -> None:
        with storage_errors(self.es, f"refreshing {self.index}"):
            self.es.indices.refresh(index=self.index)

    # ------------------------------------------------------------------------------------ reading
    def get(self, url: str) -> FeedRecord | None:
        """A feed by configured URL, or by the URL it is fetched from now."""
        with storage_errors(self.es, f"reading {self.index}"):
            try:
                hit = self.es.get(index=self.index, id=feed_key(url)).body
                return FeedRecord.from_hit(hit)
            except NotFoundError:
                pass
            resp = self.es.search(
                index=self.index,
                query={"bool": {"should": [{"term": {"url": url}}, {"term": {"config_url": url}}]}},
                size=1,
                seq_no_primary_term=True,
            )
        hits = resp.body["hits"]["hits"]
        return FeedRecord.from_hit(hits[0]) if hits else None

    def all(self, *, page: int = 1000) -> Iterator[FeedRecord]:
        """Every feed, ordered by configured URL (``search_after`` paging; no scroll context)."""
        after: list[Any] | None = None
        while True:
            kw: dict[str, Any] = {"search_after": after} if after else {}
            with storage_errors(self.es, f"reading {self.index}"):
                try:
                    resp = self.es.search(
                        index=self.index,
                        query={"match_all": {}},
                        sort=[{"config_url": "asc"}],
                        size=page,
                        seq_no_primary_term=True,
                        **kw,
                    )
                except NotFoundError:
                    return
            hits = resp.body["hits"]["hits"]
            for hit in hits:
                yield FeedRecord.from_hit(hit)
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def counts(self, now: datetime, policy: SchedulePolicy) -> FeedCounts:
        """Totals for health and metrics, counted by Elasticsearch (no documents loaded)."""
        unhealthy_since = _iso(now - timedelta(seconds=policy.unhealthy_after_s))
        iso_now = _iso(now)
        aggs = {
            "enabled": {"filter": {"term": {"enabled": True}}},
            "due": {"filter": _due_query(iso_now)},
            "failing": {"filter": {"range": {"error_streak": {"gt": 0}}}},
            "unhealthy": {
                "filter": {
                    "bool": {
                        "should": [
                            {"term": {"gone": True}},
                            {"range": {"first_error_at": {"lte": unhealthy_since}}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            },
            "leased": {"filter": {"range": {"lease_until": {"gt": iso_now}}}},
        }
        with storage_errors(self.es, f"counting {self.index}"):
            try:
                resp = self.es.search(index=self.index, size=0, track_total_hits=True, aggs=aggs)
            except NotFoundError:
                return FeedCounts(0, 0, 0, 0, 0, 0)
        body = resp.body
        a = body["aggregations"]
        return FeedCounts(
            total=int(body["hits"]["total"]["value"]),
            enabled=int(a["enabled"]["doc_count"]),
            due=int(a["due"]["doc_count"]),
            failing=int(a["failing"]["doc_count"]),
            unhealthy=int(a["unhealthy"]["doc_count"]),
            leased=int(a["leased"]["doc_count"]),
        )

    # ------------------------------------------------------------------------------------ config
    def add(self, feed: FeedConfig, now: datetime, *, origin: str = ORIGIN_RUNTIME) -> FeedRecord:
        """A new feed; ``ConfigError`` if that URL is already a feed."""
        existing = self.get(feed.url)
        if existing is not None:
            raise ConfigError(f"{feed.url}: already a feed ({existing.origin}, name {existing.feed.name!r})")
        record = new_record(feed, origin, now)
        with storage_errors(self.es, f"adding a feed to {self.index}"):
            try:
                resp = self.es.create(
                    index=self.index, id=record.key, document=record.to_doc(now), refresh="wait_for"
                )
            except ConflictError:
                raise ConfigError(f"{feed.url}: already a feed") from None
        return replace(record, seq_no=resp.body["_seq_no"], primary_term=resp.body["_primary_term"])

    def remove(self, url: str) -> FeedRecord:
        """Delete a feed added at run time; ``ConfigError`` if unknown or defined in the feeds file."""
        record = self.get(url)
        if record is None:
            raise ConfigError(f"{url}: no such feed")
        if record.origin == ORIGIN_CONFIG:
            raise ConfigError(
                f"{url}: defined in config/feeds.yaml; remove it there (or set `enabled: false`)"
            )
        what = f"removing a feed from {self.index}"
        with storage_errors(self.es, what), contextlib.suppress(NotFoundError):
            self.es.delete(index=self.index, id=record.key, refresh="wait_for")
        return record

    def sync_config(self, feeds: Sequence[FeedConfig], now: datetime) -> SyncReport:
        """Make the index agree with the feeds file: add new feeds, update changed configuration (state
        untouched), disable file feeds no longer listed. Runtime feeds are left alone. Idempotent and
        safe when several workers start together (create conflicts are someone else's success)."""
        existing = {r.key: r for r in self.all()}
        wanted = {feed_key(f.url): f for f in feeds}
        added: list[str] = []
        updated: list[str] = []
        disabled: list[str] = []
        actions: list[dict[str, Any]] = []
        for key, feed in wanted.items():
            known = existing.get(key)
            if known is None:
                actions.append(
                    {
                        "_op_type": "create",
                        "_index": self.index,
                        "_id": key,
                        "_source": new_record(feed, ORIGIN_CONFIG, now).to_doc(now),
                    }
                )
                added.append(feed.url)
            elif (
                _config_fields(known.feed) != _config_fields(feed)
                or known.origin != ORIGIN_CONFIG
                or (known.disabled_reason and feed.enabled)
            ):
                rec = replace(
                    known,
                    feed=feed,
                    origin=ORIGIN_CONFIG,
                    disabled_reason=None,
                    state=replace(known.state, interval_s=feed.interval_s),
                )
                actions.append(self._guarded_index(rec, now))
                updated.append(feed.url)
        for key, known in existing.items():
            if key not in wanted and known.origin == ORIGIN_CONFIG and known.feed.enabled:
                rec = replace(
                    known,
                    feed=known.feed.model_copy(update={"enabled": False}),
                    disabled_reason="removed from the feeds file",
                )
                actions.append(self._guarded_index(rec, now))
                disabled.append(known.feed.url)
        if actions:
            for ok, item in self._bulk(actions, f"syncing feeds into {self.index}"):
                if not ok and next(iter(item.values())).get("status") != 409:
                    raise ConfigError(f"cannot sync feeds into {self.index}: {item}")
            self.refresh()
        report = SyncReport(tuple(added), tuple(updated), tuple(disabled))
        if actions:
            log.info(
                "feeds.sync", index=self.index, added=len(added), updated=len(updated), disabled=len(disabled)
            )
        return report

    # ------------------------------------------------------------------------------------ leases
    def _guarded_index(self, record: FeedRecord, now: datetime) -> dict[str, Any]:
        action: dict[str, Any] = {
            "_op_type": "index",
            "_index": self.index,
            "_id": record.key,
            "_source": record.to_doc(now),
        }
        if record.seq_no is not None and record.primary_term is not None:
            action["if_seq_no"] = record.seq_no
            action["if_primary_term"] = record.primary_term
        return action

    def _bulk(self, actions: Iterable[dict[str, Any]], what: str) -> list[tuple[bool, dict[str, Any]]]:
        with storage_errors(self.es, what):
            return list(
                streaming_bulk(self.es, actions, raise_on_error=False, raise_on_exception=True, max_retries=0)
            )

    def claim_due(
        self, owner: str, now: datetime, lease_s: float, limit: int, *, exclude: Iterable[str] = ()
    ) -> list[FeedRecord]:
        """Claim up to ``limit`` due feeds for ``owner`` (most overdue first); returns those won."""
        return self.claim_batch(owner, now, lease_s, limit, exclude=exclude).won

    def claim_batch(
        self,
        owner: str,
        now: datetime,
        lease_s: float,
        limit: int,
        *,
        exclude: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> ClaimBatch:
        """Try to claim up to ``limit`` due feeds. ``exclude``: keys already handled in this poll (a search
        not yet refreshed may still show them). With ``rng``, the ``limit`` tried are drawn at random from
        the ``4 * limit`` most overdue, so workers polling together mostly try different feeds."""
        query = _due_query(_iso(now))
        skip = list(exclude)
        if skip:
            query["bool"]["must_not"] = [{"ids": {"values": skip}}]
        with storage_errors(self.es, f"finding due feeds in {self.index}"):
            try:
                resp = self.es.search(
                    index=self.index,
                    query=query,
                    sort=[{"next_check_at": {"order": "asc", "missing": "_first"}}, {"config_url": "asc"}],
                    size=limit * 4 if rng is not None else limit,
                    seq_no_primary_term=True,
                )
            except NotFoundError:
                return ClaimBatch([], [])
        candidates = [FeedRecord.from_hit(h) for h in resp.body["hits"]["hits"]]
        if rng is not None and len(candidates) > limit:
            candidates = rng.sample(candidates, limit)
        won = self._claim(candidates, owner, now, lease_s)
        won_keys = {r.key for r in won}
        return ClaimBatch(won, [c.key for c in candidates if c.key not in won_keys])

    def claim(self, url: str, owner: str, now: datetime, lease_s: float) -> FeedRecord | None:
        """Claim one feed now, due or not (``fetch --once --feed``); ``None`` if another worker holds it."""
        record = self.get(url)
        if record is None:
            raise ConfigError(f"{url}: no such feed (add it with `newswatch feeds add`)")
        if record.lease_until is not None and record.lease_until > now and record.lease_owner != owner:
            return None
        won = self._claim([record], owner, now, lease_s)
        return won[0] if won else None

    def _claim(
        self, candidates: Sequence[FeedRecord], owner: str, now: datetime, lease_s: float
    ) -> list[FeedRecord]:
        if not candidates:
            return []
        until = now + timedelta(seconds=lease_s)
        leased = {c.key: replace(c, lease_owner=owner, lease_until=until) for c in candidates}
        won: list[FeedRecord] = []
        for ok, item in self._bulk(
            (self._guarded_index(r, now) for r in leased.values()), f"claiming feeds in {self.index}"
        ):
            result = next(iter(item.values()))
            if ok:
                rec = leased[str(result["_id"])]
                won.append(replace(rec, seq_no=result["_seq_no"], primary_term=result["_primary_term"]))
            elif result.get("status") != 409:
                log.warning("feeds.claim.error", feed_key=result.get("_id"), error=result.get("error"))
        order = {c.key: i for i, c in enumerate(candidates)}
        won.sort(key=lambda r: order[r.key])
        return won

    def save(self, record: FeedRecord, now: datetime, *, release: bool = True) -> FeedRecord | None:
        """Write the record back under its lease; ``None`` if the lease was lost (someone else took the
        feed after it expired): that worker's view wins."""
        if release:
            record = replace(record, lease_owner=None, lease_until=None)
        action = self._guarded_index(record, now)
        with storage_errors(self.es, f"saving feed state in {self.index}"):
            try:
                resp = self.es.index(
                    index=self.index,
                    id=record.key,
                    document=action["_source"],
                    if_seq_no=action.get("if_seq_no"),
                    if_primary_term=action.get("if_primary_term"),
                )
            except ConflictError:
                log.warning("feeds.lease.lost", feed=record.url)
                return None
        return replace(record, seq_no=resp.body["_seq_no"], primary_term=resp.body["_primary_term"])

    def release(self, records: Iterable[FeedRecord], now: datetime) -> None:
        """Give leases back without changing anything else (shutdown with feeds not fetched)."""
        actions = [self._guarded_index(replace(r, lease_owner=None, lease_until=None), now) for r in records]
        if actions:
            self._bulk(actions, f"releasing leases in {self.index}")


def _due_query(iso_now: str | None) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"term": {"enabled": True}},
                {
                    "bool": {
                        "should": [
                            {"range": {"next_check_at": {"lte": iso_now}}},
                            {"bool": {"must_not": {"exists": {"field": "next_check_at"}}}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                {
                    "bool": {
                        "should": [
                            {"range": {"lease_until": {"lt": iso_now}}},
                            {"bool": {"must_not": {"exists": {"field": "lease_until"}}}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
            ]
        }
    }
