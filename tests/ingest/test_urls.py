from __future__ import annotations

import contextlib
from collections.abc import Callable

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


# ---------------------------------------------------------------- fast paths against urllib.parse

_TRICKY = [
    "",
    "http://example.com",
    "https://example.com/",
    "https://Example.COM/a/b?c=d#e",
    "https://example.com:443/x",
    "http://example.com:80",
    "http://example.com:8080/p",
    "https://user:pw@example.com/p",
    "https://@example.com/",
    "https://[::1]/p",
    "https://[::1]:8443/p",
    "https://[fe80::1%25eth0]/p",
    "https://[bad/p",
    "https://bücher.example/ä?ö=ü#frag",
    "https://xn--bcher-kva.example./p",
    "https://exa%41mple.com/p",
    "https://example.com/a%20b/%zz?q=%E2%82%AC",
    "https://example.com/p?",
    "https://example.com/p#",
    "https://example.com/p?#",
    "https://example.com/p;",
    "https://example.com/p;?q",
    "https://example.com/p;#f",
    "https://example.com/p;x=1?q",
    "https://example.com/a;b/c;",
    "https://example.com/p??q",
    "https://example.com/p##f",
    "https://example.com/p#f?g",
    "https://example.com?q=1",
    "https://example.com#f",
    "https:///path",
    "https://",
    "https:",
    "http:/x",
    "https://ex\tample.com/p",
    "https://example.com/p\n?q=1",
    "https://example.com/\rp",
    "HTTPS://EXAMPLE.COM/P",
    "Https://example.com/",
    "https://exa mple.com/p",
    "https://example.com /p",
    "https://example.com/p q",
    "https://ex_ample.com/p",
    "https://exa!$&'()*+,;=mple.com/p",
    "https://example.com.:443/",
    "https://ＥＸＡＭＰＬＥ.com/p",
    "https://example.com\uff03x/p",
    "https://a..b/p",
    "https://-/p",
    "https://./p",
    "https://example.com/../a/./b",
    "//example.com/p",
    "/relative/path?x=1",
    "relative",
    "?q=1",
    "#frag",
    "mailto:a@example.com",
    "tag:example.com,2026:1",
    "ftp://example.com/f",
    "\x01https://example.com/p",
    "https://example.com/\U0001f600?x=\ud800",
]
_BASES = [
    None,
    "",
    "https://feed.example/rss/",
    "http://feed.example/rss",
    " https://feed.example/a/b?x#y ",
    "https://[bad/feed",
    "ftp://feed.example/",
    "feed.example/relative",
]


def _old_is_web_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _old_host_of(url: str) -> str:
    from urllib.parse import urlsplit

    from ingest.urls import _idna_host

    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    host = _idna_host(host)
    return host[4:] if host.startswith("www.") else host


def _old_resolve_url(url: str, base: str | None) -> str:
    from urllib.parse import urljoin

    url = url.strip()
    if not url:
        return ""
    if not base:
        return url
    try:
        return urljoin(base.strip(), url)
    except ValueError:
        return url


def _urls() -> list[str]:
    import random

    rng = random.Random(3)
    pieces = [
        "https://",
        "http://",
        "example.com",
        "EXAMPLE.com",
        "bücher.de",
        ":",
        ":80",
        ":443",
        "@",
        "u@",
        "[",
        "]",
        "::1",
        "/",
        "//",
        "?",
        "#",
        ";",
        "&",
        "=",
        "%",
        "%41",
        "%zz",
        " ",
        "\t",
        "\n",
        "a",
        "é",
        "\U0001f600",
        "utm_source=x",
        "fbclid=1",
        ".",
        "..",
        "~",
        "-",
        "_",
        "'",
        "(",
        ")",
    ]
    generated = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 9))) for _ in range(20000)]
    tails = ["".join(rng.choice(pieces[12:]) for _ in range(rng.randint(0, 6))) for _ in range(5000)]
    hosts = ("https://example.com", "http://a-b.example.org", "https://EX.com.")
    return (
        _TRICKY
        + generated
        + ["https://" + p for p in generated[:5000]]
        + [rng.choice(hosts) + t for t in tails]
    )


def test_split_is_web_url_and_host_of_equal_urlsplit() -> None:
    from urllib.parse import urlsplit

    from ingest.urls import _split, is_web_url

    for url in _urls():
        try:
            parts = urlsplit(url)
            expected: object = (parts.scheme, parts.netloc, parts.path, parts.query)
        except ValueError:
            expected = ValueError
        try:
            got: object = _split(url)
        except ValueError:
            got = ValueError
        assert got == expected, repr(url)
        assert is_web_url(url) == _old_is_web_url(url), repr(url)
        assert host_of(url) == _old_host_of(url), repr(url)


def test_resolve_url_equals_urljoin() -> None:
    from ingest.urls import resolve_url

    for url in _urls():
        for base in _BASES:
            assert resolve_url(url, base) == _old_resolve_url(url, base), (url, base)


def test_canonical_url_unchanged_on_tricky_urls() -> None:
    from urllib.parse import quote, urljoin, urlsplit, urlunsplit

    from ingest.urls import _PATH_SAFE, _netloc

    def old(url: str, base: str | None = None) -> str:
        url = url.strip()
        if not url:
            return ""
        if base:
            with contextlib.suppress(ValueError):
                url = urljoin(base.strip(), url)
        try:
            parts = urlsplit(url)
        except ValueError:
            return url.partition("#")[0]
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            return url.partition("#")[0]
        try:
            netloc = _netloc(scheme, parts.netloc)
        except ValueError:
            netloc = parts.netloc.lower()
        path = quote(parts.path, safe=_PATH_SAFE) or "/"
        return urlunsplit((scheme, netloc, path, clean_query(parts.query), ""))

    def outcome(function: Callable[[str, str | None], str], url: str, base: str | None) -> object:
        try:
            return function(url, base)
        except UnicodeError as exc:  # a lone surrogate: raised before and after
            return type(exc)

    for url in _urls():
        for base in (None, "https://feed.example/rss/"):
            assert outcome(canonical_url, url, base) == outcome(old, url, base), (url, base)


def test_joins_to_itself_means_urljoin_returns_the_url() -> None:
    from urllib.parse import urljoin, urlsplit

    from feedparser.urls import _urljoin

    from ingest.urls import joins_to_itself

    bases = [b for b in _BASES if b is not None] + ["https://feed.example", "http://x.example/a;b?c#d"]
    checked = 0
    for url in _urls():
        if not joins_to_itself(url):
            continue
        checked += 1
        urlsplit(url)  # raises nothing
        for base in bases:
            try:
                urlsplit(base)
            except ValueError:
                continue
            assert urljoin(base, url) == url, (base, url)
            assert _urljoin(base, url) == url, (base, url)  # feedparser's, as ingest.fastparse uses it
    assert checked > 1000
