"""One alert cycle, Elasticsearch side: match, log (exactly once per rule and story), dispatch to the outbox.

1. **Match.** Every enabled rule runs as one search of an ``_msearch`` (batched by ``batch_size``) over the
   articles whose ``indexed_at`` is in ``[watermark, now - safety_margin)``: indexing time, not publication
   time, so a late-arriving article is still seen; the margin trails Elasticsearch's refresh. The query is
   ``index.query.build_es_query`` of the rule: what you search is what you are alerted on. A rule whose page
   is full is paged with ``search_after`` in the next round of the same cycle.
2. **Log.** Each hit becomes an alert-log doc with ``_id = hash(rule, story_id or article id)``, written
   with ``op_type=create``: a 409 means this rule already alerted on this story (a syndicated copy, an
   overlapping window, another worker) and nothing more happens. Then the watermarks move to the upper bound.
3. **Dispatch.** Held log entries are grouped into messages (``alerts.digest.plan_dispatch``: instant,
   throttled/folded, digest). Each entry is moved ``held -> assigned`` with ``if_seq_no`` (two workers
   cannot both take it), the outbox docs are created (before any send), then the entries are marked ``sent``.
   Entries stuck in ``assigned`` (a crash between the two writes) are recovered after a grace period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from alerts.digest import plan_dispatch
from alerts.feedhealth import Incident, health_events, read_feeds
from alerts.render import article_item, build_message, feed_item, rule_summary
from alerts.rules import FEED_HEALTH_RULE_ID, AlertRule, Channels, FeedHealthRule
from alerts.store import AlertStore, digest_id, iso, log_id, parse_iso
from index.client import storage_errors
from index.query import build_es_query
from newswatch.errors import QueryError

log = structlog.get_logger(__name__)

SOURCE_FIELDS = [
    "id",
    "title",
    "summary",
    "content",
    "url",
    "source",
    "language",
    "published_at",
    "indexed_at",
    "topics.id",
    "story_id",
]
ASSIGN_GRACE = timedelta(minutes=2)


@dataclass
class CycleReport:
    rules: int = 0
    searches: int = 0
    msearch_requests: int = 0
    es_took_ms: int = 0
    hits: int = 0
    new_matches: int = 0
    duplicates: int = 0
    messages: int = 0
    outbox_created: int = 0
    feed_events: int = 0
    errors: list[str] = field(default_factory=list)
    match_s: float = 0.0
    dispatch_s: float = 0.0
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _search_body(
    rule: AlertRule, lower: datetime, upper: datetime, size: int, after: list[Any] | None
) -> dict[str, Any]:
    req = rule.search_request(indexed_since=lower, indexed_until=upper)
    body: dict[str, Any] = {
        "query": build_es_query(req),
        "size": size,
        "sort": [{"indexed_at": "asc"}, {"id": "asc"}],
        "_source": SOURCE_FIELDS,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = after
    return body


class Evaluator:
    """Match + log + dispatch. Synchronous (Elasticsearch client); call it in a thread from async code."""

    def __init__(
        self,
        store: AlertStore,
        safety_margin_s: float,
        worker_id: str,
        page_size: int = 100,
        batch_size: int = 250,
        max_rounds: int = 50,
    ) -> None:
        self.store = store
        self.margin = timedelta(seconds=safety_margin_s)
        self.worker_id = worker_id
        self.page_size = page_size
        self.batch_size = batch_size
        self.max_rounds = max_rounds

    # --- 1 + 2: match and log ----------------------------------------------------------------

    def evaluate(self, rules: Sequence[AlertRule], now: datetime, report: CycleReport) -> None:
        active = [r for r in rules if r.enabled]
        report.rules = len(active)
        if not active:
            return
        upper = now - self.margin
        upper = upper.replace(microsecond=upper.microsecond // 1000 * 1000)  # ES dates are in ms
        marks = self.store.watermarks(r.id for r in active)
        new_marks: dict[str, datetime] = {}
        todo: list[tuple[AlertRule, datetime, list[Any] | None]] = []
        for r in active:
            lower = marks.get(r.id)
            if lower is None:
                new_marks[r.id] = upper  # a new rule starts now (back-test history with `alerts test`)
            elif lower < upper:
                todo.append((r, lower, None))
        failed: set[str] = set()
        entries: list[tuple[str, dict[str, Any]]] = []
        rounds = 0
        while todo and rounds < self.max_rounds:
            rounds += 1
            again: list[tuple[AlertRule, datetime, list[Any] | None]] = []
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start : start + self.batch_size]
                again += self._run_batch(batch, upper, now, report, entries, failed)
            todo = again
        for r, _lower, _after in todo:  # still paging after max_rounds: resume from here next cycle
            failed.add(r.id)
        self._write_log(entries, report)
        for r, lower, _ in ((r, marks.get(r.id), None) for r in active):
            if lower is not None and r.id not in failed and lower < upper:
                new_marks[r.id] = upper
        self.store.set_watermarks(new_marks, now)

    def _run_batch(
        self,
        batch: list[tuple[AlertRule, datetime, list[Any] | None]],
        upper: datetime,
        now: datetime,
        report: CycleReport,
        entries: list[tuple[str, dict[str, Any]]],
        failed: set[str],
    ) -> list[tuple[AlertRule, datetime, list[Any] | None]]:
        searches: list[dict[str, Any]] = []
        sent: list[tuple[AlertRule, datetime, list[Any] | None]] = []
        for r, lower, after in batch:
            try:
                body = _search_body(r, lower, upper, self.page_size, after)
            except QueryError as exc:
                report.errors.append(f"rule {r.id}: {exc}")
                failed.add(r.id)
                continue
            searches.append({"index": self.store.names.articles})
            searches.append(body)
            sent.append((r, lower, after))
        if not sent:
            return []
        with storage_errors(self.store.es, f"_msearch on {self.store.names.articles}"):
            resp = self.store.es.msearch(searches=searches)
        report.msearch_requests += 1
        report.searches += len(sent)
        again: list[tuple[AlertRule, datetime, list[Any] | None]] = []
        for (r, lower, _after), res in zip(sent, resp.body["responses"], strict=True):
            if "error" in res:
                reason = (
                    res["error"].get("reason", res["error"])
                    if isinstance(res["error"], dict)
                    else res["error"]
                )
                report.errors.append(f"rule {r.id}: search failed: {reason}")
                failed.add(r.id)
                continue
            report.es_took_ms += int(res.get("took", 0))
            hits = res["hits"]["hits"]
            report.hits += len(hits)
            for h in hits:
                src = h["_source"]
                story = src.get("story_id") or src.get("id") or h["_id"]
                entries.append(
                    (
                        log_id(r.id, story),
                        {
                            "rule_id": r.id,
                            "story_id": story,
                            "article_id": src.get("id", h["_id"]),
                            "kind": "article",
                            "state": "held",
                            "matched_at": iso(now),
                            "indexed_at": src.get("indexed_at"),
                            "item": article_item(src, r),
                        },
                    )
                )
            if len(hits) >= self.page_size:
                again.append((r, lower, hits[-1]["sort"]))
        return again

    def _write_log(self, entries: list[tuple[str, dict[str, Any]]], report: CycleReport) -> None:
        for start in range(0, len(entries), 1000):
            created, dupes = self.store.create_log_entries(entries[start : start + 1000])
            report.new_matches += len(created)
            report.duplicates += dupes

    # --- feed health -------------------------------------------------------------------------

    def feed_health(self, rule: FeedHealthRule, now: datetime, report: CycleReport) -> None:
        if not rule.enabled:
            return
        incidents = [
            Incident(h["_id"], h["_source"]["feed_url"], h["_source"]["incident"])
            for h in self.store.open_incidents()
        ]
        feeds = read_feeds(self.store.es, self.store.names.feeds)
        events = health_events(feeds, incidents, rule.threshold, now)
        entries: list[tuple[str, dict[str, Any]]] = []
        for feed, since in events.failing:
            url = str(feed.get("url", ""))
            entries.append(
                (
                    digest_id("feed-down", url, since),
                    {
                        "rule_id": FEED_HEALTH_RULE_ID,
                        "story_id": f"down:{url}:{since}",
                        "article_id": "",
                        "kind": "feed-down",
                        "state": "held",
                        "matched_at": iso(now),
                        "feed_url": url,
                        "incident": since,
                        "recovered": False,
                        "item": feed_item(feed, "failing", since, now),
                    },
                )
            )
        for feed, inc in events.recovered:
            entries.append(
                (
                    digest_id("feed-up", inc.feed_url, inc.since),
                    {
                        "rule_id": FEED_HEALTH_RULE_ID,
                        "story_id": f"up:{inc.feed_url}:{inc.since}",
                        "article_id": "",
                        "kind": "feed-up",
                        "state": "held",
                        "matched_at": iso(now),
                        "feed_url": inc.feed_url,
                        "incident": inc.since,
                        "item": feed_item(feed, "recovered", inc.since, now),
                    },
                )
            )
        if entries:
            created, dupes = self.store.create_log_entries(entries)
            report.feed_events += len(created)
            report.duplicates += dupes
        for _feed, inc in events.recovered:
            self.store.close_incident(inc.log_doc_id)

    # --- 3: dispatch -------------------------------------------------------------------------

    def dispatch(
        self, rules: Sequence[AlertRule], feed_rule: FeedHealthRule | None, now: datetime, report: CycleReport
    ) -> None:
        self.store.refresh(self.store.names.log)
        by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for h in self.store.pending_log():
            by_rule[h["_source"]["rule_id"]].append(h)
        rules_by_id = {r.id: r for r in rules}
        planned: list[_Group] = []
        for rule_id, hits in by_rule.items():
            held = [h for h in hits if h["_source"]["state"] == "held"]
            stuck = [h for h in hits if h["_source"]["state"] == "assigned"]
            if rule_id == FEED_HEALTH_RULE_ID:
                if feed_rule is None:
                    continue
                summary = rule_summary(None, FEED_HEALTH_RULE_ID, "Feed health")
                self._recover(stuck, feed_rule.channels, summary, "feed-health", now, report)
                if held:
                    planned.append(_Group(rule_id, held, feed_rule.channels, summary, "feed-health", 0))
                continue
            rule = rules_by_id.get(rule_id)
            if rule is None or not rule.enabled:
                continue  # kept held: a rule disabled for a while picks up where it was
            summary = rule_summary(rule, rule.id)
            self._recover(stuck, rule.channels, summary, rule.mode, now, report)
            if held:
                planned += self._plan_rule(rule, held, summary, now)
        sent = self._send_groups(planned, now, report)
        for rule_id, n in sent.items():
            rule = rules_by_id.get(rule_id)
            if rule is not None and _stateful(rule):
                self._record_sends(rule, n, now)

    def _plan_rule(
        self, rule: AlertRule, held: list[dict[str, Any]], summary: dict[str, Any], now: datetime
    ) -> list[_Group]:
        sends: list[datetime] = []
        last_digest: datetime | None = None
        if _stateful(rule):  # throttle/digest bookkeeping; plain instant rules need none
            state, _ = self.store.get_throttle(rule.id)
            if state is None:
                state = {"sends": [], "last_digest_at": iso(now), "seq": 0, "updated_at": iso(now)}
                self.store.put_throttle(rule.id, state, None)
                state, _ = self.store.get_throttle(rule.id)
                if state is None:
                    return []
            sends = [d for d in (parse_iso(s) for s in state.get("sends") or []) if d is not None]
            last_digest = parse_iso(state.get("last_digest_at"))
        held.sort(key=lambda h: (h["_source"]["matched_at"], h["_id"]))
        cycle_start = iso(now)
        carried = sum(1 for h in held if h["_source"]["matched_at"] < cycle_start)
        plan = plan_dispatch(rule, len(held), sends, last_digest, now, n_carried=carried)
        kind = "digest" if rule.mode == "digest" else "instant"
        return [
            _Group(rule.id, [held[i] for i in group], rule.channels, summary, kind, folded)
            for group, folded in zip(plan.messages, plan.folded, strict=True)
        ]

    def _record_sends(self, rule: AlertRule, n: int, now: datetime) -> None:
        for _ in range(10):
            state, version = self.store.get_throttle(rule.id)
            state = dict(state or {})
            recent = [
                s for s in state.get("sends") or [] if (p := parse_iso(s)) and now - p < timedelta(hours=1)
            ]
            state["sends"] = recent + [iso(now)] * n
            state["seq"] = int(state.get("seq") or 0) + n
            state["updated_at"] = iso(now)
            if rule.mode == "digest":
                state["last_digest_at"] = iso(now)
            if self.store.put_throttle(rule.id, state, version):
                return
        log.warning("alerts.throttle.contended", rule=rule.id)

    def _send_groups(self, groups: list[_Group], now: datetime, report: CycleReport) -> dict[str, int]:
        """Assign (conditionally) every planned group's entries, write the outbox, mark sent: 3 bulks."""
        if not groups:
            return {}
        pairs: list[tuple[dict[str, Any], str]] = []
        ids: list[str] = []
        for g in groups:
            mid = digest_id("msg", g.rule_id, self.worker_id, *sorted(h["_id"] for h in g.hits))
            ids.append(mid)
            pairs += [(h, mid) for h in g.hits]
        won = {h["_id"] for h in self.store.assign(pairs, now)}
        docs: list[tuple[str, dict[str, Any]]] = []
        taken_all: list[str] = []
        sent: dict[str, int] = defaultdict(int)
        for g, mid in zip(groups, ids, strict=True):
            taken = [h for h in g.hits if h["_id"] in won]
            if not taken:
                continue
            items = [h["_source"]["item"] for h in taken]
            msg = build_message(mid, g.kind, g.summary, items, max(0, min(g.folded, len(items) - 1)), now)
            docs += _outbox_docs(msg, g.rule_id, g.channels, now)
            taken_all += [h["_id"] for h in taken]
            sent[g.rule_id] += 1
            report.messages += 1
        for start in range(0, len(docs), 500):
            report.outbox_created += self.store.create_outbox(docs[start : start + 500])
        self.store.mark_sent(taken_all)
        return dict(sent)

    def _recover(
        self,
        stuck: list[dict[str, Any]],
        channels: Channels,
        summary: dict[str, Any],
        kind: str,
        now: datetime,
        report: CycleReport,
    ) -> None:
        """Entries assigned to a message whose outbox docs may never have been written (a crash)."""
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for h in stuck:
            at = parse_iso(h["_source"].get("assigned_at"))
            if at is not None and now - at >= ASSIGN_GRACE:
                groups[h["_source"]["outbox_message"]].append(h)
        for message_id, hits in groups.items():
            if not self.store.outbox_exists(message_id):
                items = [h["_source"]["item"] for h in hits]
                msg = build_message(message_id, kind, summary, items, 0, now)
                self._to_outbox(msg, summary["id"], channels, now, report)
                log.warning("alerts.dispatch.recovered", message=message_id, items=len(items))
            self.store.mark_sent([h["_id"] for h in hits])

    def _to_outbox(
        self, msg: dict[str, Any], rule_id: str, channels: Channels, now: datetime, report: CycleReport
    ) -> None:
        report.outbox_created += self.store.create_outbox(_outbox_docs(msg, rule_id, channels, now))


@dataclass(frozen=True)
class _Group:
    rule_id: str
    hits: list[dict[str, Any]]
    channels: Channels
    summary: dict[str, Any]
    kind: str
    folded: int


def _stateful(rule: AlertRule) -> bool:
    return rule.throttle is not None or rule.mode == "digest"


def _outbox_docs(
    msg: dict[str, Any], rule_id: str, channels: Channels, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """One delivery per channel: all email recipients together, one per webhook URL."""
    base = {
        "message_id": msg["message_id"],
        "rule_id": rule_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": iso(now),
        "created_at": iso(now),
        "updated_at": iso(now),
        "message": msg,
        "history": [],
    }
    docs: list[tuple[str, dict[str, Any]]] = []
    if channels.email:
        docs.append(
            (
                digest_id("out", msg["message_id"], "email"),
                {**base, "channel": "email", "target": list(channels.email)},
            )
        )
    for hook in channels.webhooks:
        docs.append(
            (
                digest_id("out", msg["message_id"], "webhook", hook.url),
                {**base, "channel": "webhook", "target": hook.url, "secret_env": hook.secret_env},
            )
        )
    return docs


# --- back-test (``newswatch alerts test``) -----------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    rule_id: str
    since: datetime
    until: datetime
    articles: int
    stories: int
    per_day: tuple[tuple[str, int, int], ...]  # (YYYY-MM-DD, articles, stories)
    examples: tuple[dict[str, Any], ...]  # alert items, as they would be sent


def backtest(
    store: AlertStore, rule: AlertRule, since: datetime, until: datetime, examples: int = 5
) -> Backtest:
    """Run ``rule`` over articles published in [since, until): matches per day and example alerts.

    Story counts (distinct ``story_id``) are what the rule would have sent: one alert per story.
    """
    req = rule.search_request(since=since, until=until)
    body: dict[str, Any] = {
        "query": build_es_query(req),
        "size": examples,
        "sort": [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        "_source": SOURCE_FIELDS,
        "collapse": {"field": "story_id"},
        "track_total_hits": True,
        "aggs": {
            "stories": {"cardinality": {"field": "story_id"}},
            "days": {
                "date_histogram": {
                    "field": "published_at",
                    "calendar_interval": "day",
                    "format": "yyyy-MM-dd",
                    "min_doc_count": 0,
                },
                "aggs": {"stories": {"cardinality": {"field": "story_id"}}},
            },
        },
    }
    with storage_errors(store.es, f"back-test of {rule.id} on {store.names.articles}"):
        resp = store.es.search(index=store.names.articles, **body)
    aggs = resp.body["aggregations"]
    per_day = tuple(
        (b["key_as_string"], int(b["doc_count"]), int(b["stories"]["value"])) for b in aggs["days"]["buckets"]
    )
    items = tuple(article_item(h["_source"], rule) for h in resp.body["hits"]["hits"])
    return Backtest(
        rule.id,
        since,
        until,
        int(resp.body["hits"]["total"]["value"]),
        int(aggs["stories"]["value"]),
        per_day,
        items,
    )
