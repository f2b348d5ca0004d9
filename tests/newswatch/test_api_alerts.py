"""/alerts on the real node: auth table, CRUD round trip, file rules read-only, back-test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.rules import AlertRule
from alerts.store import AlertStore, Names

from . import test_api_support as support
from .test_api_support import AUTH, NOW, TOKEN, Api, corpus

fresh_api = support.fresh_api  # the fixture

pytestmark = pytest.mark.es

ApiFactory = Callable[..., Api]

RULE: dict[str, Any] = {
    "id": "nato",
    "name": "NATO watch",
    "query": "NATO OR OTAN",
    "channels": {"email": ["analyst@example.org"]},
}


@pytest.mark.parametrize(
    ("open_reads", "token", "headers", "read_status", "write_status"),
    [
        (True, None, {}, 200, 403),
        (True, None, AUTH, 200, 403),
        (True, TOKEN, {}, 200, 401),
        (True, TOKEN, {"Authorization": "Bearer wrong"}, 200, 401),
        (True, TOKEN, {"Authorization": f"Basic {TOKEN}"}, 200, 401),
        (True, TOKEN, {"Authorization": f"Bearer {TOKEN}x"}, 200, 401),
        (True, TOKEN, AUTH, 200, 201),
        (False, TOKEN, {}, 401, 401),
        (False, TOKEN, {"Authorization": "Bearer wrong"}, 401, 401),
        (False, TOKEN, AUTH, 200, 201),
        (False, None, AUTH, 403, 403),
    ],
)
def test_auth(
    fresh_api: ApiFactory,
    open_reads: bool,
    token: str | None,
    headers: dict[str, str],
    read_status: int,
    write_status: int,
) -> None:
    api = fresh_api(api_open_reads=open_reads, api_token=token)
    r = api.client.get("/alerts", headers=headers)
    assert r.status_code == read_status, r.text
    w = api.client.post("/alerts", json=RULE, headers=headers)
    assert w.status_code == write_status, w.text
    for resp in (r, w):
        if resp.status_code == 403:
            assert "NEWSWATCH_API_TOKEN" in resp.json()["detail"]
        if resp.status_code == 401:
            assert resp.json()["parameter"] == "Authorization"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # the other read/write endpoints are guarded the same way
    assert api.client.get("/feeds", headers=headers).status_code == read_status
    assert api.client.get("/search", headers=headers).status_code == read_status
    d = api.client.delete("/alerts/nato", headers=headers)
    assert d.status_code == (204 if write_status == 201 else write_status)


def test_alert_crud_round_trip(fresh_api: ApiFactory) -> None:
    api = fresh_api(api_token=TOKEN)
    c = api.client
    assert c.get("/alerts").json() == {"rules": []}

    r = c.post("/alerts", json=RULE, headers=AUTH)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] == "nato" and created["origin"] == "api" and created["enabled"] is True
    assert created["rule"]["query"] == "NATO OR OTAN"

    assert [x["id"] for x in c.get("/alerts").json()["rules"]] == ["nato"]
    assert c.get("/alerts/nato").json()["rule"]["name"] == "NATO watch"

    dup = c.post("/alerts", json=RULE, headers=AUTH)
    assert dup.status_code == 409 and dup.json()["parameter"] == "id"

    changed = {**RULE, "query": "NATO", "enabled": False}
    changed.pop("id")
    r = c.put("/alerts/nato", json=changed, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["rule"]["query"] == "NATO" and r.json()["enabled"] is False
    assert c.get("/alerts/nato").json()["rule"]["query"] == "NATO"

    r = c.put("/alerts/nato", json={**RULE, "id": "other"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["parameter"] == "id"
    r = c.put("/alerts/missing", json=RULE | {"id": "missing"}, headers=AUTH)
    assert r.status_code == 404 and r.json()["parameter"] == "rule_id"

    assert c.delete("/alerts/nato", headers=AUTH).status_code == 204
    assert c.get("/alerts/nato").status_code == 404
    assert c.delete("/alerts/nato", headers=AUTH).status_code == 404
    assert c.get("/alerts").json() == {"rules": []}


@pytest.mark.parametrize(
    ("body", "parameter", "needle"),
    [
        ({**RULE, "channels": {}}, "channels", "at least one email"),
        ({**RULE, "query": "(NATO"}, "query", "unclosed '('"),
        ({**RULE, "id": "Bad Id"}, "id", "id must be"),
        ({**RULE, "query": ""}, "body", "would match everything"),
        ({**RULE, "mode": "weekly"}, "mode", "instant"),
        ({**RULE, "surprise": 1}, "surprise", "Extra inputs"),
        ({**RULE, "channels": {"email": ["not-an-address"]}}, "channels.email", "not an email"),
        (
            {**RULE, "digest": {"every": "daily", "timezone": "Mars/Olympus"}, "mode": "digest"},
            "digest.timezone",
            "zone",
        ),
    ],
)
def test_invalid_rules_are_422_naming_the_field(
    fresh_api: ApiFactory, body: dict[str, Any], parameter: str, needle: str
) -> None:
    api = fresh_api(api_token=TOKEN)
    r = api.client.post("/alerts", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["parameter"] == parameter, r.json()
    assert needle in r.json()["detail"]


def test_invalid_json_body(fresh_api: ApiFactory) -> None:
    api = fresh_api(api_token=TOKEN)
    r = api.client.post("/alerts", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"]


def test_file_rules_are_read_only(fresh_api: ApiFactory) -> None:
    api = fresh_api(api_token=TOKEN)
    api.client.post("/alerts", json=RULE, headers=AUTH)  # creates the alert indices
    store = AlertStore(api.es, Names.of(api.settings))
    store.put_rule(AlertRule.model_validate({**RULE, "id": "from-file"}), datetime.now(UTC), origin="file")
    assert api.client.get("/alerts/from-file").json()["origin"] == "file"
    r = api.client.put("/alerts/from-file", json={**RULE, "id": "from-file"}, headers=AUTH)
    assert r.status_code == 409 and "alerts.yaml" in r.json()["detail"]
    r = api.client.delete("/alerts/from-file", headers=AUTH)
    assert r.status_code == 409


def test_backtest(fresh_api: ApiFactory) -> None:
    api = fresh_api(corpus(), api_token=TOKEN)
    assert api.client.post("/alerts", json=RULE, headers=AUTH).status_code == 201
    r = api.client.post("/alerts/nato/test", params={"since": "7d", "examples": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rule"] == "nato"
    assert body["articles"] == 3  # fr, fr-dup, en
    assert body["stories"] == 2  # s-nato, s-en: what the rule would have sent
    per_day = {d["day"]: (d["articles"], d["stories"]) for d in body["per_day"]}
    assert per_day["2024-04-30"] == (1, 1)
    assert per_day["2024-05-01"] == (2, 1)
    assert len(body["examples"]) == 2
    first = body["examples"][0]
    assert first["why"]["rule"] == "nato"
    assert first["why"]["terms"]
    assert body["until"] == NOW.isoformat().replace("+00:00", "Z")

    day = {"since": "2024-05-01", "until": "2024-05-01"}
    narrow = api.client.post("/alerts/nato/test", params=day).json()
    assert (narrow["articles"], narrow["stories"]) == (2, 1)


@pytest.mark.parametrize(
    ("url", "parameter", "status"),
    [
        ("/alerts/nato/test?since=soon", "since", 400),
        ("/alerts/nato/test?since=2024-05-02&until=2024-05-01", "until", 400),
        ("/alerts/nato/test?examples=51", "examples", 422),
        ("/alerts/nato/test?examples=-1", "examples", 422),
        ("/alerts/nato/test?since=%FF", "since", 400),
        ("/alerts/nato/test?bogus=1", "bogus", 400),
        ("/alerts/NATO!/test", "rule_id", 422),
        ("/alerts/unknown/test", "rule_id", 404),
    ],
)
def test_backtest_bad_parameters(fresh_api: ApiFactory, url: str, parameter: str, status: int) -> None:
    api = fresh_api(api_token=TOKEN)
    api.client.post("/alerts", json=RULE, headers=AUTH)
    r = api.client.post(url)
    assert r.status_code == status, r.text
    assert r.json()["parameter"] == parameter
    assert r.json()["detail"].startswith(parameter)
