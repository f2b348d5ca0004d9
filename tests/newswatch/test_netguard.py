"""Private-address refusal (pure table tests, plus the fetch-time guard against a real local server)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from newswatch.errors import ConfigError
from newswatch.netguard import GuardedTransport, address_problem, check_feed_url, guarded, url_problem
from tests.feedserver import FeedServer, rss_feed


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("151.101.1.140", None),
        ("2a04:4e42::396", None),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved 240/4 (is_private is true for it in Python >= 3.11.4)
        ("255.255.255.255", "private"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation (TEST-NET-1)
        ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("::ffff:10.0.0.1", "private (IPv4 10.0.0.1 inside IPv6)"),
        ("2002:7f00:1::", "loopback (IPv4 127.0.0.1 inside IPv6)"),  # 6to4 of 127.0.0.1
        ("not-an-ip", "not an IP address"),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    got = address_problem(address)
    if problem in ("private",) and got is not None:
        assert got in ("private", "reserved")  # the classification of a few ranges moved between Pythons
    else:
        assert got == problem


def resolver(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int | None) -> Sequence[str]:
        if host not in table:
            raise OSError(f"Name or service not known: {host}")
        return table[host]

    return resolve


DNS = resolver(
    {
        "news.example": ["93.184.216.34", "2606:2800:220:1::1"],
        "mixed.example": ["93.184.216.34", "10.0.0.5"],
        "local.example": ["127.0.0.1"],
        "empty.example": [],
    }
)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://news.example/rss", None),
        ("http://93.184.216.34:8080/rss", None),
        ("https://mixed.example/rss", "mixed.example -> 10.0.0.5 is a private address"),
        ("https://local.example/rss", "local.example -> 127.0.0.1 is a loopback address"),
        ("http://127.0.0.1:9200/", "127.0.0.1 is a loopback address"),
        ("http://[::1]/feed", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("https://nowhere.example/rss", "cannot resolve nowhere.example"),
        ("https://empty.example/rss", "empty.example resolves to no address"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("http:///nohost", "no host"),
        ("http://news.example:99999/", "invalid port"),
    ],
)
def test_url_problem(url: str, problem: str | None) -> None:
    got = url_problem(url, DNS)
    assert got == problem or (problem is not None and got is not None and got.startswith(problem))


def test_check_feed_url_raises_unless_allowed() -> None:
    with pytest.raises(ConfigError, match=r"http://10\.0\.0\.1/f: refused: .*ALLOW_PRIVATE_FEEDS"):
        check_feed_url("http://10.0.0.1/f", allow_private=False, resolver=DNS)
    check_feed_url("http://10.0.0.1/f", allow_private=True, resolver=DNS)
    check_feed_url("https://news.example/rss", allow_private=False, resolver=DNS)
    with pytest.raises(ConfigError):
        check_feed_url("ftp://x/", allow_private=True)


async def test_guarded_transport_refuses_private_targets_in_guarded_tasks(feed_server: FeedServer) -> None:
    feed_server.route("/f.xml", body=rss_feed(1))
    transport = GuardedTransport(httpx.AsyncHTTPTransport(), allow_private=False)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get(feed_server.url("/f.xml"))).status_code == 200  # trusted (config) feed
        with (
            guarded(),
            pytest.raises(httpx.ConnectError, match=r"refused: 127\.0\.0\.1 -> 127\.0\.0\.1 is a loopback"),
        ):
            await client.get(feed_server.url("/f.xml"))
    allowed = GuardedTransport(httpx.AsyncHTTPTransport(), allow_private=True)
    async with httpx.AsyncClient(transport=allowed) as client:
        with guarded():
            assert (await client.get(feed_server.url("/f.xml"))).status_code == 200
    assert len(feed_server.requests_for("/f.xml")) == 2


async def test_guarded_transport_checks_the_address_it_actually_reached(feed_server: FeedServer) -> None:
    # DNS rebinding: the name resolves to a public address for the check, then to loopback for
    # httpx's own connection. The response is refused once the connection's peer is known.
    feed_server.route("/f.xml", body=rss_feed(1))
    public_for_the_check = resolver({"localhost": ["93.184.216.34"]})
    transport = GuardedTransport(
        httpx.AsyncHTTPTransport(), allow_private=False, resolver=public_for_the_check
    )
    url = feed_server.url("/f.xml").replace("127.0.0.1", "localhost")
    async with httpx.AsyncClient(transport=transport) as client:
        with (
            guarded(),
            pytest.raises(
                httpx.ConnectError, match=r"refused: localhost connected to (127\.0\.0\.1|::1), a loopback"
            ),
        ):
            await client.get(url)
        # Outside a guarded task (a configured feed) the same request is fetched as before.
        response = await client.get(url)
        assert response.status_code == 200
        assert b"<rss" in response.content
