"""Table tests of the pure scheduling functions: no clock, no network."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from ingest.schedule import (
    FeedState,
    SchedulePolicy,
    apply_outcome,
    cache_lifetime,
    error_delay,
    is_unhealthy,
    new_or_changed,
    next_check,
    parse_retry_after,
    remember_entries,
    success_interval,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
POLICY = SchedulePolicy(
    default_interval_s=900,
    min_interval_s=300,
    max_interval_s=86_400,
    error_backoff_base_s=60,
    error_backoff_cap_s=6 * 3600,
    jitter_fraction=0.1,
    unhealthy_after_s=24 * 3600,
)
NO_JITTER = replace(POLICY, jitter_fraction=0.0)


@dataclass(frozen=True)
class Out:
    """A stand-in for FetchOutcome with only what the schedule reads."""

    status: str = "ok"
    http_status: int | None = 200
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    permanent_redirect: str | None = None
    retry_after: datetime | None = None
    error: str | None = None


def rng() -> random.Random:
    return random.Random(1234)


# --------------------------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", NOW + timedelta(seconds=120)),
        ("0", NOW),
        (" 30 ", NOW + timedelta(seconds=30)),
        ("-5", None),
        ("soon", None),
        ("Sun, 01 Jun 2025 13:00:00 GMT", NOW + timedelta(hours=1)),
        ("Sunday, 01-Jun-25 13:00:00 GMT", NOW + timedelta(hours=1)),  # RFC 850 form
        ("Sun, 01 Jun 2025 11:00:00 GMT", NOW),  # in the past: now
        ("Sun, 01 Jun 2025 14:00:00 +0100", NOW + timedelta(hours=1)),
    ],
)
def test_parse_retry_after(value: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected_s"),
    [
        ({}, None),
        ({"Cache-Control": "max-age=600"}, 600),
        ({"cache-control": "public, max-age=3600, must-revalidate"}, 3600),
        ({"Cache-Control": "s-maxage=120"}, 120),
        ({"Cache-Control": "s-maxage=120, max-age=60"}, 60),  # private cache: max-age wins
        ({"Cache-Control": "no-cache"}, 0),
        ({"Cache-Control": "no-store, max-age=600"}, 0),
        ({"Cache-Control": 'max-age="90"'}, 90),
        ({"Cache-Control": "max-age=abc"}, None),
        ({"Expires": "Sun, 01 Jun 2025 12:30:00 GMT"}, 1800),
        ({"Expires": "Sun, 01 Jun 2025 11:30:00 GMT"}, 0),  # past
        ({"Expires": "0"}, 0),  # invalid: already expired (RFC 9111)
        # Expires measured against the server's Date (clock skew): 10 min of freshness
        ({"Expires": "Sun, 01 Jun 2025 09:10:00 GMT", "Date": "Sun, 01 Jun 2025 09:00:00 GMT"}, 600),
        ({"Cache-Control": "max-age=60", "Expires": "Sun, 01 Jun 2025 14:00:00 GMT"}, 60),
    ],
)
def test_cache_lifetime(headers: dict[str, str], expected_s: int | None) -> None:
    got = cache_lifetime(headers, NOW)
    assert got == (None if expected_s is None else timedelta(seconds=expected_s))


# --------------------------------------------------------------------------------------------- intervals


@pytest.mark.parametrize(
    ("state_kw", "headers", "expected"),
    [
        ({}, {}, 900),  # default
        ({"interval_s": 1800}, {}, 1800),  # configured
        ({"interval_s": 60}, {}, 300),  # raised to min
        ({"interval_s": 200_000}, {}, 86_400),  # lowered to max
        ({"observed_interval_s": 400.0}, {}, 400),  # adaptive: publishes every ~7 min
        ({"observed_interval_s": 30.0}, {}, 300),  # ... but never below min
        ({"observed_interval_s": 40_000.0}, {}, 40_000),  # publishes twice a day
        ({"interval_s": 1800, "observed_interval_s": 400.0}, {}, 1800),  # configured wins
        ({"ttl_s": 3600}, {}, 3600),  # RSS ttl raises it
        ({"ttl_s": 60}, {}, 900),  # ttl below interval changes nothing
        ({}, {"Cache-Control": "max-age=7200"}, 7200),
        ({}, {"Cache-Control": "max-age=60"}, 900),
        ({}, {"Expires": "Sun, 01 Jun 2025 14:00:00 GMT"}, 7200),
        ({}, {"Cache-Control": "max-age=31536000"}, 86_400),  # a year: bounded by max
        ({"ttl_s": 3600}, {"Cache-Control": "max-age=7200"}, 7200),  # the larger hint
    ],
)
def test_success_interval(state_kw: dict[str, object], headers: dict[str, str], expected: float) -> None:
    state = FeedState(url="http://x/feed", **state_kw)  # type: ignore[arg-type]
    assert success_interval(state, headers, NOW, POLICY) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("streak", "expected"),
    [(0, 60), (1, 60), (2, 120), (3, 240), (5, 960), (9, 15_360), (10, 21_600), (11, 21_600), (500, 21_600)],
)
def test_error_backoff_grows_then_caps(streak: int, expected: int) -> None:
    assert error_delay(streak, None, NOW, POLICY) == expected


@pytest.mark.parametrize(
    ("streak", "retry_after_s", "expected"),
    [
        (1, 600, 600),  # Retry-After longer than backoff wins
        (5, 10, 960),  # shorter than backoff: backoff wins
        (1, 10 * 86_400, 86_400),  # absurd Retry-After bounded by max(cap, max_interval)
    ],
)
def test_error_delay_honours_retry_after(streak: int, retry_after_s: int, expected: int) -> None:
    assert error_delay(streak, NOW + timedelta(seconds=retry_after_s), NOW, POLICY) == expected


def test_jitter_stays_within_bounds_and_spreads() -> None:
    r = rng()
    state = FeedState(url="http://x/feed")
    delays = [(next_check(NOW, state, Out(), POLICY, r) - NOW).total_seconds() for _ in range(2000)]
    assert min(delays) >= 900 * 0.9
    assert max(delays) <= 900 * 1.1
    assert max(delays) - min(delays) > 900 * 0.15  # it does spread
    assert len(set(delays)) > 1000


def test_jitter_never_goes_below_min_interval() -> None:
    r = rng()
    state = FeedState(url="http://x/feed", interval_s=300)
    delays = [(next_check(NOW, state, Out(), POLICY, r) - NOW).total_seconds() for _ in range(500)]
    assert min(delays) >= 300
    assert max(delays) <= 330


def test_jitter_never_brings_a_retry_before_retry_after() -> None:
    r = rng()
    state = FeedState(url="http://x/feed", error_streak=1)
    out = Out(status="error", http_status=429, retry_after=NOW + timedelta(seconds=600))
    delays = [(next_check(NOW, state, out, POLICY, r) - NOW).total_seconds() for _ in range(500)]
    assert min(delays) >= 600
    assert max(delays) <= 660


def test_next_check_without_jitter_is_deterministic() -> None:
    state = FeedState(url="http://x/feed", ttl_s=1200)
    assert next_check(NOW, state, Out(status="not_modified"), NO_JITTER, rng()) == NOW + timedelta(
        seconds=1200
    )


def test_gone_is_rechecked_at_the_cap_rate() -> None:
    state = FeedState(url="http://x/feed", error_streak=1, gone=True)
    when = next_check(NOW, state, Out(status="gone", http_status=410), NO_JITTER, rng())
    assert when == NOW + timedelta(seconds=POLICY.error_backoff_cap_s)


# --------------------------------------------------------------------------------------------- transitions


def test_apply_outcome_success_records_validators_and_resets_errors() -> None:
    state = FeedState(
        url="http://x/feed", error_streak=3, first_error_at=NOW - timedelta(hours=2), last_error="boom"
    )
    out = Out(status="ok", etag='"a"', last_modified="Sun, 01 Jun 2025 10:00:00 GMT", content_hash="h1")
    new = apply_outcome(state, out, NOW, NO_JITTER, rng(), feed_ttl_s=1800)
    assert new.etag == '"a"'
    assert new.last_modified == "Sun, 01 Jun 2025 10:00:00 GMT"
    assert new.content_hash == "h1"
    assert (new.error_streak, new.first_error_at, new.last_error) == (0, None, None)
    assert new.last_success_at == NOW
    assert new.last_fetch_at == NOW
    assert new.last_status == 200
    assert new.ttl_s == 1800
    assert new.next_check_at == NOW + timedelta(seconds=1800)


def test_apply_outcome_not_modified_keeps_what_it_knew() -> None:
    state = FeedState(url="http://x/feed", etag='"a"', content_hash="h1", ttl_s=1200)
    new = apply_outcome(state, Out(status="not_modified", http_status=304), NOW, NO_JITTER, rng())
    assert (new.etag, new.content_hash, new.ttl_s) == ('"a"', "h1", 1200)
    assert new.next_check_at == NOW + timedelta(seconds=1200)


def test_apply_outcome_update_period_and_ttl_take_the_larger() -> None:
    state = FeedState(url="http://x/feed")
    new = apply_outcome(state, Out(), NOW, NO_JITTER, rng(), feed_ttl_s=600, update_period_s=3600)
    assert new.ttl_s == 3600


def test_apply_outcome_permanent_redirect_moves_the_url() -> None:
    state = FeedState(url="http://old/feed")
    new = apply_outcome(state, Out(permanent_redirect="http://new/feed"), NOW, NO_JITTER, rng())
    assert new.url == "http://new/feed"


def test_errors_back_off_and_keep_first_error_time() -> None:
    state = FeedState(url="http://x/feed", etag='"a"')
    times = []
    t = NOW
    for _ in range(12):
        state = apply_outcome(
            state, Out(status="error", http_status=500, error="x: HTTP 500"), t, NO_JITTER, rng()
        )
        times.append((state.next_check_at - t).total_seconds())  # type: ignore[operator]
        t = state.next_check_at  # type: ignore[assignment]
    assert times[:4] == [60, 120, 240, 480]
    assert times[-1] == POLICY.error_backoff_cap_s  # and still scheduled: never abandoned
    assert state.error_streak == 12
    assert state.first_error_at == NOW
    assert state.etag == '"a"'  # validators survive errors
    assert state.last_error == "x: HTTP 500"


def test_gone_marks_the_feed_and_success_clears_it() -> None:
    state = FeedState(url="http://x/feed")
    gone = apply_outcome(state, Out(status="gone", http_status=410, error="gone"), NOW, NO_JITTER, rng())
    assert gone.gone and gone.error_streak == 1
    assert gone.next_check_at == NOW + timedelta(seconds=POLICY.error_backoff_cap_s)
    back = apply_outcome(gone, Out(), NOW + timedelta(hours=6), NO_JITTER, rng())
    assert not back.gone and back.error_streak == 0


@pytest.mark.parametrize(
    ("state_kw", "age_h", "expected"),
    [
        ({}, 0, False),
        ({"error_streak": 5}, 23, False),
        ({"error_streak": 5}, 24, True),
        ({"error_streak": 50}, 30, True),
        ({"gone": True, "error_streak": 1}, 0, True),  # gone: unhealthy at once
    ],
)
def test_is_unhealthy(state_kw: dict[str, object], age_h: int, expected: bool) -> None:
    first = NOW - timedelta(hours=age_h) if state_kw else None
    state = FeedState(url="http://x/feed", first_error_at=first, **state_kw)  # type: ignore[arg-type]
    assert is_unhealthy(state, NOW, POLICY) is expected


# --------------------------------------------------------------------------------------------- adaptive


def _poll(state: FeedState, t: datetime, new: int) -> FeedState:
    return apply_outcome(
        state, Out(status="ok" if new else "unchanged"), t, NO_JITTER, rng(), new_entries=new
    )


def test_adaptive_interval_follows_a_fast_publisher() -> None:
    """Polled every 15 min, 3 new items each time: publishes every 5 min -> poll at min (300 s)."""
    state = FeedState(url="http://x/feed")
    t = NOW
    state = _poll(state, t, 20)  # first fetch: backlog, not a sample
    assert state.observed_interval_s is None
    for _ in range(10):
        t += timedelta(minutes=15)
        state = _poll(state, t, 3)
    assert state.observed_interval_s == pytest.approx(300)
    assert state.next_check_at == t + timedelta(seconds=300)


def test_adaptive_interval_averages_rates_not_gaps() -> None:
    """Polled every 5 min, one item every other poll: the feed publishes every 10 min."""
    state = FeedState(url="http://x/feed", last_success_at=NOW, observed_interval_s=600.0)
    t = NOW
    for i in range(40):
        t += timedelta(minutes=5)
        state = _poll(state, t, i % 2)
    assert 450 < state.observed_interval_s < 800  # type: ignore[operator]


def test_adaptive_interval_backs_off_a_daily_publisher() -> None:
    """One new item a day: after a few days of mostly silent checks the interval is hours, not 15 min."""
    state = FeedState(url="http://x/feed", last_success_at=NOW)
    t = NOW
    published = 0
    while t < NOW + timedelta(days=4):
        t = state.next_check_at or t + timedelta(seconds=900)
        due = int((t - NOW).total_seconds() // 86_400)  # items published so far: one per day
        state = _poll(state, t, due - published)
        published = due
    assert state.observed_interval_s is not None and state.observed_interval_s > 4 * 3600
    assert (state.next_check_at - t).total_seconds() > 4 * 3600  # type: ignore[operator]


def test_silence_drives_interval_to_max() -> None:
    state = FeedState(url="http://x/feed", last_success_at=NOW)
    state = _poll(state, NOW + timedelta(minutes=15), 0)
    assert state.observed_interval_s == POLICY.max_interval_s


# --------------------------------------------------------------------------------------------- entries


@pytest.mark.parametrize(
    ("known", "entries", "expected"),
    [
        ((), [("a", "1"), ("b", "2")], {"a", "b"}),
        ((("a", "1"),), [("a", "1"), ("b", "2")], {"b"}),
        ((("a", "1"), ("b", "2")), [("a", "1"), ("b", "3")], {"b"}),  # edited entry
        ((("a", "1"),), [("a", "1")], set()),
        ((("a", "1"),), [], set()),
    ],
)
def test_new_or_changed(
    known: tuple[tuple[str, str], ...], entries: list[tuple[str, str]], expected: set[str]
) -> None:
    assert new_or_changed(entries, FeedState(url="u", entry_hashes=known)) == expected


def test_remember_entries_is_bounded_newest_first() -> None:
    state = FeedState(url="u", entry_hashes=(("a", "1"), ("b", "2")))
    state = remember_entries(state, [("c", "3"), ("a", "9")], limit=3)
    assert state.entry_hashes == (("c", "3"), ("a", "9"), ("b", "2"))
    state = remember_entries(state, [(f"n{i}", "x") for i in range(10)], limit=4)
    assert len(state.entry_hashes) == 4
    assert state.entry_hashes[0] == ("n0", "x")


def test_policy_rejects_inconsistent_bounds() -> None:
    with pytest.raises(ValueError, match="min_interval_s"):
        SchedulePolicy(min_interval_s=600, max_interval_s=300)
    with pytest.raises(ValueError, match="jitter_fraction"):
        SchedulePolicy(jitter_fraction=1.5)


def test_policy_from_settings() -> None:
    from newswatch.settings import load_settings

    policy = SchedulePolicy.from_settings(load_settings())
    assert policy.jitter_fraction == 0.1
    assert policy.error_backoff_base_s == 60
