"""Real parts for alert tests: an aiosmtpd SMTP server and a webhook receiver on 127.0.0.1, the real ES."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from elasticsearch import Elasticsearch

from alerts.engine import AlertEngine
from alerts.rules import AlertConfig, AlertRule, FeedHealthRule
from index.writer import BulkWriter
from ingest.model import Article, Source, TopicMatch
from newswatch.settings import Settings, load_settings
from tests.alerts.receiver import Receiver

SECRET = "test-webhook-secret"


@dataclass
class SmtpSink:
    messages: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = _free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield sink, port
    finally:
        ctl.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def settings(es_url: str, unique_prefix: str, smtp: tuple[SmtpSink, int], tmp_path: Path) -> Settings:
    return load_settings(
        elasticsearch_url=es_url,
        index_prefix=unique_prefix,
        alert_safety_margin_s=0,
        alert_interval_s=1,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        webhook_secret=SECRET,
        delivery_backoff_base_s=0.05,
        delivery_backoff_cap_s=0.2,
        delivery_max_attempts=4,
        config_dir=tmp_path,
    )


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    yield client
    # The node refuses wildcard deletes (destructive_requires_name): delete this test's indices by name.
    names = client.indices.get(index=f"{settings.index_prefix}-*", expand_wildcards="all").body
    for name in names:
        client.indices.delete(index=name, ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=settings.index_name("articles"))
    client.close()


def nato_rule(receiver: Receiver, **kw: Any) -> AlertRule:
    data: dict[str, Any] = {
        "id": "nato",
        "name": "NATO",
        "query": "NATO OR OTAN OR НАТО",
        "channels": {"email": ["analyst@example.org"], "webhooks": [{"url": receiver.url}]},
    }
    data.update(kw)
    return AlertRule.model_validate(data)


EngineFactory = Callable[..., AlertEngine]


@pytest.fixture
async def make_engine(es: Elasticsearch, settings: Settings) -> AsyncIterator[EngineFactory]:
    engines: list[AlertEngine] = []

    def factory(*rules: AlertRule, feed_health: FeedHealthRule | None = None, **kw: Any) -> AlertEngine:
        eng = AlertEngine(es, settings, config=AlertConfig(rules=tuple(rules), feed_health=feed_health), **kw)
        eng.setup()
        engines.append(eng)
        return eng

    yield factory
    for eng in engines:
        await eng.aclose()


def article(n: int | str, title: str, content: str = "", story_id: str = "", **kw: Any) -> Article:
    now = datetime.now(UTC)
    url = f"https://news.example.org/{n}"
    defaults: dict[str, Any] = {
        "id": f"art-{n}",
        "url": url,
        "canonical_url": url,
        "feed_url": "https://news.example.org/feed.xml",
        "source": Source("Example News", "news.example.org"),
        "title": title,
        "summary": "",
        "content": content,
        "published_at": now,
        "fetched_at": now,
        "language": "en",
        "story_id": story_id,
        "topics": (TopicMatch("nato", 2.0, ("nato",)),) if "NATO" in title + content else (),
    }
    defaults.update(kw)
    return Article(**defaults)


def index_articles(es: Elasticsearch, settings: Settings, *articles: Article) -> None:
    report = BulkWriter(es, settings.index_name("articles")).write(articles)
    assert report.ok, report.errors
    es.indices.refresh(index=settings.index_name("articles"))
