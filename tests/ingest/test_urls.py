from __future__ import annotations

import pytest

from ingest.urls import canonical_url, clean_query, host_of, is_tracking_param, registrable_domain


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("https://example.com/a?utm_source=x&utm_medium=y", None, "https://example.com/a"),
        ("https://example.com/a?b=2&utm_campaign=z&a=1", None, "https://example.com/a?b=2&a=1"),
        ("https://example.com/a?fbclid=1&gclid=2&dclid=3&msclkid=4", None, "https://example.com/a"),
        (
            "https://example.com/a?mc_cid=1&mc_eid=2&yclid=3&_ga=4&igshid=5&ref_src=6",
            None,
            "https://example.com/a",
        ),
        ("https://example.com/a?UTM_Source=x&id=7", None, "https://example.com/a?id=7"),
        ("https://example.com/a?xtor=RSS-3208&id=7", None, "https://example.com/a?id=7"),
        ("https://example.com/a#comments", None, "https://example.com/a"),
        ("HTTPS://WWW.Example.COM/Path/Case", None, "https://www.example.com/Path/Case"),
        ("http://example.com:80/a", None, "http://example.com/a"),
        ("https://example.com:443/a", None, "https://example.com/a"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("http://example.com:443/a", None, "http://example.com:443/a"),
        ("https://example.com", None, "https://example.com/"),
        ("https://example.com.", None, "https://example.com/"),
        ("https://bücher.example/straße", None, "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("https://example.com/a b", None, "https://example.com/a%20b"),
        ("https://example.com/%7Euser", None, "https://example.com/%7Euser"),
        ("/news/1?utm_source=rss", "https://example.com/feed.xml", "https://example.com/news/1"),
        ("news/1", "https://example.com/feeds/rss.xml", "https://example.com/feeds/news/1"),
        ("//cdn.example.com/x", "https://example.com/feed", "https://cdn.example.com/x"),
        ("https://example.com/a?a=1&&b=2&", None, "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?q=x%26y&utm_source=z", None, "https://example.com/a?q=x%26y"),
        ("https://example.com/a?flag", None, "https://example.com/a?flag"),
        ("https://user@Example.com/a", None, "https://user@example.com/a"),
        ("https://[2001:DB8::1]:443/a", None, "https://[2001:db8::1]/a"),
        ("tag:example.com,2024:1#x", None, "tag:example.com,2024:1"),
        ("  https://example.com/a  ", None, "https://example.com/a"),
        ("", None, ""),
    ],
)
def test_canonical_url(url: str, base: str | None, expected: str) -> None:
    assert canonical_url(url, base) == expected


def test_canonical_url_is_idempotent() -> None:
    for url in ("https://Example.com/a b?x=1&utm_source=2#f", "https://bücher.example/ä?ö=1"):
        once = canonical_url(url)
        assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("name", "tracking"),
    [
        ("utm_source", True),
        ("UTM_TERM", True),
        ("fbclid", True),
        ("gclid", True),
        ("_ga", True),
        ("id", False),
        ("page", False),
        ("q", False),
        ("utm", False),
        ("ref", False),
    ],
)
def test_is_tracking_param(name: str, tracking: bool) -> None:
    assert is_tracking_param(name) is tracking


def test_clean_query_keeps_order_and_spelling() -> None:
    assert clean_query("z=1&utm_source=x&a=%20&m") == "z=1&a=%20&m"


@pytest.mark.parametrize(
    ("url", "host", "domain"),
    [
        ("https://www.lemonde.fr/international/", "lemonde.fr", "lemonde.fr"),
        ("https://news.bbc.co.uk/x", "news.bbc.co.uk", "bbc.co.uk"),
        ("https://edition.cnn.com/", "edition.cnn.com", "cnn.com"),
        ("https://www.pravda.com.ua/news/", "pravda.com.ua", "pravda.com.ua"),
        ("https://abc.net.au/news", "abc.net.au", "abc.net.au"),
        ("http://127.0.0.1:8080/feed", "127.0.0.1", "127.0.0.1"),
        ("http://localhost/feed", "localhost", "localhost"),
        ("https://новости.example.test/", "xn--b1amnebsh.example.test", "example.test"),
        ("not a url", "", ""),
    ],
)
def test_host_and_registrable_domain(url: str, host: str, domain: str) -> None:
    assert host_of(url) == host
    assert registrable_domain(url) == domain
