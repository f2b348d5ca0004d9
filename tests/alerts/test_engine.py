"""Alert engine end to end with real parts: Elasticsearch, an aiosmtpd server, a webhook receiver."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from alerts.engine import AlertEngine
from alerts.rules import FeedHealthRule
from alerts.webhook import verify
from newswatch.settings import Settings
from tests.alerts.conftest import SECRET, EngineFactory, SmtpSink, article, index_articles, nato_rule
from tests.alerts.receiver import Receiver

pytestmark = pytest.mark.es


async def drain(engine: AlertEngine, rounds: int = 40) -> None:
    """Deliver until the outbox has nothing due (retries are scheduled 50-200 ms ahead in tests)."""
    for _ in range(rounds):
        report = await engine.deliver()
        counts = engine.store.outbox_counts()
        if not counts.get("pending") and not counts.get("sending") and report.claimed == 0:
            return
        await asyncio.sleep(0.1)


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_instant_alert_once_per_story_email_and_signed_webhook(
    make_engine: EngineFactory,
    es: Elasticsearch,
    settings: Settings,
    receiver: Receiver,
    smtp: tuple[SmtpSink, int],
) -> None:
    sink, _ = smtp
    rule = nato_rule(receiver)
    engine = make_engine(rule)
    await engine.run_cycle()  # a new rule starts now
    index_articles(
        es,
        settings,
        article(
            1,
            "L'OTAN renforce la défense antiaérienne",
            "Les alliés de l'OTAN livrent des systèmes.",
            story_id="story-1",
            language="fr",
        ),
        article(2, "Weather in Paris", "Sunny all week."),
    )
    report = await engine.run_cycle()
    await drain(engine)
    assert report.new_matches == 1
    assert len(receiver.accepted) == 1
    assert len(sink.messages) == 1

    req = next(iter(receiver.accepted.values()))
    assert verify(
        SECRET,
        req.headers["x-newswatch-timestamp"],
        req.body,
        req.headers["x-newswatch-signature"],
        datetime.now(UTC),
    )
    assert not verify(
        "wrong",
        req.headers["x-newswatch-timestamp"],
        req.body,
        req.headers["x-newswatch-signature"],
        datetime.now(UTC),
    )
    payload = json.loads(req.body)
    assert payload["schema"] == "newswatch.alert/v1"
    assert payload["delivery_id"] == req.headers["idempotency-key"]
    assert payload["rule"]["id"] == "nato"
    [item] = payload["items"]
    assert item["article_id"] == "art-1" and item["story_id"] == "story-1"
    assert item["language"] == "fr"
    assert "«OTAN»" in item["snippet"]
    assert item["why"]["terms"] == ["otan"]

    rcpts, mail = sink.messages[0]
    assert rcpts == ["analyst@example.org"]
    assert "OTAN" in mail["Subject"]
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()
    }
    assert "«OTAN»" in parts["text/plain"] and "https://news.example.org/1" in parts["text/plain"]
    assert "<mark>OTAN</mark>" in parts["text/html"]

    # A syndicated copy of the same story, later cycles, and a restarted engine: nothing more.
    index_articles(es, settings, article(3, "NATO boosts air defence", story_id="story-1"))
    await engine.run_cycle()
    await engine.run_cycle()
    restarted = make_engine(rule)
    r2 = await restarted.run_cycle()
    await drain(restarted)
    assert r2.new_matches == 0
    assert len(receiver.requests) == 1
    assert len(sink.messages) == 1


async def test_restart_resumes_pending_deliveries(
    make_engine: EngineFactory,
    es: Elasticsearch,
    settings: Settings,
    receiver: Receiver,
    smtp: tuple[SmtpSink, int],
) -> None:
    rule = nato_rule(receiver)
    first = make_engine(rule)
    first.evaluate_and_dispatch()
    index_articles(es, settings, article(10, "NATO summit opens"))
    report = first.evaluate_and_dispatch()  # dispatched to the outbox, then the process "dies"
    assert report.messages == 1 and report.outbox_created == 2
    assert receiver.requests == []
    second = make_engine(rule)
    await second.run_cycle()
    await drain(second)
    assert len(receiver.accepted) == 1 and len(smtp[0].messages) == 1


async def test_webhook_failing_twice_then_ok_is_delivered_once(
    make_engine: EngineFactory, es: Elasticsearch, settings: Settings, receiver: Receiver
) -> None:
    receiver.fail_with([503, 503], {"Retry-After": "0"})
    rule = nato_rule(receiver, channels={"webhooks": [{"url": receiver.url}]})
    engine = make_engine(rule)
    await engine.run_cycle()
    index_articles(es, settings, article(20, "NATO ministers meet"))
    await engine.run_cycle()
    await drain(engine)
    assert [r.status for r in receiver.requests] == [503, 503, 200]
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1
    assert len(receiver.accepted) == 1
    [doc] = engine.store.outbox_docs()
    assert doc["status"] == "delivered" and doc["attempts"] == 3
    assert engine.counters.retried == 2 and engine.counters.delivered == 1


async def test_webhook_400_is_not_retried_and_dead_letters(
    make_engine: EngineFactory, es: Elasticsearch, settings: Settings, receiver: Receiver
) -> None:
    receiver.fail_with([400])
    rule = nato_rule(receiver, channels={"webhooks": [{"url": receiver.url}]})
    engine = make_engine(rule)
    await engine.run_cycle()
    index_articles(es, settings, article(30, "NATO exercise"))
    await engine.run_cycle()
    await drain(engine)
    await engine.run_cycle()
    assert [r.status for r in receiver.requests] == [400]
    assert engine.store.outbox_counts() == {"dead": 1}
    [doc] = engine.store.outbox_docs("dead")
    assert doc["last_status"] == 400 and doc["attempts"] == 1
    assert engine.counters.dead == 1


async def test_digest_collects_a_day_into_one_message(
    make_engine: EngineFactory,
    es: Elasticsearch,
    settings: Settings,
    receiver: Receiver,
    smtp: tuple[SmtpSink, int],
) -> None:
    clock = Clock()
    rule = nato_rule(
        receiver, mode="digest", digest={"every": "daily", "at": "08:00", "timezone": "Europe/Paris"}
    )
    engine = make_engine(rule, clock=clock)
    await engine.run_cycle()
    index_articles(es, settings, article(40, "NATO one"), article(41, "NATO two"))
    await engine.run_cycle()
    index_articles(es, settings, article(42, "OTAN trois", language="fr"))
    await engine.run_cycle()
    await drain(engine)
    assert receiver.requests == [] and smtp[0].messages == []
    clock.offset = timedelta(days=1)
    await engine.run_cycle()
    await drain(engine)
    await engine.run_cycle()
    assert len(receiver.accepted) == 1 and len(smtp[0].messages) == 1
    [body] = receiver.bodies()
    assert body["kind"] == "digest"
    assert sorted(i["article_id"] for i in body["items"]) == ["art-40", "art-41", "art-42"]
    assert "digest, 3 stories" in smtp[0].messages[0][1]["Subject"]


async def test_two_engines_at_once_deliver_once(
    make_engine: EngineFactory,
    es: Elasticsearch,
    settings: Settings,
    receiver: Receiver,
    smtp: tuple[SmtpSink, int],
) -> None:
    rule = nato_rule(receiver)
    a, b = make_engine(rule), make_engine(rule)
    await asyncio.gather(a.run_cycle(), b.run_cycle())
    index_articles(es, settings, *(article(50 + i, f"NATO item {i}") for i in range(4)))
    for _ in range(3):
        await asyncio.gather(a.run_cycle(), b.run_cycle())
    await asyncio.gather(drain(a), drain(b))
    assert len(receiver.requests) == 4
    assert len(receiver.accepted) == 4
    assert len(smtp[0].messages) == 4
    ids = sorted(i["article_id"] for body in receiver.bodies() for i in body["items"])
    assert ids == [f"art-{50 + i}" for i in range(4)]


async def test_throttle_folds_the_rest_into_the_next_message(
    make_engine: EngineFactory, es: Elasticsearch, settings: Settings, receiver: Receiver
) -> None:
    clock = Clock()
    rule = nato_rule(receiver, channels={"webhooks": [{"url": receiver.url}]}, throttle={"max_per_hour": 2})
    engine = make_engine(rule, clock=clock)
    await engine.run_cycle()
    index_articles(es, settings, *(article(60 + i, f"NATO story {i}") for i in range(5)))
    await engine.run_cycle()
    await drain(engine)
    sizes = sorted((len(b["items"]), b["folded"]) for b in receiver.bodies())
    assert sizes == [(1, 0), (4, 3)]
    index_articles(es, settings, article(70, "NATO later"), article(71, "NATO later still"))
    await engine.run_cycle()
    await drain(engine)
    assert len(receiver.accepted) == 2  # budget spent: held
    clock.offset = timedelta(minutes=61)
    await engine.run_cycle()
    await drain(engine)
    assert len(receiver.accepted) == 3
    last = max(receiver.accepted.values(), key=lambda r: r.at)
    body: dict[str, Any] = json.loads(last.body)
    assert sorted(i["article_id"] for i in body["items"]) == ["art-70", "art-71"]
    assert body["folded"] == 1


async def test_feed_health_failing_and_recovered_once_each(
    make_engine: EngineFactory, es: Elasticsearch, settings: Settings, receiver: Receiver
) -> None:
    feeds = settings.index_name("feeds")
    now = datetime.now(UTC)

    def put(url: str, **fields: Any) -> None:
        es.index(index=feeds, id=url, document={"url": url, **fields}, refresh=True)

    put(
        "https://a.example/feed",
        error_streak=7,
        first_error_at=(now - timedelta(hours=8)).isoformat(),
        last_error="HTTP 503",
        last_success_at=(now - timedelta(hours=9)).isoformat(),
    )
    put(
        "https://b.example/feed",
        error_streak=2,
        first_error_at=(now - timedelta(hours=1)).isoformat(),
        last_error="timeout",
    )
    put("https://c.example/feed", error_streak=0, last_success_at=now.isoformat())
    fh = FeedHealthRule.model_validate(
        {"failing_for": "6h", "channels": {"webhooks": [{"url": receiver.url}]}}
    )
    engine = make_engine(feed_health=fh)
    await engine.run_cycle()
    await engine.run_cycle()
    await drain(engine)
    [down] = receiver.bodies()
    assert down["kind"] == "feed-health"
    assert [(i["feed_url"], i["status"]) for i in down["items"]] == [("https://a.example/feed", "failing")]

    put("https://a.example/feed", error_streak=0, first_error_at=None, last_success_at=now.isoformat())
    await engine.run_cycle()
    await engine.run_cycle()
    await drain(engine)
    restarted = make_engine(feed_health=fh)
    await restarted.run_cycle()
    await drain(restarted)
    assert len(receiver.accepted) == 2
    up = max(receiver.accepted.values(), key=lambda r: r.at)
    assert [(i["feed_url"], i["status"]) for i in json.loads(up.body)["items"]] == [
        ("https://a.example/feed", "recovered")
    ]
