"""The fetching service against the real node and the real feed server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch

from ingest.feeds import FeedConfig
from newswatch.errors import StorageUnavailable
from newswatch.service import Service
from tests.feedserver import FeedServer, rss_feed
from tests.newswatch.conftest import Clock, ServiceFactory

pytestmark = pytest.mark.es


def count_articles(es: Elasticsearch, service: Service) -> int:
    alias = service.settings.index_name("articles")
    es.indices.refresh(index=alias)
    return int(es.count(index=alias).body["count"])


def article_ids(es: Elasticsearch, service: Service) -> list[str]:
    alias = service.settings.index_name("articles")
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=100, source=False, sort=[{"_doc": "asc"}]).body["hits"]["hits"]
    return sorted(h["_id"] for h in hits)


async def test_fetch_index_save_state_then_restart_resumes(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch
) -> None:
    feed_server.route("/a.xml", body=rss_feed(3, title="Feed A"), etag='"v1"')
    feeds = [FeedConfig(url=feed_server.url("/a.xml"), name="A", language="en")]
    first = make_service(feeds)
    await first.start(schedule=False)
    report = await first.poll_once()
    [update] = report.updates
    assert (update.status, update.http_status, update.entries, update.new) == ("ok", 200, 3, 3)
    assert count_articles(es, first) == 3
    rec = first.store.get(feeds[0].url)
    assert rec is not None
    assert rec.state.etag == '"v1"' and rec.state.error_streak == 0 and rec.title == "Feed A"
    assert rec.state.next_check_at is not None and len(rec.state.entry_hashes) == 3
    await first.shutdown()

    # A second service (another process, after a restart) sees the state: nothing is due yet.
    clock = Clock()
    second = make_service(feeds, clock=clock)
    await second.start(schedule=False)
    second.store.refresh()
    assert (await second.poll_once()).updates == ()
    assert len(feed_server.requests_for("/a.xml")) == 1
    # Once due, it sends the stored validators and gets a 304: nothing parsed, nothing indexed.
    clock.offset = timedelta(hours=25)
    [again] = (await second.poll_once()).updates
    assert again.status == "not_modified" and again.http_status == 304 and again.new == 0
    assert feed_server.requests_for("/a.xml")[-1].headers["if-none-match"] == '"v1"'
    assert count_articles(es, second) == 3


async def test_only_new_or_changed_entries_are_sent(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch
) -> None:
    feed_server.route("/b.xml", body=rss_feed(["one", "two"]))
    clock = Clock()
    service = make_service([FeedConfig(url=feed_server.url("/b.xml"))], clock=clock)
    await service.start(schedule=False)
    [u1] = (await service.poll_once()).updates
    assert (u1.new, u1.entries) == (2, 2)
    feed_server.route("/b.xml", body=rss_feed(["one", "two", "three"]))
    clock.offset = timedelta(hours=25)
    service.store.refresh()
    [u2] = (await service.poll_once()).updates
    assert (u2.status, u2.entries, u2.new, u2.updated, u2.duplicate) == ("ok", 3, 1, 0, 0)
    assert count_articles(es, service) == 3


async def test_errors_gone_and_permanent_redirect(
    feed_server: FeedServer, make_service: ServiceFactory
) -> None:
    feed_server.route("/broken.xml", status=500, body="boom")
    feed_server.route("/gone.xml", status=410, body="")
    feed_server.redirect("/old.xml", "/new.xml", status=301)
    feed_server.route("/new.xml", body=rss_feed(1))
    feed_server.route("/page.html", body="<html><body>not a feed</body></html>", content_type="text/html")
    urls = {p: feed_server.url(p) for p in ("/broken.xml", "/gone.xml", "/old.xml", "/page.html")}
    service = make_service([FeedConfig(url=u) for u in urls.values()])
    await service.start(schedule=False)
    report = await service.poll_once()
    by_url = {u.url: u for u in report.updates}
    assert by_url[urls["/broken.xml"]].status == "error"
    assert by_url[urls["/broken.xml"]].http_status == 500
    assert by_url[urls["/gone.xml"]].status == "gone"
    assert by_url[urls["/page.html"]].status == "error"
    moved = by_url[urls["/old.xml"]]
    assert moved.status == "ok" and moved.moved_to == feed_server.url("/new.xml")
    service.store.refresh()
    rec = service.store.get(urls["/old.xml"])
    assert rec is not None and rec.url == feed_server.url("/new.xml") and rec.feed.url == urls["/old.xml"]
    broken = service.store.get(urls["/broken.xml"])
    assert broken is not None and broken.state.error_streak == 1 and "500" in (broken.state.last_error or "")
    gone = service.store.get(urls["/gone.xml"])
    assert gone is not None and gone.state.gone
    metrics = service.registry
    assert metrics.get_sample_value("newswatch_fetches_total", {"outcome": "error"}) == 2.0
    assert metrics.get_sample_value("newswatch_fetches_total", {"outcome": "gone"}) == 1.0


async def test_two_workers_never_fetch_a_feed_twice(
    feed_server: FeedServer, make_service: ServiceFactory
) -> None:
    paths = [f"/f{i}.xml" for i in range(24)]
    for p in paths:
        feed_server.route(p, body=rss_feed(2, title=p, link=f"https://example.org{p}/"), delay=0.05)
    feeds = [FeedConfig(url=feed_server.url(p)) for p in paths]
    settings = {"fetch_concurrency": 4}
    a = make_service(feeds, settings=settings)
    b = make_service(feeds, settings=settings)
    await a.start(schedule=False)
    await b.start(schedule=False)
    # Both run their real schedulers (poll every 0.2 s) for a while.
    a._start_scheduler()
    b._start_scheduler()
    for _ in range(100):
        await asyncio.sleep(0.1)
        if len(feed_server.requests) >= len(paths) and a.last_poll_at and b.last_poll_at:
            break
    await asyncio.sleep(1.0)  # several more polls by both: nothing is due again
    await a.shutdown()
    await b.shutdown()
    per_path = Counter(r.path for r in feed_server.requests)
    assert per_path == Counter({p: 1 for p in paths})
    fetched_a = a.registry.get_sample_value("newswatch_fetches_total", {"outcome": "ok"}) or 0
    fetched_b = b.registry.get_sample_value("newswatch_fetches_total", {"outcome": "ok"}) or 0
    assert fetched_a + fetched_b == len(paths)
    assert fetched_a > 0 and fetched_b > 0  # both took part (batches of 4)


async def test_es_unreachable_mid_run_spools_then_replays(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch
) -> None:
    """ES "stops" after the feeds were claimed: simulated by pointing the writer and the store at a closed
    port; then they point at the real node again (the node itself is not stopped)."""
    feed_server.route("/s1.xml", body=rss_feed(["a", "b", "c"], link="https://one.example/"))
    feed_server.route("/s2.xml", body=rss_feed(["d", "e"], link="https://two.example/"))
    clock = Clock()
    service = make_service(
        [FeedConfig(url=feed_server.url("/s1.xml")), FeedConfig(url=feed_server.url("/s2.xml"))],
        clock=clock,
        settings={"lease_s": 60},
    )
    await service.start(schedule=False)
    claimed = service.store.claim_due(service.worker_id, clock(), service.lease_s, 10)
    assert len(claimed) == 2
    dead = Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)
    real = service.es
    service.sink.writer.es = dead
    service.store.es = dead
    updates = [await service.update_feed(rec) for rec in claimed]
    assert [u.spooled for u in updates] == [3, 2]
    assert all(not u.saved for u in updates)  # the state could not be written either
    assert service.spool.depth_records == 5 and service.spool.segments()
    assert service.registry.get_sample_value("newswatch_spool_records") == 5.0
    with pytest.raises(StorageUnavailable):
        service.sink.replay()
    assert count_articles(es, service) == 0

    # Elasticsearch is back.
    service.sink.writer.es = real
    service.store.es = real
    clock.offset = timedelta(seconds=service.lease_s + 1)  # the leases taken before the outage expired
    service.store.refresh()
    report = await service.poll_once()
    assert service.spool.depth_records == 0 and not service.spool.segments()
    assert count_articles(es, service) == 5
    # The feeds were fetched again (their state was never saved): everything is a duplicate (noop).
    assert sorted((u.new, u.duplicate) for u in report.updates) == [(0, 2), (0, 3)]
    assert len(article_ids(es, service)) == 5
    service.store.refresh()
    assert (await service.poll_once()).updates == ()
    dead.close()


async def test_spool_full_leaves_state_unsaved(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch
) -> None:
    feed_server.route("/big.xml", body=rss_feed(30))
    service = make_service([FeedConfig(url=feed_server.url("/big.xml"))], settings={"spool_max_bytes": 2048})
    await service.start(schedule=False)
    [rec] = service.store.claim_due(service.worker_id, service.clock(), 60, 1)
    dead = Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)
    service.sink.writer.es = dead
    update = await service.update_feed(rec)
    assert update.status == "error" and "spool" in update.reason and "full" in update.reason
    assert not update.saved
    stored = service.store.get(rec.feed.url)
    assert stored is not None and stored.state.last_fetch_at is None  # will be fetched again
    dead.close()


async def test_periodic_jobs_run_on_the_scheduler(make_service: ServiceFactory) -> None:
    service = make_service([])
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)
        if len(ran) == 2:
            raise RuntimeError("a failing job is logged, not fatal")

    service.add_periodic("test-job", job, 0.1)
    await service.start()
    for _ in range(50):
        await asyncio.sleep(0.05)
        if len(ran) >= 4:
            break
    assert len(ran) >= 4
    assert service.scheduler_running
    await service.shutdown()
    assert not service.scheduler_running
