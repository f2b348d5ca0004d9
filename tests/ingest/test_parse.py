from __future__ import annotations

import io

import feedparser
import pytest

from ingest.parse import (
    _feedparser_parse,
    discover_feed_links,
    feed_meta,
    parse_feed,
    parse_feed_feedparser,
)
from newswatch.errors import ParseError

URL = "https://example.test/feed"
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://example.test/</link>
<item><title>One</title><link>https://example.test/1</link></item></channel></rss>"""


def test_rss_is_parsed() -> None:
    parsed = parse_feed(RSS, url=URL, content_type="application/rss+xml")
    assert parsed.meta.format == "rss20"
    assert parsed.meta.title == "T"
    assert [e["title"] for e in parsed.entries] == ["One"]
    assert parsed.warnings == ()


def test_malformed_but_readable_keeps_entries_and_warns() -> None:
    data = RSS.replace(b"</channel></rss>", b"<item><title>Two &bogus; <b></item></channel>")
    parsed = parse_feed(data, url=URL)
    assert parsed.entries[0]["title"] == "One"
    assert len(parsed.entries) == 2
    assert parsed.warnings and "leniently" in parsed.warnings[0]


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"\x00\x01\x02 binary", b"just some words, no markup", b"<root><child/></root>", b"{]"],
)
def test_nothing_readable_raises_parse_error_naming_the_url(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(data, url=URL)
    assert info.value.source == URL
    assert URL in str(info.value)


def test_html_page_names_advertised_feeds() -> None:
    page = b"""<!DOCTYPE html><html><head><base href="https://site.test/blog/">
    <link rel="alternate" type="application/rss+xml" href="rss.xml">
    <link rel="alternate stylesheet" type="text/css" href="x.css">
    <link rel="alternate" type="application/atom+xml" href="https://site.test/atom?a=1&amp;b=2">
    <link rel="alternate" type="application/rss+xml" href="rss.xml"></head><body>hi</body></html>"""
    assert discover_feed_links(page, "https://site.test/") == [
        "https://site.test/blog/rss.xml",
        "https://site.test/atom?a=1&b=2",
    ]
    with pytest.raises(ParseError) as info:
        parse_feed(page, url="https://site.test/", content_type="text/html; charset=utf-8")
    assert "https://site.test/blog/rss.xml" in info.value.reason
    assert "HTML page" in info.value.reason


def test_html_page_without_feed_links() -> None:
    with pytest.raises(ParseError, match="advertises no feed"):
        parse_feed(b"<html><body><p>Hello</p></body></html>", url=URL)


def test_json_content_type_but_not_json_feed() -> None:
    with pytest.raises(ParseError, match="not a JSON Feed"):
        parse_feed(b'{"hello": 1}', url=URL, content_type="application/json")


def test_json_feed_1_0() -> None:
    data = (
        b'{"version": "https://jsonfeed.org/version/1", "title": "J", "items": [{"id": 5, "url": "/p/5",'
        b' "content_text": "hi", "author": {"name": "A"}, "date_published": "2024-01-02T03:04:05Z"}]}'
    )
    parsed = parse_feed(data, url="https://j.test/feed.json")
    assert parsed.meta.format == "json10"
    (entry,) = parsed.entries
    assert entry["id"] == "5"
    assert entry["link"] == "https://j.test/p/5"
    assert entry["authors"] == [{"name": "A", "href": ""}]
    assert tuple(entry["published_parsed"])[:6] == (2024, 1, 2, 3, 4, 5)


def test_charset_from_content_type_is_used() -> None:
    data = '<?xml version="1.0"?><rss version="2.0"><channel><title>Été</title></channel></rss>'
    parsed = parse_feed(data.encode("cp1252"), url=URL, content_type="application/xml; charset=windows-1252")
    assert parsed.meta.title == "Été"


@pytest.mark.parametrize(
    ("feed", "ttl_s", "period_s"),
    [
        ({"ttl": "30"}, 1800, None),
        ({"ttl": "x"}, None, None),
        ({"sy_updateperiod": "hourly", "sy_updatefrequency": "2"}, None, 1800),
        ({"sy_updateperiod": "daily"}, None, 86400),
        ({"sy_updateperiod": "weekly", "sy_updatefrequency": "0"}, None, 604800),
        ({"sy_updateperiod": "sometimes"}, None, None),
    ],
)
def test_feed_meta_refresh_hints(feed: dict[str, str], ttl_s: int | None, period_s: int | None) -> None:
    meta = feed_meta(feed, "rss20")
    assert (meta.ttl_s, meta.update_period_s) == (ttl_s, period_s)


def test_fast_feedparser_matches_feedparser() -> None:
    data = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
    <title>A</title><entry><title type="html">x &amp;lt;b&amp;gt; y</title><id>1</id>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>a&amp;b \x93q\x94</p></div></content>
    <summary>line one
    line two &#8211; end</summary></entry></feed>""".replace(b"\x93", "\u201c".encode()).replace(
        b"\x94", "\u201d".encode()
    )
    ours = _feedparser_parse(data, {"content-location": URL})
    ref = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-location": URL},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    assert ours.entries == ref.entries
    assert ours.feed == ref.feed
    assert ours.version == ref.version


def test_well_formed_rss_takes_the_fast_path_with_the_same_result() -> None:
    fast = parse_feed(RSS, url=URL, content_type="application/rss+xml")
    ref = parse_feed_feedparser(RSS, url=URL, content_type="application/rss+xml")
    assert type(fast.entries[0]) is dict  # feedparser's entries are FeedParserDicts
    assert fast.meta == ref.meta
    assert fast.warnings == ref.warnings == ()
    assert [e["title"] for e in fast.entries] == [e["title"] for e in ref.entries] == ["One"]
    assert fast.entries[0]["link"] == ref.entries[0]["link"] == "https://example.test/1"
