"""The touchstone: a French article about NATO, air defence, sanctions and military aid, from a feed entry
to a tagged, searchable, alerted Article, on the real parts (Elasticsearch, SMTP, webhook receiver).

The article text is read in place from ../shared/examples (never copied into the project); the feed
around it is ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest
from elasticsearch import Elasticsearch

from alerts.engine import AlertEngine
from alerts.rules import AlertConfig, AlertRule
from index.query import SearchRequest
from index.search import search
from index.setup import ensure_indices
from index.writer import BulkWriter
from ingest.enrich import build_enricher
from ingest.model import Article
from ingest.pipeline import process_feed
from newswatch.settings import Settings, load_settings
from tests.alerts.conftest import SmtpSink, smtp  # noqa: F401  (fixture)
from tests.alerts.receiver import Receiver
from tests.conftest import ROOT

CORE = {"nato", "air-defence", "sanctions", "military-aid"}
LINK = (
    "https://www.Example-Info.fr/monde/otan-ukraine-visite.html?utm_source=rss&utm_medium=feed&fbclid=XYZ#top"
)


def touchstone_feed(text: str) -> bytes:
    title, _, body = text.partition("\n")
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in body.strip().split("\n") if p.strip())
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Example Info — Monde</title><link>https://www.example-info.fr/monde/</link>
<description>Actualité internationale</description>
<item>
  <title>{escape(title.strip())}</title>
  <link>{escape(LINK)}</link>
  <guid isPermaLink="false">example-info-2024-11-20-otan</guid>
  <pubDate>Wed, 20 Nov 2024 17:45:00 +0200</pubDate>
  <description>{escape(body.strip().split(chr(10))[0])}</description>
  <content:encoded><![CDATA[{paragraphs}<script>track()</script>]]></content:encoded>
</item></channel></rss>""".encode()


@pytest.fixture(scope="module")
def enricher():  # type: ignore[no-untyped-def]
    return build_enricher(ROOT / "config", ("en", "fr", "de", "pl", "ru", "uk"), reload_topics=False)


@pytest.fixture
def touchstone(touchstone_text: str, enricher) -> Article:  # type: ignore[no-untyped-def]
    batch = process_feed(
        touchstone_feed(touchstone_text),
        feed_url="https://www.example-info.fr/monde/rss.xml",
        fetched_at=datetime(2024, 11, 20, 16, 0, tzinfo=UTC),
        enricher=enricher,
    )
    assert batch.errors == ()
    assert len(batch.articles) == 1
    return batch.articles[0]


def test_touchstone_is_french_and_tagged(touchstone: Article) -> None:
    assert touchstone.language == "fr"
    assert set(touchstone.topic_ids) >= CORE, touchstone.topic_ids
    assert touchstone.canonical_url == "https://www.example-info.fr/monde/otan-ukraine-visite.html"
    assert touchstone.published_at == datetime(2024, 11, 20, 15, 45, tzinfo=UTC)
    assert touchstone.published_at.tzinfo == UTC
    assert "track()" not in touchstone.content and "<p>" not in touchstone.content
    assert "Matthew Whitaker" in {e.name for e in touchstone.entities}


@pytest.fixture
def settings(es_url: str, unique_prefix: str, smtp: tuple[SmtpSink, int], tmp_path) -> Settings:  # type: ignore[no-untyped-def]  # noqa: F811
    return load_settings(
        elasticsearch_url=es_url,
        index_prefix=unique_prefix,
        alert_safety_margin_s=0,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        webhook_secret="touchstone-secret",
        config_dir=tmp_path,
    )


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    yield client
    for name in client.indices.get(index=f"{settings.index_prefix}-*", expand_wildcards="all").body:
        client.indices.delete(index=name, ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=settings.index_name("articles"))
    client.close()


@pytest.mark.es
async def test_touchstone_is_found_and_alerts_once(
    touchstone: Article,
    es: Elasticsearch,
    settings: Settings,
    smtp: tuple[SmtpSink, int],  # noqa: F811
) -> None:
    ensure_indices(es, settings)
    alias = settings.index_name("articles")

    receiver = Receiver().start()
    rule = AlertRule.model_validate(
        {
            "id": "nato",
            "name": "NATO",
            "query": "NATO OR OTAN OR НАТО",
            "channels": {"email": ["desk@example.org"], "webhooks": [{"url": receiver.url}]},
        }
    )
    engine = AlertEngine(es, settings, config=AlertConfig(rules=(rule,)))
    engine.setup()
    try:

        async def cycles(n: int) -> None:
            for _ in range(n):
                await engine.run_cycle()
                for _ in range(20):
                    await engine.deliver()
                    counts = engine.store.outbox_counts()
                    if not counts.get("pending") and not counts.get("sending"):
                        break
                    await asyncio.sleep(0.1)

        await cycles(1)  # watermark starts now: the article arrives after the rule exists
        report = BulkWriter(es, alias).write([touchstone])
        assert report.ok and report.created == 1, report
        es.indices.refresh(index=alias)

        for query in ("OTAN", "NATO", "defense antiaerienne", "DÉFENSE ANTI-AÉRIENNE"):
            result = search(es, alias, SearchRequest(query=query))
            assert [h.id for h in result.hits] == [touchstone.id], query

        await cycles(3)
        # The same story indexed again (a re-fetch) must not alert again either.
        assert BulkWriter(es, alias).write([touchstone]).noop == 1
        await cycles(2)
        assert len(receiver.accepted) == 1
        assert len(smtp[0].messages) == 1
        [body] = receiver.bodies()
        assert [i["article_id"] for i in body["items"]] == [touchstone.id]
    finally:
        await engine.aclose()
        receiver.stop()
