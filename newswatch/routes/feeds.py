"""``/feeds``: the feed list with each feed's health, one feed, add a feed (private-address guard), remove.

Feeds live in the ``feeds`` index (``index.feedstate.FeedStore``). A feed is named by its key (shown in
the list) or by its URL (percent-encoded or not: ``/feeds/https://example.org/rss.xml`` works).
Feeds from ``config/feeds.yaml`` (origin ``config``) cannot be removed here (409): edit the file.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from index.client import storage_errors
from index.feedstate import ORIGIN_CONFIG, FeedRecord, FeedStore
from ingest.feeds import validate_feed
from newswatch.errors import ConfigError
from newswatch.netguard import check_feed_url
from newswatch.routes.deps import (
    ApiDeps,
    ApiProblem,
    Deps,
    bad_param,
    check_text_param,
    guard_query_string,
    require_read,
    require_write,
)

KEY_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_URL_CHARS = 2048

router = APIRouter(prefix="/feeds", tags=["feeds"], dependencies=[Depends(guard_query_string)])

Status = Literal["ok", "pending", "failing", "unhealthy", "gone", "disabled"]
FeedRef = Annotated[
    str, Path(min_length=1, max_length=MAX_URL_CHARS, description="Feed key (from the list) or feed URL")
]


class NewFeed(BaseModel):
    """A feed to add (same fields as an entry of ``config/feeds.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL_CHARS, examples=["https://www.example.org/rss.xml"])
    name: str = Field("", max_length=256)
    interval: int | str | None = Field(None, description="Seconds, or 30s/15m/2h/1d; absent = adaptive")
    language: str | None = Field(None, max_length=16)
    tags: list[str] = Field(default_factory=list, max_length=50)
    full_text: bool = False
    enabled: bool = True


def health_status(record: FeedRecord, now: datetime, unhealthy_after_s: int) -> Status:
    """One word for a feed's health (pure)."""
    s = record.state
    if not record.feed.enabled:
        return "disabled"
    if s.gone:
        return "gone"
    if s.error_streak > 0:
        if s.first_error_at is not None and now - s.first_error_at >= timedelta(seconds=unhealthy_after_s):
            return "unhealthy"
        return "failing"
    if s.last_fetch_at is None:
        return "pending"
    return "ok"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def feed_view(record: FeedRecord, now: datetime, unhealthy_after_s: int) -> dict[str, Any]:
    s = record.state
    return {
        "key": record.key,
        "url": record.feed.url,
        "fetch_url": s.url,
        "name": record.feed.display_name,
        "title": record.title,
        "site_url": record.site_url,
        "language": record.feed.language,
        "tags": list(record.feed.tags),
        "interval_s": record.feed.interval_s,
        "full_text": record.feed.full_text,
        "enabled": record.feed.enabled,
        "origin": record.origin,
        "disabled_reason": record.disabled_reason,
        "added_at": _iso(record.added_at),
        "health": {
            "status": health_status(record, now, unhealthy_after_s),
            "error_streak": s.error_streak,
            "first_error_at": _iso(s.first_error_at),
            "last_error": s.last_error,
            "last_status": s.last_status,
            "last_fetch_at": _iso(s.last_fetch_at),
            "last_success_at": _iso(s.last_success_at),
            "next_check_at": _iso(s.next_check_at),
            "gone": s.gone,
            "last_new": record.last_new,
            "last_updated": record.last_updated,
            "observed_interval_s": s.observed_interval_s,
        },
    }


def _store(deps: ApiDeps) -> FeedStore:
    return FeedStore(deps.es, deps.settings.index_name("feeds"))


def _index_exists(store: FeedStore) -> bool:
    with storage_errors(store.es, f"checking {store.index}"):
        return bool(store.es.indices.exists(index=store.index).body)


def _find(store: FeedStore, ref: str) -> FeedRecord | None:
    """By key, or by configured/fetched URL (adapter: ``FeedStore.get`` takes URLs only)."""
    if not _index_exists(store):
        return None
    if KEY_RE.match(ref):
        with storage_errors(store.es, f"reading {store.index}"):
            resp = store.es.options(ignore_status=404).get(index=store.index, id=ref)
        if resp.body.get("found"):
            return FeedRecord.from_hit(dict(resp.body))
    return store.get(ref)


def _found(store: FeedStore, ref: str) -> FeedRecord:
    check_text_param("feed", ref, MAX_URL_CHARS)
    record = _find(store, ref)
    if record is None:
        raise ApiProblem(404, f"feed: no feed {ref!r} (use a key from GET /feeds, or the feed URL)", "feed")
    return record


@router.get("", summary="Feeds and their health", dependencies=[Depends(require_read)])
def list_feeds(
    deps: Deps,
    status: Annotated[Status | None, Query(description="Only feeds with this health status")] = None,
) -> dict[str, Any]:
    store = _store(deps)
    now = deps.clock()
    after = deps.settings.unhealthy_after_s
    views = [feed_view(r, now, after) for r in store.all()]
    counts: dict[str, int] = {}
    for v in views:
        counts[v["health"]["status"]] = counts.get(v["health"]["status"], 0) + 1
    if status is not None:
        views = [v for v in views if v["health"]["status"] == status]
    return {"total": sum(counts.values()), "counts": counts, "feeds": views}


@router.get("/{feed:path}", summary="One feed and its health", dependencies=[Depends(require_read)])
def read_feed(deps: Deps, feed: FeedRef) -> dict[str, Any]:
    record = _found(_store(deps), feed)
    return feed_view(record, deps.clock(), deps.settings.unhealthy_after_s)


@router.post("", summary="Add a feed", status_code=201, dependencies=[Depends(require_write)])
def add_feed(deps: Deps, body: Annotated[NewFeed, Body()]) -> dict[str, Any]:
    """Refused (400, naming ``url``) when the host resolves to a loopback, private, link-local or other
    non-public address, unless ``NEWSWATCH_ALLOW_PRIVATE_FEEDS=true``."""
    data = body.model_dump(exclude_none=True)
    check_text_param("url", body.url, MAX_URL_CHARS)
    try:
        config = validate_feed(data)
    except ConfigError as exc:
        raise ApiProblem(422, str(exc), _first_field(str(exc))) from None
    try:
        check_feed_url(config.url, allow_private=deps.settings.allow_private_feeds, resolver=deps.resolver)
    except ConfigError as exc:
        raise bad_param("url", str(exc)) from None
    store = _store(deps)
    if not _index_exists(store):
        store.ensure_index()
    now = deps.clock()
    try:
        record = store.add(config, now)
    except ConfigError as exc:
        raise ApiProblem(409, f"url: {exc}", "url") from None
    return feed_view(record, now, deps.settings.unhealthy_after_s)


@router.delete(
    "/{feed:path}", summary="Remove a feed", status_code=204, dependencies=[Depends(require_write)]
)
def remove_feed(deps: Deps, feed: FeedRef) -> Response:
    store = _store(deps)
    record = _found(store, feed)
    if record.origin == ORIGIN_CONFIG:
        raise ApiProblem(
            409,
            f"feed: {record.feed.url} is defined in {deps.settings.config_dir / 'feeds.yaml'}; "
            "remove it there (or set `enabled: false`)",
            "feed",
        )
    try:
        store.remove(record.feed.url)
    except ConfigError as exc:
        raise ApiProblem(404, f"feed: {exc}", "feed") from None
    return Response(status_code=204)


def _first_field(message: str) -> str:
    m = re.match(r"^([a-z_]+)(?:\.\w+)*:", message)
    return m.group(1) if m else "body"
