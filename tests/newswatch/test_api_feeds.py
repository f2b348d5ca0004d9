"""/feeds on the real node: add (private-address guard), list with health, one feed, remove."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import timedelta
from urllib.parse import quote

import pytest

from index.feedstate import FeedStore
from ingest.feeds import FeedConfig

from . import test_api_support as support
from .test_api_support import AUTH, NOW, TOKEN, Api

pytestmark = pytest.mark.es

fresh_api = support.fresh_api  # the fixture
ApiFactory = Callable[..., Api]

PUBLIC = {"news.example.org": ["93.184.215.14"], "sneaky.example.org": ["93.184.215.14", "10.0.0.7"]}


def resolver(host: str, port: int | None) -> Sequence[str]:
    """Test DNS: no lookup leaves the machine."""
    if host not in PUBLIC:
        raise OSError(f"unknown host {host}")
    return PUBLIC[host]


def test_feed_add_list_get_remove(fresh_api: ApiFactory) -> None:
    api = fresh_api(api_token=TOKEN, resolver=resolver)
    c = api.client
    assert c.get("/feeds").json() == {"total": 0, "counts": {}, "feeds": []}
    url = "https://news.example.org/rss.xml"
    r = c.post(
        "/feeds", json={"url": url, "name": "Example", "tags": ["t1"], "interval": "15m"}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    feed = r.json()
    assert feed["url"] == url and feed["origin"] == "runtime" and feed["interval_s"] == 900
    assert feed["health"]["status"] == "pending"
    key = feed["key"]

    listed = c.get("/feeds").json()
    assert listed["total"] == 1 and listed["counts"] == {"pending": 1}
    assert [f["key"] for f in listed["feeds"]] == [key]
    assert c.get("/feeds", params={"status": "failing"}).json()["feeds"] == []

    assert c.get(f"/feeds/{key}").json()["url"] == url
    assert c.get(f"/feeds/{url}").json()["key"] == key
    assert c.get(f"/feeds/{quote(url, safe='')}").json()["key"] == key

    again = c.post("/feeds", json={"url": url}, headers=AUTH)
    assert again.status_code == 409 and again.json()["parameter"] == "url"

    assert c.delete(f"/feeds/{key}", headers=AUTH).status_code == 204
    r = c.get(f"/feeds/{key}")
    assert r.status_code == 404 and r.json()["parameter"] == "feed"
    assert c.delete(f"/feeds/{key}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1/feed.xml", "loopback"),
        ("http://[::1]:8080/feed.xml", "loopback"),
        ("http://10.1.2.3/feed.xml", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://sneaky.example.org/feed.xml", "private"),
        ("http://no-such-host.invalid/feed.xml", "cannot resolve"),
        ("ftp://news.example.org/feed.xml", "http"),
        ("not a url", "http"),
    ],
)
def test_feed_add_refuses_private_and_bad_urls(fresh_api: ApiFactory, url: str, needle: str) -> None:
    api = fresh_api(api_token=TOKEN, resolver=resolver)
    r = api.client.post("/feeds", json={"url": url}, headers=AUTH)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["parameter"] == "url"
    assert needle in r.json()["detail"]
    assert api.client.get("/feeds").json()["total"] == 0


def test_private_feeds_allowed_by_setting(fresh_api: ApiFactory) -> None:
    api = fresh_api(api_token=TOKEN, allow_private_feeds=True)
    r = api.client.post("/feeds", json={"url": "http://127.0.0.1:9/feed.xml"}, headers=AUTH)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"url": "https://news.example.org/a", "interval": "soon"}, "interval"),
        ({"url": "https://news.example.org/a", "language": "english!"}, "language"),
        ({"url": "https://news.example.org/a", "colour": "red"}, "colour"),
        ({"url": "https://news.example.org/" + "a" * 3000}, "url"),
        ({"name": "no url"}, "url"),
    ],
)
def test_feed_add_bad_body(fresh_api: ApiFactory, body: dict[str, object], parameter: str) -> None:
    api = fresh_api(api_token=TOKEN, resolver=resolver)
    r = api.client.post("/feeds", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["parameter"] == parameter


def test_feed_health_and_config_feeds(fresh_api: ApiFactory) -> None:
    api = fresh_api(api_token=TOKEN, resolver=resolver)
    store = FeedStore(api.es, api.settings.index_name("feeds"))
    store.ensure_index()
    store.sync_config([FeedConfig.model_validate({"url": "https://news.example.org/a.xml"})], NOW)
    [rec] = store.claim_due("w", NOW, 60, 10)

    failing = dataclasses.replace(
        rec.state,
        error_streak=3,
        first_error_at=NOW - timedelta(days=2),
        last_error="HTTP 500",
        last_fetch_at=NOW,
    )
    assert store.save(dataclasses.replace(rec, state=failing), NOW) is not None
    store.refresh()
    body = api.client.get("/feeds").json()
    assert body["counts"] == {"unhealthy": 1}
    health = body["feeds"][0]["health"]
    assert health["error_streak"] == 3 and health["last_error"] == "HTTP 500"
    r = api.client.delete("/feeds/https://news.example.org/a.xml", headers=AUTH)
    assert r.status_code == 409 and "feeds.yaml" in r.json()["detail"]
    r = api.client.post("/feeds", json={"url": "https://news.example.org/a.xml"}, headers=AUTH)
    assert r.status_code == 409


def test_feed_writes_need_the_token(fresh_api: ApiFactory) -> None:
    api = fresh_api(resolver=resolver)  # no token configured
    r = api.client.post("/feeds", json={"url": "https://news.example.org/x"})
    assert r.status_code == 403 and "NEWSWATCH_API_TOKEN" in r.json()["detail"]
    assert api.client.delete("/feeds/abc").status_code == 403
