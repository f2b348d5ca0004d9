"""``full_text: true`` feeds in the service: real feed server (feed + article pages), real Elasticsearch."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import pytest
import structlog
from elasticsearch import Elasticsearch

from ingest.feeds import FeedConfig
from newswatch.service import PipelineProcessor, Service
from tests.conftest import FIXTURES, ROOT
from tests.feedserver import FeedServer, http_date
from tests.newswatch.conftest import Clock, ServiceFactory

pytestmark = pytest.mark.es
PAGES = FIXTURES / "fulltext"


def item_feed(server: FeedServer, items: Sequence[dict[str, str]], *, language: str | None = None) -> bytes:
    """RSS with the given items (``title``, ``path`` of the page, ``description``, optional ``date``);
    no channel ``<language>`` unless given."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        "<title>Full text feed</title><link>https://journal.example/</link><description>t</description>",
    ]
    if language:
        parts.append(f"<language>{language}</language>")
    for it in items:
        parts.append(
            f"<item><title>{escape(it['title'])}</title><link>{escape(server.url(it['path']))}</link>"
            f"<guid isPermaLink='false'>{escape(it['path'])}</guid>"
            + (f"<pubDate>{it['date']}</pubDate>" if it.get("date") else "")
            + f"<description>{escape(it['description'])}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def serve_pages(server: FeedServer) -> None:
    server.route("/p/fr.html", body=(PAGES / "article-fr.html").read_bytes(), content_type="text/html")
    server.route(
        "/p/en.html", body=(PAGES / "article-en.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    server.route(
        "/p/de.html",
        body=(PAGES / "article-de-nodate.html").read_bytes(),
        content_type="text/html; charset=iso-8859-1",
    )
    server.route("/p/login.html", body=(PAGES / "no-main-text.html").read_bytes(), content_type="text/html")
    # /p/missing.html is not routed: 404


def docs_by_url(es: Elasticsearch, service: Service) -> dict[str, dict[str, Any]]:
    alias = service.settings.index_name("articles")
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=100).body["hits"]["hits"]
    return {h["_source"]["url"]: h["_source"] for h in hits}


@contextmanager
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event, whatever level another test configured (restored after)."""
    old = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**old)


def feed(**kw: Any) -> FeedConfig:
    return FeedConfig.model_validate(kw)


def page_requests(server: FeedServer) -> list[str]:
    return sorted(r.path for r in server.requests if r.path.startswith("/p/"))


ITEMS = [
    {"title": "Défense aérienne", "path": "/p/fr.html", "description": "Un court résumé."},
    {"title": "Harbour cranes", "path": "/p/en.html", "description": "Cranes are back.", "date": ""},
    {"title": "Broken link", "path": "/p/missing.html", "description": "Teaser of a page that is gone."},
    {"title": "Paywall", "path": "/p/login.html", "description": "Teaser behind a login."},
]


async def test_full_text_feed_indexes_page_text_and_falls_back(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch
) -> None:
    serve_pages(feed_server)
    items = [dict(it) for it in ITEMS]
    items[1]["date"] = http_date(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    feed_server.route("/ft.xml", body=item_feed(feed_server, items))
    clock = Clock()
    service = make_service([feed(url=feed_server.url("/ft.xml"), full_text=True)], clock=clock)
    await service.start(schedule=False)
    with captured_logs() as logs:
        [update] = (await service.poll_once()).updates
    assert (update.status, update.entries, update.new) == ("ok", 4, 4)
    assert (update.full_text_ok, update.full_text_fallback) == (2, 2)
    [line] = [e for e in logs if e["event"] == "feed.update"]
    assert line["full_text"] == "ok=2 fallback=2"
    assert "HTTP 404" in line["full_text_error"] and "/p/missing.html" in line["full_text_error"]
    reg = service.registry
    assert reg.get_sample_value("newswatch_full_text_total", {"result": "ok"}) == 2.0
    assert reg.get_sample_value("newswatch_full_text_total", {"result": "fallback"}) == 2.0
    assert page_requests(feed_server) == ["/p/en.html", "/p/fr.html", "/p/login.html", "/p/missing.html"]

    docs = docs_by_url(es, service)
    fr = docs[feed_server.url("/p/fr.html")]
    assert "fonds fiduciaire" in fr["content"] and "Patriot" in fr["content"]
    assert "Les plus lus" not in fr["content"] and "Tous droits" not in fr["content"]
    assert fr["summary"] == "Un court résumé."
    assert fr["language"] == "fr"  # the feed has none: the page's <html lang="fr-FR">
    assert fr["published_at"].startswith("2024-11-20") and fr["date_flags"] == ["page"]
    en = docs[feed_server.url("/p/en.html")]
    assert "north quay" in en["content"] and en["language"] == "en"
    assert en["published_at"].startswith("2025-01-02T03:04:05") and en["date_flags"] == []  # the feed's date
    gone = docs[feed_server.url("/p/missing.html")]
    assert (gone["summary"], gone["content"], gone["language"]) == (
        "Teaser of a page that is gone.",
        "",
        "und",
    )
    assert gone["published_at"] is None and gone["date_flags"] == ["missing"]
    login = docs[feed_server.url("/p/login.html")]
    assert (login["summary"], login["content"]) == ("Teaser behind a login.", "")

    # Second poll: one entry edited, one new, two unchanged -> only the edited and the new pages are fetched.
    feed_server.clear_log()
    items[1]["description"] = "Cranes are back (updated)."
    items.append({"title": "Fahrradbrücke", "path": "/p/de.html", "description": "Brücke eröffnet."})
    feed_server.route("/ft.xml", body=item_feed(feed_server, items))
    clock.offset = timedelta(hours=25)
    service.store.refresh()
    [second] = (await service.poll_once()).updates
    assert (second.entries, second.new, second.updated) == (5, 1, 1)
    assert (second.full_text_ok, second.full_text_fallback) == (2, 0)
    assert page_requests(feed_server) == ["/p/de.html", "/p/en.html"]
    docs = docs_by_url(es, service)
    de = docs[feed_server.url("/p/de.html")]
    assert "Fahrradbrücke" in de["content"] and "beheizt" in de["content"]  # iso-8859-1 page decoded
    assert de["language"] == "de" and de["date_flags"] == ["missing"]  # the page has no date either
    assert docs[feed_server.url("/p/en.html")]["summary"] == "Cranes are back (updated)."

    # Third poll: nothing changed in the feed -> no page at all.
    feed_server.clear_log()
    feed_server.route("/ft.xml", body=item_feed(feed_server, items) + b"\n")  # new bytes, same entries
    clock.offset = timedelta(hours=50)
    service.store.refresh()
    [third] = (await service.poll_once()).updates
    assert (third.status, third.entries, third.new, third.updated) == ("ok", 5, 0, 0)
    assert (third.full_text_ok, third.full_text_fallback) == (0, 0)
    assert page_requests(feed_server) == [] and len(feed_server.requests_for("/ft.xml")) == 1


async def test_plain_feed_fetches_no_pages_and_feed_language_wins(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch
) -> None:
    serve_pages(feed_server)
    feed_server.route("/plain.xml", body=item_feed(feed_server, ITEMS[:2]))
    feed_server.route(
        "/ft-en.xml", body=item_feed(feed_server, [ITEMS[0] | {"path": "/p/fr.html"}], language="en")
    )
    service = make_service(
        [
            feed(url=feed_server.url("/plain.xml")),
            feed(url=feed_server.url("/ft-en.xml"), full_text=True),
        ]
    )
    await service.start(schedule=False)
    report = await service.poll_once()
    by_url = {u.url: u for u in report.updates}
    plain = by_url[feed_server.url("/plain.xml")]
    assert (plain.new, plain.full_text_ok, plain.full_text_fallback) == (2, 0, 0)
    assert page_requests(feed_server) == ["/p/fr.html"]  # only the full_text feed's page
    ft = by_url[feed_server.url("/ft-en.xml")]
    assert (ft.full_text_ok, ft.full_text_fallback) == (1, 0)
    doc = docs_by_url(es, service)[feed_server.url("/p/fr.html")]
    # The feed says <language>en</language>: the page's fr is not taken (not enriched here: stays und).
    assert "fonds fiduciaire" in doc["content"] and doc["language"] == "und"
    assert doc["published_at"].startswith("2024-11-20")  # the date still comes from the page


async def test_enrichment_runs_on_the_page_text(
    feed_server: FeedServer, make_service: ServiceFactory, es: Elasticsearch, touchstone_text: str
) -> None:
    """Real enricher: the feed carries only the title and a neutral teaser; the topics come from the page."""
    title, _, body = touchstone_text.strip().partition("\n")
    paragraphs = "".join(f"<p>{escape(p.strip())}</p>" for p in body.split("\n") if p.strip())
    page = (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><nav><a href='/'>Accueil</a></nav><main><article><h1>{escape(title)}</h1>{paragraphs}"
        "</article></main><footer>Mentions légales</footer></body></html>"
    )
    feed_server.route("/p/touchstone.html", body=page, content_type="text/html; charset=utf-8")
    teaser = [{"title": title, "path": "/p/touchstone.html", "description": "Lire la suite sur notre site."}]
    feed_server.route("/ts.xml", body=item_feed(feed_server, teaser))
    service = make_service(
        [feed(url=feed_server.url("/ts.xml"), full_text=True)], settings={"config_dir": ROOT / "config"}
    )
    service.processor = PipelineProcessor(service.settings)  # the real enricher
    await service.start(schedule=False)
    [update] = (await service.poll_once()).updates
    assert (update.new, update.full_text_ok) == (1, 1)
    doc = docs_by_url(es, service)[feed_server.url("/p/touchstone.html")]
    assert doc["language"] == "fr"
    assert {t["id"] for t in doc["topics"]} >= {"nato", "air-defence", "sanctions", "military-aid"}
