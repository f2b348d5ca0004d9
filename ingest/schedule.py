"""When to check a feed again: pure functions of ``now``, headers, the feed's state and a fetch outcome.

No I/O and no clock here: every function takes ``now`` (an aware ``datetime``) and, where randomness
is needed (jitter), a ``random.Random`` passed in, so the whole module is table-tested.

The next check after a success is

1. the *base interval*: the feed's configured ``interval_s`` if the operator set one, otherwise the
   observed publishing interval (``observed_interval_s``, an EWMA, see ``apply_outcome``) if we have
   one, otherwise ``policy.default_interval_s``;
2. raised to the server's hints, which say "don't come back before": the feed's own ``ttl`` /
   ``sy:updatePeriod`` (``ttl_s``), ``Cache-Control: max-age`` / ``s-maxage`` and ``Expires``;
3. bounded to ``[min_interval_s, max_interval_s]`` (a hint of one year does not stop polling);
4. spread by ``± jitter_fraction`` (never below ``min_interval_s``) so feeds added together drift apart.

After an error (including 410 Gone) the delay is ``error_backoff_base_s * 2**(streak-1)`` capped at
``error_backoff_cap_s``, raised to ``Retry-After`` (itself bounded by ``max(cap, max_interval_s)``),
then jittered. A feed is never abandoned: it keeps being retried at the cap rate, a gone feed too, so
the operator sees it in the health report and a feed that comes back is picked up again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from newswatch.settings import Settings

SUCCESS_STATUSES = frozenset({"ok", "not_modified", "unchanged"})
ENTRY_MEMORY = 500
"""How many recent ``(entry_id, content_hash)`` pairs a feed remembers."""
EWMA_ALPHA = 0.3
"""Weight of the newest sample in the publishing-rate EWMA."""


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the scheduler knows about one feed; stored by the service, changed by ``apply_outcome``."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    last_fetch_at: datetime | None = None
    last_success_at: datetime | None = None
    next_check_at: datetime | None = None
    error_streak: int = 0
    first_error_at: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    gone: bool = False
    interval_s: int | None = None
    """Configured interval for this feed; ``None`` lets the scheduler adapt."""
    observed_interval_s: float | None = None
    """Estimated seconds between new entries (inverse of an EWMA of the publishing rate)."""
    ttl_s: int | None = None
    """The feed's own hint (RSS ``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``), in seconds."""
    entry_hashes: tuple[tuple[str, str], ...] = ()
    """Recent ``(entry_id, content_hash)`` pairs, newest first, at most ``ENTRY_MEMORY``."""


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    default_interval_s: int = 900
    min_interval_s: int = 300
    max_interval_s: int = 86_400
    error_backoff_base_s: int = 60
    error_backoff_cap_s: int = 6 * 3600
    jitter_fraction: float = 0.1
    unhealthy_after_s: int = 24 * 3600

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s:
            raise ValueError(
                f"SchedulePolicy: need 0 < min_interval_s ({self.min_interval_s}) "
                f"<= max_interval_s ({self.max_interval_s})"
            )
        if not 0 <= self.jitter_fraction < 1:
            raise ValueError(f"SchedulePolicy: jitter_fraction must be in [0, 1), got {self.jitter_fraction}")
        if self.error_backoff_base_s <= 0 or self.error_backoff_cap_s < self.error_backoff_base_s:
            raise ValueError("SchedulePolicy: need 0 < error_backoff_base_s <= error_backoff_cap_s")

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulePolicy:
        return cls(
            default_interval_s=settings.default_interval_s,
            min_interval_s=settings.min_interval_s,
            max_interval_s=settings.max_interval_s,
            error_backoff_base_s=settings.error_backoff_base_s,
            error_backoff_cap_s=settings.error_backoff_cap_s,
            jitter_fraction=settings.jitter_fraction,
            unhealthy_after_s=settings.unhealthy_after_s,
        )


class Outcome(Protocol):
    """What the schedule needs from a fetch result (``ingest.fetch.FetchOutcome`` satisfies it)."""

    @property
    def status(self) -> str: ...
    @property
    def http_status(self) -> int | None: ...
    @property
    def etag(self) -> str | None: ...
    @property
    def last_modified(self) -> str | None: ...
    @property
    def content_hash(self) -> str | None: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def permanent_redirect(self) -> str | None: ...
    @property
    def retry_after(self) -> datetime | None: ...
    @property
    def error(self) -> str | None: ...


# --------------------------------------------------------------------------------------------- headers


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:  # pragma: no cover - older Pythons returned None
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """``Retry-After`` as an absolute time: delta-seconds or an HTTP date; a date in the past means now.

    Returns ``None`` for a missing or unreadable value (including negative seconds).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    when = _http_date(value)
    if when is None:
        return None
    return max(when, now)


def _directives(cache_control: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in cache_control.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = arg.strip().strip('"') if arg else None
    return out


def cache_lifetime(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """How long the response says it stays fresh; ``None`` when it says nothing.

    ``no-cache``/``no-store`` → zero. ``max-age`` wins over ``s-maxage`` (we are a private cache; a
    shared-cache lifetime is used only when it is the only one given), both win over ``Expires``.
    ``Expires`` is measured from the response's ``Date`` when present (clock skew), else from ``now``;
    an unreadable or past ``Expires`` means already stale (zero).
    """
    h = _lower(headers)
    cc = _directives(h.get("cache-control", ""))
    if "no-cache" in cc or "no-store" in cc:
        return timedelta(0)
    for name in ("max-age", "s-maxage"):
        arg = cc.get(name)
        if arg is not None and arg.isdigit():
            return timedelta(seconds=int(arg))
    expires = h.get("expires")
    if expires is None:
        return None
    when = _http_date(expires)
    if when is None:
        return timedelta(0)
    date = _http_date(h["date"]) if "date" in h else None
    return max(when - (date or now), timedelta(0))


# --------------------------------------------------------------------------------------------- schedule


def _jitter(seconds: float, policy: SchedulePolicy, rng: random.Random) -> float:
    j = policy.jitter_fraction
    return seconds * (1.0 + rng.uniform(-j, j)) if j else seconds


def base_interval(state: FeedState, policy: SchedulePolicy) -> float:
    """Configured interval, else the observed publishing interval, else the default (no hints, no bounds)."""
    if state.interval_s is not None:
        return float(state.interval_s)
    if state.observed_interval_s is not None:
        return state.observed_interval_s
    return float(policy.default_interval_s)


def success_interval(
    state: FeedState, headers: Mapping[str, str], now: datetime, policy: SchedulePolicy
) -> float:
    """Seconds until the next check after a success, bounded but before jitter."""
    seconds = base_interval(state, policy)
    if state.ttl_s is not None:
        seconds = max(seconds, float(state.ttl_s))
    lifetime = cache_lifetime(headers, now)
    if lifetime is not None:
        seconds = max(seconds, lifetime.total_seconds())
    return min(max(seconds, float(policy.min_interval_s)), float(policy.max_interval_s))


def error_delay(streak: int, retry_after: datetime | None, now: datetime, policy: SchedulePolicy) -> float:
    """Seconds until the retry after the ``streak``-th consecutive error, before jitter."""
    exponent = max(streak, 1) - 1
    # 2**exponent overflows float for absurd streaks; the cap is reached long before.
    cap = float(policy.error_backoff_cap_s)
    seconds = cap if exponent > 62 else min(policy.error_backoff_base_s * 2.0**exponent, cap)
    if retry_after is not None:
        ceiling = float(max(policy.error_backoff_cap_s, policy.max_interval_s))
        seconds = max(seconds, min((retry_after - now).total_seconds(), ceiling))
    return seconds


def next_check(
    now: datetime, state: FeedState, outcome: Outcome, policy: SchedulePolicy, rng: random.Random
) -> datetime:
    """When to fetch again. ``state`` is the state *after* the outcome was folded in (see ``apply_outcome``,
    which calls this): its ``error_streak`` already counts this error, its ``ttl_s`` and
    ``observed_interval_s`` already include what this fetch taught us.
    """
    if outcome.status in SUCCESS_STATUSES:
        seconds = _jitter(success_interval(state, outcome.headers, now, policy), policy, rng)
        seconds = max(seconds, float(policy.min_interval_s))
    elif outcome.status == "gone":
        seconds = _jitter(float(policy.error_backoff_cap_s), policy, rng)
    else:
        seconds = _jitter(error_delay(state.error_streak, outcome.retry_after, now, policy), policy, rng)
        if outcome.retry_after is not None:  # jitter must not bring us back before the server allows
            seconds = max(seconds, (outcome.retry_after - now).total_seconds())
    return now + timedelta(seconds=seconds)


def _update_rate(state: FeedState, now: datetime, new_entries: int, policy: SchedulePolicy) -> float | None:
    """Fold one observation into the publishing-rate EWMA; returns the new estimated interval.

    Each successful check after the first is one sample ``new_entries / seconds since the previous
    success``; we average rates (not gaps) so a feed polled every 5 min that publishes every 10 min
    (samples 1, 0, 1, 0 ...) converges on 10 min. The first check has no window (its entries are the
    backlog) and is not a sample. The interval is stored capped at ``max_interval_s``: a feed silent
    for longer than that cannot be polled less often anyway.
    """
    if state.last_success_at is None:
        return state.observed_interval_s
    window = (now - state.last_success_at).total_seconds()
    if window <= 0:
        return state.observed_interval_s
    sample = max(new_entries, 0) / window
    cap = float(policy.max_interval_s)
    if state.observed_interval_s is None:
        rate = sample
    else:
        rate = EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * (1.0 / max(state.observed_interval_s, 1e-9))
    if rate <= 0 or not math.isfinite(rate):
        return cap
    return min(1.0 / rate, cap)


def apply_outcome(
    state: FeedState,
    outcome: Outcome,
    now: datetime,
    policy: SchedulePolicy,
    rng: random.Random,
    *,
    new_entries: int = 0,
    feed_ttl_s: int | None = None,
    update_period_s: int | None = None,
) -> FeedState:
    """The state after one fetch: validators, hash, error streak, rate estimate, next check.

    ``new_entries`` is how many entries the pipeline found new (0 for 304/unchanged); ``feed_ttl_s`` and
    ``update_period_s`` come from the parsed feed (only meaningful with status ``ok``; for 304/unchanged
    the stored ``ttl_s`` is kept). A permanent redirect moves ``url`` to the new address; the service
    compares ``new.url != old.url`` to update its stored feed URL.
    """
    if outcome.status in SUCCESS_STATUSES:
        ttl = state.ttl_s
        if outcome.status == "ok":
            hints = [v for v in (feed_ttl_s, update_period_s) if v is not None and v > 0]
            ttl = max(hints) if hints else None
        new = replace(
            state,
            last_fetch_at=now,
            last_status=outcome.http_status,
            url=outcome.permanent_redirect or state.url,
            etag=outcome.etag or state.etag,
            last_modified=outcome.last_modified or state.last_modified,
            content_hash=outcome.content_hash or state.content_hash,
            last_success_at=now,
            error_streak=0,
            first_error_at=None,
            last_error=None,
            gone=False,
            ttl_s=ttl,
            observed_interval_s=_update_rate(state, now, new_entries, policy),
        )
    else:
        new = replace(
            state,
            last_fetch_at=now,
            last_status=outcome.http_status,
            error_streak=state.error_streak + 1,
            first_error_at=state.first_error_at or now,
            last_error=outcome.error or outcome.status,
            gone=outcome.status == "gone",
        )
    return replace(new, next_check_at=next_check(now, new, outcome, policy, rng))


def is_unhealthy(state: FeedState, now: datetime, policy: SchedulePolicy) -> bool:
    """A gone feed at once; any other feed once it has been failing for ``unhealthy_after_s`` or more."""
    if state.gone:
        return True
    if state.first_error_at is None:
        return False
    return (now - state.first_error_at).total_seconds() >= policy.unhealthy_after_s


# --------------------------------------------------------------------------------------------- entries


def new_or_changed(entries: Sequence[tuple[str, str]], state: FeedState) -> set[str]:
    """Ids of the entries whose ``(id, content_hash)`` the feed has not seen: new ones and edited ones."""
    known = set(state.entry_hashes)
    return {entry_id for entry_id, digest in entries if (entry_id, digest) not in known}


def remember_entries(
    state: FeedState, entries: Sequence[tuple[str, str]], limit: int = ENTRY_MEMORY
) -> FeedState:
    """Record the entries just seen (newest hash per id wins), keeping at most ``limit`` pairs."""
    seen: dict[str, str] = {}
    for entry_id, digest in entries:
        seen.setdefault(entry_id, digest)
    merged = list(seen.items())
    for entry_id, digest in state.entry_hashes:
        if entry_id not in seen:
            seen[entry_id] = digest
            merged.append((entry_id, digest))
    return replace(state, entry_hashes=tuple(merged[:limit]))
