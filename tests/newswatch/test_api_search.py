"""GET /search and GET /articles/{id} on the real node: filters, facets, highlights, paging, collapse,
and a table of malformed and hostile parameters (each a 4xx naming the parameter, never a 500)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from newswatch.routes.search import decode_cursor, encode_cursor

from . import test_api_support as support
from .test_api_support import MARKET_COUNT, Api, TestClient, make_api

search_api = support.search_api  # the fixture

pytestmark = pytest.mark.es


def ids(body: dict[str, Any]) -> list[str]:
    return sorted(h["id"].removeprefix("art-") for h in body["hits"])


def test_search_finds_highlights_and_facets(search_api: Api) -> None:
    r = search_api.get("/search", params={"q": "OTAN"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert ids(body) == ["fr", "fr-dup"]
    assert body["total"] == 2
    first = body["hits"][0]
    assert "<mark>OTAN</mark>" in first["highlights"]["title"][0]
    assert first["source"] == {"name": "Le Monde", "domain": "lemonde.fr"}
    topics = {b["value"]: b["count"] for b in body["facets"]["topics"]}
    assert topics == {"nato": 2, "air-defence": 1}
    assert body["facets"]["languages"] == [{"value": "fr", "count": 2}]
    assert body["facets"]["sources"] == [{"value": "Le Monde", "count": 2}]
    assert body["date_histogram"]["interval"] == "day"
    assert sum(b["count"] for b in body["date_histogram"]["buckets"]) == 2
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "defense antiaerienne"}, ["fr", "fr-dup"]),
        ({"q": "NATO", "languages": "en"}, ["en"]),
        ({"topics": "sanctions"}, ["de"]),
        ({"topics": "sanctions,air-defence"}, ["de", "en", "fr"]),  # values of one filter: any
        ({"topics": "sanctions", "languages": "en"}, []),  # different filters: all
        ({"topics": ["air-defence"], "sources": "reuters.com"}, ["en"]),
        ({"q": "NATO OR OTAN", "since": "2024-05-01", "until": "2024-05-01"}, ["fr", "fr-dup"]),
        ({"q": "NATO OR OTAN", "until": "2024-04-30"}, ["en"]),
        ({"q": "OTAN", "since": "12h"}, []),  # the clock says 2024-05-02T12:00Z
        ({"entities": "org:nato"}, ["fr"]),
        ({"q": "topic:sanctions OR lang:en -market"}, ["de", "en"]),  # AND binds tighter
    ],
)
def test_search_filters(search_api: Api, params: dict[str, Any], expected: list[str]) -> None:
    r = search_api.get("/search", params=params)
    assert r.status_code == 200, r.text
    assert ids(r.json()) == expected


@pytest.mark.parametrize("sort", ["date", "relevance"])
def test_search_after_paging(search_api: Api, sort: str) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": "market", "limit": 5, "sort": sort}
        if cursor:
            params["cursor"] = cursor
        body = search_api.get("/search", params=params).json()
        pages += 1
        seen += [h["id"] for h in body["hits"]]
        assert body["total"] == MARKET_COUNT
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) == MARKET_COUNT
    if sort == "date":  # newest first
        assert seen == [f"art-m{i:02d}" for i in range(MARKET_COUNT)]


def test_collapse_by_story(search_api: Api) -> None:
    body = search_api.get("/search", params={"q": "OTAN OR NATO", "collapse": "true"}).json()
    stories = [h["story_id"] for h in body["hits"]]
    assert sorted(stories) == ["s-en", "s-nato"]
    assert body["collapsed"] is True
    assert body["next_cursor"] is None


def test_article(search_api: Api) -> None:
    r = search_api.get("/articles/art-fr")
    assert r.status_code == 200
    doc = r.json()
    assert doc["title"].startswith("L'OTAN")
    assert "title_folded" not in doc
    r = search_api.get("/articles/no-such-article")
    assert r.status_code == 404
    assert r.json()["parameter"] == "article_id"
    assert "no-such-article" in r.json()["detail"]


def test_cursor_round_trip() -> None:
    c = encode_cursor("date", ["2024-05-01T12:00:00.000Z", "art-1"])
    assert decode_cursor(c, "date") == ["2024-05-01T12:00:00.000Z", "art-1"]
    assert decode_cursor(encode_cursor("relevance", [1.5, "a"]), "relevance") == [1.5, "a"]


def b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


DEEP = "(" * 60 + "a" + ")" * 60

# (raw query string or params, parameter named in the answer)
HOSTILE: list[tuple[str | dict[str, Any], str]] = [
    ({"q": "(NATO"}, "q"),
    ({"q": "NATO)"}, "q"),
    ({"q": "NATO AND"}, "q"),
    ({"q": '"unterminated'}, "q"),
    ({"q": "a*"}, "q"),
    ({"q": DEEP}, "q"),
    ({"q": "x" * 5000}, "q"),
    ({"q": "NATO " * 500}, "q"),
    ({"q": "a\x00b"}, "q"),
    ("q=%FF%FE", "q"),
    ("q=d%C3", "q"),
    ({"topics": "nato\x01"}, "topics"),
    ({"sources": "s" * 300}, "sources"),
    ({"languages": [f"l{i}" for i in range(101)]}, "languages"),
    ({"since": "yesterday"}, "since"),
    ({"since": "999999d"}, "since"),
    ({"until": "2024-13-45"}, "until"),
    ({"since": "2024-05-02", "until": "2024-05-01"}, "until"),
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "1" * 400}, "limit"),
    ({"sort": "popular"}, "sort"),
    ({"cursor": "!!!"}, "cursor"),
    ({"cursor": "x" * 5000}, "cursor"),
    ({"cursor": b64([1, 2])}, "cursor"),
    ({"cursor": b64({"v": 1, "sort": "relevance", "after": [1.0, "a"]}), "sort": "date"}, "cursor"),
    ({"cursor": b64({"v": 1, "sort": "relevance", "after": ["x", "a"]})}, "cursor"),
    ({"cursor": b64({"v": 1, "sort": "date", "after": [True, "a"]}), "sort": "date"}, "cursor"),
    ({"cursor": b64({"v": 1, "sort": "date", "after": ["x", "a"]}), "collapse": 1, "sort": "date"}, "cursor"),
    ({"collapse": "maybe"}, "collapse"),
    ({"facets": "2"}, "facets"),
    ({"lang": "fr"}, "lang"),
    ("q%FF=1", "q\\xff"),
]


@pytest.mark.parametrize(("params", "parameter"), HOSTILE, ids=[f"{i}-{p[1]}" for i, p in enumerate(HOSTILE)])
def test_bad_parameters_are_4xx_naming_the_parameter(
    search_api: Api, params: str | dict[str, Any], parameter: str
) -> None:
    if isinstance(params, str):
        r = search_api.get(f"/search?{params}")
    else:
        r = search_api.get("/search", params=params)
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert body["parameter"].startswith(parameter.split("\\")[0]), body
    assert body["detail"].startswith(f"{body['parameter']}:"), body
    if parameter == "q" and r.status_code == 400 and "position" in body:
        assert f"position {body['position']}" in body["detail"]


def test_query_syntax_error_names_position(search_api: Api) -> None:
    r = search_api.get("/search", params={"q": "NATO OR (OTAN"})
    assert r.status_code == 400
    assert r.json() == {
        "detail": "q: unclosed '(' at position 9",
        "parameter": "q",
        "position": 9,
    }


def test_bad_path_parameters(search_api: Api) -> None:
    r = search_api.get("/articles/a%00b")
    assert r.status_code == 400 and r.json()["parameter"] == "article_id"
    r = search_api.get("/articles/" + "x" * 600)
    assert r.status_code == 422 and r.json()["parameter"] == "article_id"


def test_elasticsearch_unreachable_is_503(unique_prefix: str) -> None:
    from elasticsearch import Elasticsearch

    from newswatch.routes import build_app
    from newswatch.settings import load_settings

    settings = load_settings(elasticsearch_url="http://127.0.0.1:9", index_prefix=unique_prefix)
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=2, max_retries=0)
    client = TestClient(build_app(es, settings))
    for url in ("/search?q=NATO", "/articles/x", "/alerts", "/feeds"):
        r = client.get(url)
        assert r.status_code == 503, (url, r.text)
        assert "cannot reach Elasticsearch at http://127.0.0.1:9" in r.json()["detail"]
    es.close()


def test_openapi_lists_the_endpoints(search_api: Api) -> None:
    spec = search_api.get("/openapi.json").json()
    for path in ("/search", "/articles/{article_id}", "/alerts", "/alerts/{rule_id}/test", "/feeds"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert {"q", "topics", "since", "until", "sort", "limit", "cursor", "collapse"} <= params
    assert search_api.get("/docs").status_code == 200


def test_separate_app_instances_do_not_share_state(es_url: str, unique_prefix: str) -> None:
    """Each app carries its own client and settings (no module globals)."""
    a, es_a = make_api(es_url, unique_prefix + "-a")
    b, es_b = make_api(es_url, unique_prefix + "-b", api_open_reads=False, api_token="t")
    assert a.get("/search").status_code == 200
    assert b.get("/search").status_code == 401
    from .test_api_support import delete_prefix

    for es, p in ((es_a, "-a"), (es_b, "-b")):
        delete_prefix(es, unique_prefix + p)
        es.close()
