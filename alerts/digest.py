"""When a rule's held matches go out (pure): digest schedule boundaries and throttle folding.

Both modes share one mechanism: a match is logged ``held``; the dispatcher asks ``plan_dispatch`` what to
send now. Instant rules send one message per story while the throttle allows, and when the hour's budget
is about to run out the last allowed message carries every remaining story ("folded"); with no budget
left the matches stay held and are folded into the next message. Digest rules send everything held, in
one message, once per period boundary (hourly, or daily at HH:MM in the rule's time zone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.rules import AlertRule, DigestSchedule

HOUR = timedelta(hours=1)


def last_boundary(schedule: DigestSchedule, now: datetime) -> datetime:
    """The most recent scheduled digest time at or before ``now`` (UTC), DST-aware via zoneinfo."""
    local = now.astimezone(schedule.zone)
    if schedule.every == "hourly":
        b = local.replace(minute=0, second=0, microsecond=0)
        return b.astimezone(UTC)
    at = schedule.at_time
    candidate = datetime.combine(local.date(), at, tzinfo=schedule.zone)
    if candidate > local:
        candidate = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=schedule.zone)
    return candidate.astimezone(UTC)


def digest_due(schedule: DigestSchedule, last_sent: datetime | None, now: datetime) -> bool:
    """A digest is due when a boundary passed since the last one was sent (or since the rule appeared)."""
    if last_sent is None:
        return False
    return last_boundary(schedule, now) > last_sent


@dataclass(frozen=True)
class Plan:
    """Messages to send now: each a tuple of item indexes; ``folded`` counts items carried by throttling."""

    messages: tuple[tuple[int, ...], ...]
    folded: tuple[int, ...]


def budget(max_per_hour: int | None, sends: Sequence[datetime], now: datetime) -> int | None:
    if max_per_hour is None:
        return None
    recent = sum(1 for s in sends if now - s < HOUR)
    return max(0, max_per_hour - recent)


def plan_dispatch(
    rule: AlertRule,
    n_items: int,
    sends: Sequence[datetime],
    last_digest: datetime | None,
    now: datetime,
    n_carried: int = 0,
) -> Plan:
    """How to group ``n_items`` held items into messages now.

    Items are oldest first; the first ``n_carried`` were held back earlier (by the throttle) and go out
    together in one message. ``folded`` of a message = its items beyond the first.
    """
    if n_items == 0:
        return Plan((), ())
    left = budget(rule.throttle.max_per_hour if rule.throttle else None, sends, now)
    if left == 0:
        return Plan((), ())
    if rule.mode == "digest":
        if not digest_due(rule.schedule, last_digest, now):
            return Plan((), ())
        return Plan((tuple(range(n_items)),), (0,))
    if left is None:  # no throttle: one message per story, whenever it was matched
        return Plan(tuple((i,) for i in range(n_items)), tuple(0 for _ in range(n_items)))
    carried = min(n_carried, n_items)
    groups: list[tuple[int, ...]] = [tuple(range(carried))] if carried else []
    groups += [(i,) for i in range(carried, n_items)]
    if len(groups) > left:
        merged = tuple(i for g in groups[left - 1 :] for i in g)
        groups = [*groups[: left - 1], merged]
    return Plan(tuple(groups), tuple(len(g) - 1 for g in groups))
