"""Full text: the pure merge (table tests), and page fetching against the real feed server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ingest.fetch import FetchLimits, HostLimiter, PageOutcome, build_client, fetch_page
from ingest.fullpage import PAGE_DATE_FLAG, fetch_full_texts, merge_full_text, page_language, page_text
from ingest.fulltext import FullText
from ingest.model import Article, Source
from newswatch.netguard import GuardedTransport, guarded
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer

PAGES = FIXTURES / "fulltext"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FEED_DATE = datetime(2025, 2, 28, 9, 0, tzinfo=UTC)
PAGE_DATE = datetime(2024, 11, 20, tzinfo=UTC)
LIMITS = FetchLimits(
    per_host_delay_s=0.0, per_host_concurrency=4, connect_timeout_s=2, read_timeout_s=2, request_timeout_s=5
)


def article(**kw: object) -> Article:
    values: dict[str, object] = {
        "id": "a1",
        "url": "https://journal.example/a1",
        "canonical_url": "https://journal.example/a1",
        "feed_url": "https://journal.example/rss",
        "source": Source("Journal", "journal.example"),
        "title": "Titre",
        "summary": "Un court résumé.",
        "content": "",
        "published_at": FEED_DATE,
        "fetched_at": NOW,
        "content_hash": "feedhash",
    }
    values.update(kw)
    return Article(**values)  # type: ignore[arg-type]


def full(
    text: str = "Le texte complet de l'article.", language: str | None = "fr-FR", date: object = PAGE_DATE
) -> FullText:
    return FullText(text=text, language=language, published_at=date)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("fr-FR", "fr"),
        ("en_GB", "en"),
        ("DE", "de"),
        ("pt-br", "pt"),
        ("fil", "fil"),
        ("und", None),
        ("", None),
        (None, None),
        ("x", None),
        ("english", None),
        ("zh-Hant-TW", "zh"),
        ("fr1", None),
    ],
)
def test_page_language(declared: str | None, expected: str | None) -> None:
    assert page_language(declared) == expected


@pytest.mark.parametrize(
    ("before", "page", "feed_language", "expected"),
    [
        # the page text replaces content; the feed's date and the hash stay
        (
            article(),
            full(),
            None,
            {
                "content": "Le texte complet de l'article.",
                "language": "fr",
                "published_at": FEED_DATE,
                "date_flags": (),
            },
        ),
        # no date in the feed: the page's, flagged
        (
            article(published_at=None, date_flags=("missing",)),
            full(),
            None,
            {"published_at": PAGE_DATE, "date_flags": (PAGE_DATE_FLAG,)},
        ),
        (
            article(published_at=None, date_flags=("unparseable",)),
            full(),
            None,
            {"published_at": PAGE_DATE, "date_flags": (PAGE_DATE_FLAG,)},
        ),
        # a page date in the future is not believed
        (
            article(published_at=None, date_flags=("missing",)),
            full(date=NOW + timedelta(days=2)),
            None,
            {"published_at": None, "date_flags": ("missing",)},
        ),
        # no date anywhere
        (
            article(published_at=None, date_flags=("missing",)),
            full(date=None),
            None,
            {"published_at": None, "date_flags": ("missing",)},
        ),
        # the feed has a language: the page's is not taken
        (article(), full(language="en"), "fr", {"language": "und"}),
        (article(), full(language="en"), "pt-BR", {"language": "und"}),
        # the article already has one (enriched before): kept
        (article(language="de"), full(language="fr"), None, {"language": "de"}),
        # nothing usable declared
        (article(), full(language=None), None, {"language": "und"}),
        (article(), full(language="und"), None, {"language": "und"}),
        # page text equal to the summary: content stays empty (as ingest.normalise does)
        (article(), full(text="  Un court résumé. "), None, {"content": ""}),
        # replaces feed content too
        (article(content="Feed content"), full(text="Page text"), None, {"content": "Page text"}),
    ],
)
def test_merge_full_text(
    before: Article, page: FullText, feed_language: str | None, expected: dict[str, object]
) -> None:
    after = merge_full_text(before, page, feed_language=feed_language)
    for name, value in expected.items():
        assert getattr(after, name) == value, name
    # never touched: identity, feed text and change-detection hash
    for name in ("id", "url", "title", "summary", "content_hash", "fetched_at", "source"):
        assert getattr(after, name) == getattr(before, name), name


def test_page_text_reasons() -> None:
    failed = PageOutcome(
        "https://x.example/p", "https://x.example/p", "error", 404, None, None, "x: HTTP 404", 0, 0.0
    )
    assert page_text(failed) == (None, "x: HTTP 404")
    empty = PageOutcome(
        "https://x.example/p",
        "https://x.example/q",
        "ok",
        200,
        (PAGES / "no-main-text.html").read_bytes(),
        "text/html",
        None,
        10,
        0.0,
    )
    assert page_text(empty) == (None, "https://x.example/q: no main text found")


# --------------------------------------------------------------------------------------------- fetch_page


async def test_fetch_page_ok_redirect_charset(feed_server: FeedServer) -> None:
    de = (PAGES / "article-de-nodate.html").read_bytes()
    feed_server.route("/de.html", body=de, content_type="text/html; charset=ISO-8859-1")
    feed_server.redirect("/short", "/de.html", status=302)
    async with build_client(LIMITS) as client:
        page = await fetch_page(
            client, feed_server.url("/short"), LIMITS, HostLimiter.from_limits(LIMITS), now=NOW
        )
    assert (page.status, page.http_status, page.final_url) == ("ok", 200, feed_server.url("/de.html"))
    assert page.body == de and page.charset == "ISO-8859-1" and page.bytes_read == len(de)
    [req] = feed_server.requests_for("/de.html")
    assert req.headers["accept"].startswith("text/html")
    assert "if-none-match" not in req.headers
    extracted, reason = page_text(page)
    assert reason is None and extracted is not None
    assert "Fahrradbrücke" in extracted.text and "Impressum" not in extracted.text
    assert extracted.language == "de" and extracted.published_at is None


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        ({"status": 404, "body": "nope", "content_type": "text/html"}, "HTTP 404"),
        ({"status": 500, "body": "boom", "content_type": "text/html"}, "HTTP 500"),
        ({"body": b"%PDF-1.4", "content_type": "application/pdf"}, "not an HTML page (application/pdf)"),
        ({"body_size": 5000, "content_type": "text/html"}, "cap"),
        ({"body": "<html></html>", "content_type": "text/html", "stall_after": 5, "stall_s": 5}, "timed out"),
    ],
)
async def test_fetch_page_errors_never_raise(
    feed_server: FeedServer, route: dict[str, Any], fragment: str
) -> None:
    feed_server.route("/p.html", **route)
    limits = FetchLimits(
        per_host_delay_s=0.0,
        max_body_bytes=2048,
        connect_timeout_s=1,
        read_timeout_s=0.5,
        request_timeout_s=3,
    )
    async with build_client(limits) as client:
        page = await fetch_page(
            client, feed_server.url("/p.html"), limits, HostLimiter.from_limits(limits), now=NOW
        )
    assert page.status == "error" and page.body is None
    assert page.error is not None and fragment in page.error and feed_server.url("/p.html") in page.error


async def test_fetch_page_redirect_loop_and_bad_scheme(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", "/a")
    limiter = HostLimiter.from_limits(LIMITS)
    async with build_client(LIMITS) as client:
        loop = await fetch_page(client, feed_server.url("/a"), LIMITS, limiter, now=NOW)
        ftp = await fetch_page(client, "ftp://x.example/a", LIMITS, limiter, now=NOW)
    assert loop.status == "error" and "redirect loop" in (loop.error or "")
    assert ftp.status == "error" and "not an http(s) URL" in (ftp.error or "")


async def test_fetch_page_obeys_the_private_address_guard(feed_server: FeedServer) -> None:
    feed_server.route("/p.html", body=(PAGES / "article-en.html").read_bytes(), content_type="text/html")
    transport = GuardedTransport(httpx.AsyncHTTPTransport(), allow_private=False)
    async with build_client(LIMITS, transport=transport) as client:
        with guarded(True):
            page = await fetch_page(
                client, feed_server.url("/p.html"), LIMITS, HostLimiter.from_limits(LIMITS), now=NOW
            )
        allowed = await fetch_page(
            client, feed_server.url("/p.html"), LIMITS, HostLimiter.from_limits(LIMITS), now=NOW
        )
    assert page.status == "error" and "loopback" in (page.error or "")
    assert allowed.status == "ok"
    assert len(feed_server.requests_for("/p.html")) == 1


async def test_fetch_full_texts_limits_and_fallbacks(feed_server: FeedServer) -> None:
    feed_server.route("/fr.html", body=(PAGES / "article-fr.html").read_bytes(), content_type="text/html")
    feed_server.route("/en.html", body=(PAGES / "article-en.html").read_bytes(), content_type="text/html")
    feed_server.route(
        "/slow.html", body=(PAGES / "article-en.html").read_bytes(), content_type="text/html", delay=3
    )
    arts = [
        article(id="fr", url=feed_server.url("/fr.html")),
        article(id="none", url=""),
        article(id="404", url=feed_server.url("/missing.html")),
        article(id="en", url=feed_server.url("/en.html")),
        article(id="over", url=feed_server.url("/en.html")),
    ]
    limiter = HostLimiter.from_limits(LIMITS)
    async with build_client(LIMITS) as client:
        results = await fetch_full_texts(client, arts, LIMITS, limiter, now=NOW, concurrency=2, max_pages=4)
        slow = await fetch_full_texts(
            client,
            [article(id="slow", url=feed_server.url("/slow.html"))],
            LIMITS,
            limiter,
            now=NOW,
            budget_s=0.5,
        )
    assert [r.article_id for r in results] == ["fr", "none", "404", "en", "over"]
    assert [r.full is not None for r in results] == [True, False, False, True, False]
    assert [r.fetched for r in results] == [True, False, True, True, False]
    assert "no http(s) link" in (results[1].reason or "")
    assert "HTTP 404" in (results[2].reason or "")
    assert "4-page limit" in (results[4].reason or "")
    assert results[0].full is not None and "fonds fiduciaire" in results[0].full.text
    assert len(feed_server.requests_for("/en.html")) == 1
    [s] = slow
    assert s.full is None and "time budget" in (s.reason or "")
