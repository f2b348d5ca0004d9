"""End to end on real parts: a feed on the local feed server gets the touchstone item -> the service fetches,
enriches, indexes -> the NATO rule delivers one email and one signed webhook; later cycles, a re-fetch and a
restart (new service, new engine) deliver nothing more. Elasticsearch, SMTP and the webhook receiver are real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from elasticsearch import Elasticsearch

from alerts.engine import AlertEngine
from alerts.rules import AlertConfig, AlertRule
from alerts.webhook import verify
from ingest.feeds import FeedConfig
from newswatch.service import PipelineProcessor, Service
from newswatch.settings import Settings
from tests.alerts.conftest import SmtpSink, smtp  # noqa: F401  (fixture)
from tests.alerts.receiver import Receiver
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.newswatch.conftest import Clock
from tests.test_touchstone import CORE, touchstone_feed

pytestmark = pytest.mark.es
SECRET = "e2e-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], smtp: tuple[SmtpSink, int]) -> Settings:  # noqa: F811
    return make_settings(
        config_dir=ROOT / "config",  # the shipped topics and entities
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        webhook_secret=SECRET,
        alert_safety_margin_s=0,
        alert_interval_s=1,
    )


async def cycle(engine: AlertEngine) -> None:
    await engine.run_cycle()
    for _ in range(20):
        await engine.deliver()
        counts = engine.store.outbox_counts()
        if not counts.get("pending") and not counts.get("sending"):
            return


async def test_feed_item_to_one_email_and_one_signed_webhook(
    feed_server: FeedServer,
    settings: Settings,
    es: Elasticsearch,
    receiver: Receiver,
    smtp: tuple[SmtpSink, int],  # noqa: F811
    touchstone_text: str,
) -> None:
    feed_server.route("/monde.xml", body=touchstone_feed(touchstone_text), etag='"t1"')
    feeds = [FeedConfig(url=feed_server.url("/monde.xml"), name="Example Info", language="fr")]
    rule = AlertRule.model_validate(
        {
            "id": "nato",
            "name": "NATO",
            "query": "NATO OR OTAN OR НАТО",
            "channels": {"email": ["desk@example.org"], "webhooks": [{"url": receiver.url}]},
        }
    )
    processor = PipelineProcessor(settings)  # the real enricher: language, topics, entities, stories
    clock = Clock()

    def new_service(worker: str) -> Service:
        return Service(settings, es, processor=processor, worker_id=worker, clock=clock, feeds=feeds)

    def new_engine() -> AlertEngine:
        engine = AlertEngine(es, settings, config=AlertConfig(rules=(rule,)))
        engine.setup()
        return engine

    service, engine = new_service("w1"), new_engine()
    await service.start(schedule=False)
    try:
        await cycle(engine)  # the rule's watermark starts before the article exists
        report = await service.poll_once()
        assert [u.new for u in report.updates] == [1]
        alias = settings.index_name("articles")
        es.indices.refresh(index=alias)
        [doc] = [h["_source"] for h in es.search(index=alias, size=5).body["hits"]["hits"]]
        assert doc["language"] == "fr"
        assert {t["id"] for t in doc["topics"]} >= CORE

        for _ in range(3):
            await cycle(engine)
        assert receiver.wait_for(1)
        assert len(receiver.accepted) == 1 and len(smtp[0].messages) == 1
        [request] = receiver.accepted.values()
        assert verify(
            SECRET,
            request.headers["x-newswatch-timestamp"],
            request.body,
            request.headers["x-newswatch-signature"],
            datetime.now(UTC),
        )
        assert [i["article_id"] for i in receiver.bodies()[0]["items"]] == [doc["id"]]
        rcpts, message = smtp[0].messages[0]
        assert rcpts == ["desk@example.org"] and "OTAN" in str(message)
    finally:
        await service.shutdown()
        await engine.aclose()

    # Restart: a new service and a new engine. The feed is due again (an hour later) and unchanged.
    clock.offset = timedelta(hours=25)
    service, engine = new_service("w2"), new_engine()
    await service.start(schedule=False)
    try:
        service.store.refresh()
        report = await service.poll_once()
        assert [u.status for u in report.updates] == ["not_modified"]
        for _ in range(3):
            await cycle(engine)
    finally:
        await service.shutdown()
        await engine.aclose()
    assert len(receiver.requests) == 1 and len(smtp[0].messages) == 1


async def test_restarted_service_keeps_syndicated_copies_in_one_story(
    feed_server: FeedServer, settings: Settings, es: Elasticsearch, touchstone_text: str
) -> None:
    """Stories survive a restart: the second process warms its story index from the stored fingerprints."""
    recent = format_datetime(datetime.now(UTC) - timedelta(hours=3)).encode()  # inside the 72 h window
    original = touchstone_feed(touchstone_text).replace(b"Wed, 20 Nov 2024 17:45:00 +0200", recent)
    copy = (
        original.replace(b"otan-ukraine-visite.html", b"republication/12345.html")
        .replace(b"example-info-2024-11-20-otan", b"autre-site-98765")
        .replace(b"Example Info", b"Autre Site")
        .replace(b"]]></content:encoded>", b"<p>Lire la suite sur Autre Site.</p>]]></content:encoded>")
    )
    feed_server.route("/a.xml", body=original)
    feed_server.route("/b.xml", body=copy)

    def service(url: str, worker: str) -> Service:
        feeds = [FeedConfig(url=feed_server.url(url), name=worker)]
        return Service(settings, es, processor=PipelineProcessor(settings), worker_id=worker, feeds=feeds)

    first = service("/a.xml", "first")
    await first.start(schedule=False)
    assert [u.new for u in (await first.poll_once()).updates] == [1]
    await first.shutdown()

    second = service("/b.xml", "second")  # a new process: empty story index until it warms
    await second.start(schedule=False)
    assert [u.new for u in (await second.poll_once()).updates] == [1]
    await second.shutdown()

    alias = settings.index_name("articles")
    es.indices.refresh(index=alias)
    docs = [h["_source"] for h in es.search(index=alias, size=10).body["hits"]["hits"]]
    assert len(docs) == 2 and docs[0]["id"] != docs[1]["id"]
    assert docs[0]["story_id"] == docs[1]["story_id"]
    assert all(int(d["simhash"], 16) > 0 for d in docs)
