from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.normalise import article_id, content_hash, entry_date, normalise_entry, struct_to_datetime
from ingest.parse import FeedMeta
from newswatch.errors import ParseError

FETCHED = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
META = FeedMeta(
    title="Feed", link="https://site.test/", language="en", format="rss20", ttl_s=None, update_period_s=None
)
FEED = "https://site.test/feed.xml"


def st(*fields: int) -> time.struct_time:
    return time.struct_time((*fields, 0, 0, 0))


@pytest.mark.parametrize(
    ("entry", "published", "flags"),
    [
        ({}, None, ("missing",)),
        ({"published": "", "published_parsed": None}, None, ("missing",)),
        ({"published": "last week", "published_parsed": None}, None, ("unparseable",)),
        (
            {"published": "x", "published_parsed": st(2024, 5, 1, 10, 0, 0)},
            datetime(2024, 5, 1, 10, tzinfo=UTC),
            (),
        ),
        ({"updated": "x", "updated_parsed": st(2024, 5, 2, 0, 0, 0)}, datetime(2024, 5, 2, tzinfo=UTC), ()),
        (
            {"published": "bad", "updated": "x", "updated_parsed": st(2024, 5, 2, 0, 0, 0)},
            datetime(2024, 5, 2, tzinfo=UTC),
            (),
        ),
        ({"published_parsed": st(2024, 5, 15, 12, 9, 0)}, datetime(2024, 5, 15, 12, 9, tzinfo=UTC), ()),
        ({"published_parsed": st(2024, 5, 15, 12, 11, 0)}, FETCHED, ("future",)),
        ({"published_parsed": st(2100, 1, 1, 0, 0, 0)}, FETCHED, ("future",)),
        (
            {"published_parsed": st(2016, 12, 31, 23, 59, 60)},
            datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC),
            (),
        ),
        ({"published": "x", "published_parsed": (2024, 13, 45, 0, 0, 0, 0, 0, 0)}, None, ("unparseable",)),
    ],
)
def test_entry_date(entry: dict[str, Any], published: datetime | None, flags: tuple[str, ...]) -> None:
    assert entry_date(entry, FETCHED) == (published, flags)


def test_struct_to_datetime_is_utc_aware() -> None:
    value = struct_to_datetime(st(2024, 1, 1, 0, 0, 0))
    assert value is not None and value.tzinfo is UTC
    assert struct_to_datetime("2024") is None
    assert struct_to_datetime(None) is None


def test_article_id_is_stable_and_falls_back_to_guid() -> None:
    a = article_id("https://site.test/a", "g", FEED)
    assert a == article_id("https://site.test/a", "other", "https://elsewhere.test/")
    assert len(a) == 40 and int(a, 16) >= 0
    assert article_id("", "g", FEED) != article_id("", "g", "https://elsewhere.test/")
    assert article_id("", "g", FEED) == article_id("", "g", FEED)


def test_content_hash_ignores_case_accents_and_space() -> None:
    assert content_hash("Défense", "a  b", "") == content_hash("defense", "A b", "")
    assert content_hash("t", "s", "c") != content_hash("t", "s", "c2")
    assert content_hash("a", "b", "") != content_hash("a b", "", "")


def entry(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Title",
        "title_detail": {"type": "text/plain"},
        "link": "https://site.test/a?utm_source=x&id=1#top",
        "id": "guid-1",
        "summary": "<p>Summary</p>",
        "summary_detail": {"type": "text/html"},
        "published": "x",
        "published_parsed": st(2024, 5, 1, 0, 0, 0),
    }
    base.update(kw)
    return base


def test_normalise_entry_fields() -> None:
    art = normalise_entry(
        entry(
            content=[{"type": "text/html", "value": "<p>Full <b>story</b></p><img src='/i.jpg'>"}],
            authors=[{"name": "A"}, {"name": "a"}, {"email": "b@x"}],
            tags=[{"term": "x"}, {"term": "X"}, {"label": "y"}],
        ),
        META,
        feed_url=FEED,
        fetched_at=FETCHED,
    )
    assert art.url == "https://site.test/a?utm_source=x&id=1#top"
    assert art.canonical_url == "https://site.test/a?id=1"
    assert art.id == article_id(art.canonical_url, "guid-1", FEED)
    assert (art.title, art.summary, art.content) == ("Title", "Summary", "Full story")
    assert art.authors == ("A", "b@x")
    assert art.categories == ("x", "y")
    assert art.image_url == "https://site.test/i.jpg"
    assert art.source.name == "Feed" and art.source.domain == "site.test"
    assert art.language == "und" and art.topics == ()
    assert art.published_at == datetime(2024, 5, 1, tzinfo=UTC) and art.date_flags == ()
    assert art.fetched_at == FETCHED


@pytest.mark.parametrize(
    ("extra", "image"),
    [
        # media first, even with an <img> in the HTML
        ({"media_thumbnail": [{"url": "/t.jpg"}]}, "https://site.test/t.jpg"),
        # unusable media: the HTML's first <img> (content before summary)
        ({"media_content": [{"url": "ftp://x/m.jpg", "medium": "image"}]}, "https://site.test/c.jpg"),
        # the first <img> found is the last candidate: unusable means none, not the summary's
        ({"content": [{"type": "text/html", "value": "<img src='ftp://x/c.jpg'>"}]}, None),
        ({"content": [{"type": "text/html", "value": "<p>no image</p>"}]}, "https://site.test/s.jpg"),
        ({"summary": "<p>none</p>", "content": [{"type": "text/html", "value": "<p>none</p>"}]}, None),
    ],
)
def test_image_candidates_in_order(extra: dict[str, Any], image: str | None) -> None:
    fields: dict[str, Any] = {
        "summary": "<p>S</p><img src='/s.jpg'>",
        "content": [{"type": "text/html", "value": "<p>C</p><IMG SRC='/c.jpg'>"}],
    }
    fields.update(extra)
    art = normalise_entry(entry(**fields), META, feed_url=FEED, fetched_at=FETCHED)
    assert art.image_url == image


def test_content_equal_to_summary_is_dropped() -> None:
    art = normalise_entry(
        entry(content=[{"type": "text/html", "value": "<div>Summary</div>"}]),
        META,
        feed_url=FEED,
        fetched_at=FETCHED,
    )
    assert art.content == ""


def test_no_link_uses_guid_and_relative_link_resolves_against_feed() -> None:
    art = normalise_entry(entry(link=""), META, feed_url=FEED, fetched_at=FETCHED)
    assert art.url == "" and art.canonical_url == ""
    assert art.id == article_id("", "guid-1", FEED)
    rel = normalise_entry(entry(link="/news/2"), META, feed_url=FEED, fetched_at=FETCHED)
    assert rel.url == "https://site.test/news/2"


def test_javascript_link_is_not_a_link() -> None:
    art = normalise_entry(entry(link="javascript:alert(1)"), META, feed_url=FEED, fetched_at=FETCHED)
    assert art.url == ""


def test_entry_with_nothing_to_show_still_becomes_a_stable_article() -> None:
    a = normalise_entry({"author": "Only Author"}, META, feed_url=FEED, fetched_at=FETCHED)
    b = normalise_entry({"author": "Only Author"}, META, feed_url=FEED, fetched_at=FETCHED)
    c = normalise_entry({"author": "Someone Else"}, META, feed_url=FEED, fetched_at=FETCHED)
    assert a.id == b.id != c.id
    assert a.authors == ("Only Author",) and a.date_flags == ("missing",)


def test_non_mapping_entry_is_an_error_naming_the_feed() -> None:
    with pytest.raises(ParseError) as info:
        normalise_entry("not an entry", META, feed_url=FEED, fetched_at=FETCHED)  # type: ignore[arg-type]
    assert info.value.source == FEED


def test_naive_fetched_at_is_taken_as_utc() -> None:
    art = normalise_entry(entry(), META, feed_url=FEED, fetched_at=datetime(2024, 5, 15, 12, 0))
    assert art.fetched_at == FETCHED
    future = normalise_entry(
        entry(published_parsed=st(2024, 5, 16, 0, 0, 0)),
        META,
        feed_url=FEED,
        fetched_at=FETCHED + timedelta(0),
    )
    assert future.date_flags == ("future",)
