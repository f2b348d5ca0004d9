"""Feed state store on the real node: round-trip, config sync, leases with optimistic concurrency."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from index.feedstate import ORIGIN_CONFIG, ORIGIN_RUNTIME, FeedStore, feed_key
from ingest.feeds import FeedConfig
from ingest.schedule import SchedulePolicy
from newswatch.errors import ConfigError

pytestmark = pytest.mark.es

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(es_url: str, unique_prefix: str) -> Iterator[FeedStore]:
    es = Elasticsearch(es_url, request_timeout=30)
    s = FeedStore(es, f"{unique_prefix}-feeds")
    s.ensure_index()
    yield s
    es.options(ignore_status=404).indices.delete(index=s.index)
    es.close()


def feeds(n: int) -> list[FeedConfig]:
    return [FeedConfig(url=f"https://example.org/{i}.xml", name=f"F{i}", tags=("t",)) for i in range(n)]


def test_state_round_trip(store: FeedStore) -> None:
    store.sync_config(feeds(1), NOW)
    [rec] = store.claim_due("w1", NOW, 60, 10)
    assert rec.lease_owner == "w1"
    state = dataclasses.replace(
        rec.state,
        etag='"abc"',
        last_modified="Sat, 01 Mar 2025 11:00:00 GMT",
        content_hash="h1",
        last_fetch_at=NOW,
        last_success_at=NOW,
        next_check_at=NOW + timedelta(minutes=15),
        error_streak=0,
        last_status=200,
        observed_interval_s=1234.5,
        ttl_s=600,
        entry_hashes=(("e1", "x1"), ("e2", "x2")),
    )
    saved = store.save(dataclasses.replace(rec, state=state, title="Feed title"), NOW)
    assert saved is not None
    again = store.get("https://example.org/0.xml")
    assert again is not None
    assert again.state == state
    assert again.title == "Feed title"
    assert again.lease_owner is None and again.lease_until is None
    assert again.key == feed_key("https://example.org/0.xml")
    # not due any more
    store.refresh()
    assert store.claim_due("w1", NOW + timedelta(minutes=1), 60, 10) == []
    assert [r.key for r in store.claim_due("w1", NOW + timedelta(minutes=16), 60, 10)] == [again.key]


def test_two_workers_claim_disjoint_sets(store: FeedStore) -> None:
    store.sync_config(feeds(30), NOW)
    a = store.claim_due("a", NOW, 60, 20)
    b = store.claim_due("b", NOW, 60, 30)  # the search is stale or not: already-claimed ones are refused
    assert len(a) == 20
    assert {r.key for r in a}.isdisjoint({r.key for r in b})
    store.refresh()
    rest = store.claim_due("c", NOW, 60, 30)
    assert len(a) + len(b) + len(rest) == 30
    assert {r.lease_owner for r in b + rest} <= {"b", "c"}


def test_stale_record_cannot_be_saved_after_lease_taken_over(store: FeedStore) -> None:
    store.sync_config(feeds(1), NOW)
    [mine] = store.claim_due("a", NOW, 10, 1)
    store.refresh()
    later = NOW + timedelta(seconds=30)  # lease expired: b takes the feed over
    [theirs] = store.claim_due("b", later, 10, 1)
    assert theirs.key == mine.key
    assert store.save(mine, later) is None
    assert store.save(theirs, later) is not None


def test_sync_config_adds_updates_disables_and_keeps_runtime(store: FeedStore) -> None:
    first = store.sync_config(feeds(3), NOW)
    assert len(first.added) == 3 and not first.updated
    store.add(FeedConfig(url="https://runtime.example/feed"), NOW)
    changed = [feeds(3)[0].model_copy(update={"name": "Renamed"}), feeds(3)[1]]
    report = store.sync_config(changed, NOW)
    assert report.added == ()
    assert report.updated == ("https://example.org/0.xml",)
    assert report.disabled == ("https://example.org/2.xml",)
    by_url = {r.feed.url: r for r in store.all()}
    assert by_url["https://example.org/0.xml"].feed.name == "Renamed"
    assert by_url["https://example.org/2.xml"].feed.enabled is False
    assert by_url["https://runtime.example/feed"].origin == ORIGIN_RUNTIME
    assert by_url["https://runtime.example/feed"].feed.enabled is True
    assert store.sync_config(changed, NOW) == type(report)((), (), ())  # idempotent
    with pytest.raises(ConfigError, match=r"feeds\.yaml"):
        store.remove("https://example.org/0.xml")
    assert store.remove("https://runtime.example/feed").origin == ORIGIN_RUNTIME
    assert store.get("https://runtime.example/feed") is None
    assert by_url["https://example.org/1.xml"].origin == ORIGIN_CONFIG


def test_add_refuses_duplicates_and_counts(store: FeedStore) -> None:
    store.add(FeedConfig(url="https://runtime.example/feed"), NOW)
    with pytest.raises(ConfigError, match="already a feed"):
        store.add(FeedConfig(url="https://runtime.example/feed"), NOW)
    counts = store.counts(NOW, SchedulePolicy())
    assert (counts.total, counts.enabled, counts.due, counts.failing, counts.leased) == (1, 1, 1, 0, 0)


def test_permanent_redirect_keeps_the_document(store: FeedStore) -> None:
    store.sync_config(feeds(1), NOW)
    [rec] = store.claim_due("a", NOW, 60, 1)
    moved = dataclasses.replace(rec, state=dataclasses.replace(rec.state, url="https://new.example/feed"))
    assert store.save(moved, NOW) is not None
    store.refresh()
    by_new = store.get("https://new.example/feed")
    assert by_new is not None and by_new.key == rec.key and by_new.feed.url == "https://example.org/0.xml"
    assert store.sync_config(feeds(1), NOW).added == ()  # the configured URL is still known
