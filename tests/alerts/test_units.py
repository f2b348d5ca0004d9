"""Pure parts of alerts: rule validation, schedules, throttle folding, backoff, signatures, feed health."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.digest import digest_due, last_boundary, plan_dispatch
from alerts.feedhealth import Incident, health_events
from alerts.outbox import backoff_delay
from alerts.render import article_item, build_message, email_html, email_text, webhook_body, webhook_payload
from alerts.rules import AlertRule, DigestSchedule, load_alert_config, parse_duration, rule_from_dict
from alerts.webhook import WebhookError, classify, parse_retry_after, post, sign, verify
from newswatch.errors import RuleError

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 6, 3, 10, 30, tzinfo=UTC)
CH = {"email": ["a@example.org"]}


def rule(**kw: Any) -> AlertRule:
    return AlertRule.model_validate({"id": "r", "query": "NATO", "channels": CH, **kw})


def test_sample_config_is_valid_and_harmless() -> None:
    config = load_alert_config(ROOT / "config" / "alerts.yaml")
    nato = config.rule("nato")
    assert not nato.enabled
    assert "OTAN" in nato.query and "НАТО" in nato.query
    assert all(w.url.startswith("http://127.0.0.1") for w in nato.channels.webhooks)
    assert all(a.endswith("@example.org") for r in config.rules for a in r.channels.email)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {email: [x@example.org]}\n    mode: hourly\n",
            ":5: rule 'a': mode: Input should be 'instant' or 'digest'",
        ),
        (
            "rules:\n  - id: a\n    query: '(NATO'\n    channels: {email: [x@example.org]}\n",
            ":3: rule 'a': query: invalid query: unclosed '('",
        ),
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {}\n",
            ":4: rule 'a': channels: at least one email recipient or webhook is needed",
        ),
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {email: [not-an-address]}\n",
            "rule 'a': channels.email: not an email address",
        ),
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {email: [x@example.org]}\n    mode: digest\n"
            "    digest: {every: daily, at: '25:00'}\n",
            "rule 'a': digest.at: at must be a time HH:MM",
        ),
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {email: [x@example.org]}\n    mode: digest\n"
            "    digest: {timezone: Mars/Olympus}\n",
            "digest.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {email: [x@example.org]}\n"
            "    throttle: {max_per_hour: 0}\n",
            "rule 'a': throttle.max_per_hour",
        ),
        (
            "rules:\n  - id: a\n    query: NATO\n    channels: {email: [x@example.org]}\n"
            "  - id: a\n    query: OTAN\n    channels: {email: [x@example.org]}\n",
            ":5: rule 'a': id: duplicate id",
        ),
        (
            "rules:\n  - id: Bad Id\n    query: NATO\n    channels: {email: [x@example.org]}\n",
            "rule 'Bad Id': id:",
        ),
        ("rules:\n  - id: a\n    channels: {email: [x@example.org]}\n", "would match everything"),
        (
            "rules:\n  - id: a\n    query: x\n    colour: red\n    channels: {email: [x@example.org]}\n",
            ":4: rule 'a': colour: Extra inputs are not permitted",
        ),
        ("rules: [", "not valid YAML"),
    ],
)
def test_invalid_rules_name_file_line_rule_field(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(RuleError) as err:
        load_alert_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_rule_from_dict_names_rule_and_field() -> None:
    with pytest.raises(RuleError, match=r"rule 'x': channels.webhooks.0.url: webhook url must be http"):
        rule_from_dict({"id": "x", "query": "a", "channels": {"webhooks": [{"url": "ftp://h"}]}})


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800), (30, 30)]
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("schedule", "now", "boundary"),
    [
        (DigestSchedule(every="hourly"), "2024-06-03T10:30:00+00:00", "2024-06-03T10:00:00+00:00"),
        (
            DigestSchedule(every="daily", at="08:00", timezone="Europe/Paris"),
            "2024-06-03T10:30:00+00:00",
            "2024-06-03T06:00:00+00:00",
        ),  # summer: Paris = UTC+2
        (
            DigestSchedule(every="daily", at="08:00", timezone="Europe/Paris"),
            "2024-06-03T05:59:00+00:00",
            "2024-06-02T06:00:00+00:00",
        ),
        (
            DigestSchedule(every="daily", at="08:00", timezone="Europe/Paris"),
            "2024-01-10T07:30:00+00:00",
            "2024-01-10T07:00:00+00:00",
        ),  # winter: UTC+1
        (
            DigestSchedule(every="hourly", timezone="Asia/Kolkata"),
            "2024-06-03T10:10:00+00:00",
            "2024-06-03T09:30:00+00:00",
        ),  # half-hour zone
    ],
)
def test_last_boundary(schedule: DigestSchedule, now: str, boundary: str) -> None:
    assert last_boundary(schedule, datetime.fromisoformat(now)) == datetime.fromisoformat(boundary)


def test_digest_due() -> None:
    s = DigestSchedule(every="daily", at="08:00", timezone="UTC")
    assert not digest_due(s, None, NOW)
    assert not digest_due(s, NOW.replace(hour=8, minute=1), NOW)
    assert digest_due(s, NOW.replace(hour=7, minute=59), NOW)


@pytest.mark.parametrize(
    ("throttle", "n", "carried", "sends", "messages", "folded"),
    [
        (None, 3, 0, 0, ((0,), (1,), (2,)), (0, 0, 0)),
        (2, 5, 0, 0, ((0,), (1, 2, 3, 4)), (0, 3)),
        (2, 5, 0, 1, ((0, 1, 2, 3, 4),), (4,)),
        (2, 3, 0, 2, (), ()),
        (3, 4, 2, 0, ((0, 1), (2,), (3,)), (1, 0, 0)),
        (1, 1, 1, 0, ((0,),), (0,)),
        (None, 0, 0, 0, (), ()),
        (None, 3, 2, 0, ((0,), (1,), (2,)), (0, 0, 0)),
    ],
)
def test_plan_dispatch_throttle_folding(
    throttle: int | None,
    n: int,
    carried: int,
    sends: int,
    messages: tuple[tuple[int, ...], ...],
    folded: tuple[int, ...],
) -> None:
    r = rule(throttle={"max_per_hour": throttle} if throttle else None)
    plan = plan_dispatch(
        r, n, [NOW - timedelta(minutes=5)] * sends + [NOW - timedelta(hours=2)], None, NOW, n_carried=carried
    )
    assert plan.messages == messages
    assert plan.folded == folded


def test_plan_dispatch_digest_waits_for_boundary() -> None:
    r = rule(mode="digest", digest={"every": "hourly"})
    assert plan_dispatch(r, 4, [], NOW - timedelta(minutes=10), NOW).messages == ()
    assert plan_dispatch(r, 4, [], NOW - timedelta(minutes=40), NOW).messages == ((0, 1, 2, 3),)


@pytest.mark.parametrize(
    ("attempt", "jitter", "retry_after", "expected"),
    [
        (1, 0.0, None, 2.5),
        (1, 1.0, None, 5.0),
        (3, 1.0, None, 20.0),
        (20, 1.0, None, 600.0),
        (1, 0.0, 30.0, 30.0),
        (1, 0.0, 9999.0, 600.0),
    ],
)
def test_backoff_delay(attempt: int, jitter: float, retry_after: float | None, expected: float) -> None:
    assert backoff_delay(attempt, 5.0, 600.0, jitter, retry_after) == pytest.approx(expected)


def test_signature_roundtrip_and_replay_window() -> None:
    body = b'{"schema":"newswatch.alert/v1"}'
    ts = int(NOW.timestamp())
    sig = sign("k", ts, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("k", str(ts), body, sig, NOW)
    assert not verify("k", str(ts), body + b" ", sig, NOW)
    assert not verify("k", str(ts), body, sig, NOW + timedelta(minutes=6))  # replayed later
    assert not verify("k", "nope", body, sig, NOW)


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (200, {}, None, None),
        (204, {}, None, None),
        (500, {}, True, None),
        (503, {"retry-after": "7"}, True, 7.0),
        (429, {"retry-after": "Mon, 03 Jun 2024 10:31:00 GMT"}, True, 60.0),
        (400, {}, False, None),
        (404, {}, False, None),
        (410, {}, False, None),
    ],
)
def test_classify(
    status: int, headers: dict[str, str], retryable: bool | None, retry_after: float | None
) -> None:
    err = classify(status, headers, NOW, "http://h/x")
    if retryable is None:
        assert err is None
    else:
        assert err is not None and err.retryable is retryable and err.retry_after_s == retry_after


def test_parse_retry_after_garbage() -> None:
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


async def test_post_sends_signature_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(502 if len(seen) == 1 else 200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(WebhookError) as err:
            await post(client, "http://h/x", b"{}", "k", "d1", NOW)
        assert err.value.retryable
        assert await post(client, "http://h/x", b"{}", "k", "d1", NOW) == 200
    req = seen[-1]
    assert req.headers["Idempotency-Key"] == "d1"
    assert verify(
        "k", req.headers["X-Newswatch-Timestamp"], req.content, req.headers["X-Newswatch-Signature"], NOW
    )


def _src(**kw: Any) -> dict[str, Any]:
    return {
        "id": "a1",
        "story_id": "s1",
        "title": "L’OTAN et la défense anti-aérienne",
        "url": "https://x.example/1",
        "summary": "",
        "content": "Les alliés de l’OTAN <b>livrent</b> des systèmes de défense anti-aérienne.",
        "source": {"name": "Le Monde", "domain": "lemonde.fr"},
        "language": "fr",
        "published_at": "2024-06-03T08:00:00Z",
        "indexed_at": "2024-06-03T08:01:00Z",
        "topics": [{"id": "nato"}, {"id": "air-defence"}],
        **kw,
    }


def test_article_item_and_bodies() -> None:
    r = rule(query='OTAN OR "defense antiaerienne" OR topic:nato', topics=["air-defence"])
    item = article_item(_src(), r)
    assert "«OTAN»" in item["snippet"]
    assert item["why"] == {
        "rule": "r",
        "query": r.query,
        "terms": ["otan", "defense antiaerienne"],
        "topics": ["nato", "air-defence"],
    }
    msg = build_message("m1", "instant", {"id": "r", "name": "R", "query": r.query}, [item], 0, NOW)
    text, html = email_text(msg), email_html(msg)
    assert "Why: rule r; terms otan, defense antiaerienne; topics nato, air-defence" in text
    assert "https://x.example/1" in text
    assert "<mark>OTAN</mark>" in html and "&lt;b&gt;livrent" in html  # article HTML is escaped
    payload = json.loads(webhook_body(webhook_payload(msg, "d1", NOW)))
    assert payload["schema"] == "newswatch.alert/v1" and payload["delivery_id"] == "d1"
    assert "snippet_html" not in payload["items"][0]


def test_feed_health_events() -> None:
    feeds = [
        {"url": "a", "error_streak": 3, "first_error_at": "2024-06-03T01:00:00Z"},
        {"url": "b", "error_streak": 3, "first_error_at": "2024-06-03T09:00:00Z"},
        {"url": "c", "error_streak": 0, "first_error_at": None},
        {"url": "d", "error_streak": 5, "first_error_at": "2024-06-03T02:00:00Z"},
    ]
    incidents = [Incident("i-c", "c", "2024-06-02T00:00:00Z"), Incident("i-d", "d", "2024-06-03T02:00:00Z")]
    ev = health_events(feeds, incidents, timedelta(hours=6), NOW)
    assert [f["url"] for f, _ in ev.failing] == ["a"]  # b too recent, d already told
    assert [i.feed_url for _, i in ev.recovered] == ["c"]
