"""``newswatch alerts list|test RULE|status|run --once``: keyword alerts from the terminal."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import click

from alerts.engine import AlertEngine, alerts_file
from alerts.evaluate import backtest
from alerts.rules import AlertRule, load_alert_config
from alerts.store import AlertStore, Names
from index.client import make_client
from index.query import parse_since
from newswatch.cli import AppContext, pass_app
from newswatch.errors import QueryError, RuleError


def _find_rule(app: AppContext, rule_id: str) -> AlertRule:
    config = load_alert_config(alerts_file(app.settings))
    for r in config.rules:
        if r.id == rule_id:
            return r
    store = AlertStore(make_client(app.settings), Names.of(app.settings))
    try:
        for r in store.load_rules():
            if r.id == rule_id:
                return r
    except Exception:  # the index may not exist yet: the file was the answer
        pass
    known = ", ".join(r.id for r in config.rules) or "none"
    raise RuleError(
        f"no alert rule {rule_id!r} in {alerts_file(app.settings)} or the rules index (known: {known})"
    )


@click.group("alerts")
def alerts_group() -> None:
    """Keyword alerts: rules in config/alerts.yaml (synced into Elasticsearch), email and webhooks."""


@alerts_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app: AppContext, as_json: bool) -> None:
    """The rules of config/alerts.yaml (validated), with their mode, throttle and channels."""
    config = load_alert_config(alerts_file(app.settings))
    if as_json:
        for r in config.rules:
            click.echo(json.dumps(r.model_dump(mode="json"), ensure_ascii=False))
        return
    for r in config.rules:
        mode = (
            r.mode
            if r.mode == "instant"
            else f"digest {r.schedule.every} {r.schedule.at} {r.schedule.timezone}"
        )
        throttle = f" · max {r.throttle.max_per_hour}/h" if r.throttle else ""
        chans = [*r.channels.email, *(w.url for w in r.channels.webhooks)]
        state = "enabled" if r.enabled else "disabled"
        click.echo(f"{r.id} ({state}) · {mode}{throttle}")
        click.echo(f"   query: {r.query or '-'}  filters: {_filters(r) or '-'}")
        click.echo(f"   to: {', '.join(chans)}")
    if config.feed_health is not None:
        fh = config.feed_health
        click.echo(f"feed-health ({'enabled' if fh.enabled else 'disabled'}) · failing for {fh.failing_for}")
    if not config.rules:
        click.echo(f"no rules in {alerts_file(app.settings)}")


def _filters(r: AlertRule) -> str:
    parts = [
        f"{k}={','.join(v)}"
        for k, v in (
            ("topics", r.topics),
            ("languages", r.languages),
            ("sources", r.sources),
            ("entities", r.entities),
        )
        if v
    ]
    return " ".join(parts)


@alerts_group.command("test")
@click.argument("rule_id")
@click.option("--since", default="7d", show_default=True, help="Published since: 7d, 12h, 2w or an ISO date.")
@click.option("--examples", type=click.IntRange(0, 50), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def test_cmd(app: AppContext, rule_id: str, since: str, examples: int, as_json: bool) -> None:
    """Back-test RULE on the index (enabled or not): matches per day and example alerts."""
    rule = _find_rule(app, rule_id)
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
        result = backtest(
            AlertStore(make_client(app.settings), Names.of(app.settings)), rule, start, now, examples
        )
    except QueryError as exc:
        click.echo(f"newswatch: {exc}", err=True)
        raise SystemExit(2) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "rule": rule.id,
                    "since": start.isoformat(),
                    "articles": result.articles,
                    "stories": result.stories,
                    "per_day": [{"day": d, "articles": a, "stories": s} for d, a, s in result.per_day],
                    "examples": list(result.examples),
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(
        f"rule {rule.id}: {result.articles} articles, {result.stories} stories (= alerts) "
        f"since {start:%Y-%m-%d %H:%M} UTC"
    )
    for day, arts, stories in result.per_day:
        click.echo(f"  {day}  {stories:5d} stories  {arts:5d} articles  {'#' * min(stories, 60)}")
    for n, it in enumerate(result.examples, 1):
        click.echo(f"{n}. {it['title']}")
        click.echo(f"   {it['source']['name']} · {it.get('published_at') or 'no date'} · {it['language']}")
        if it["snippet"]:
            click.echo(f"   {it['snippet']}")
        why = it["why"]
        click.echo(
            f"   why: terms {', '.join(why['terms']) or '-'}; topics {', '.join(why['topics']) or '-'}"
        )
        click.echo(f"   {it['url']}")


@alerts_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_cmd(app: AppContext, as_json: bool) -> None:
    """Outbox (pending, delivered, dead letters with their last error), held matches, watermarks."""
    store = AlertStore(make_client(app.settings), Names.of(app.settings))
    counts = store.outbox_counts()
    dead = store.outbox_docs("dead", limit=20)
    rules = store.load_rules()
    marks = store.watermarks(r.id for r in rules)
    held: dict[str, int] = {}
    for h in store.pending_log():
        held[h["_source"]["rule_id"]] = held.get(h["_source"]["rule_id"], 0) + 1
    out: dict[str, Any] = {
        "outbox": counts,
        "dead_letters": [
            {
                "id": d["_id"],
                "rule": d.get("rule_id"),
                "channel": d.get("channel"),
                "target": d.get("target"),
                "attempts": d.get("attempts"),
                "last_error": d.get("last_error"),
                "created_at": d.get("created_at"),
            }
            for d in dead
        ],
        "held": held,
        "watermarks": {k: v.isoformat() for k, v in marks.items()},
        "rules": {r.id: r.enabled for r in rules},
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    click.echo("outbox: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
    for d in out["dead_letters"]:
        click.echo(
            f"  DEAD {d['id'][:12]} rule={d['rule']} {d['channel']} {d['target']} "
            f"attempts={d['attempts']}: {d['last_error']}"
        )
    now = datetime.now(UTC)
    for rid, enabled in sorted(out["rules"].items()):
        wm = marks.get(rid)
        lag = f"{(now - wm).total_seconds():.0f}s behind" if wm else "not evaluated yet"
        click.echo(f"rule {rid}: {'enabled' if enabled else 'disabled'}, {lag}, held={held.get(rid, 0)}")


@alerts_group.command("run")
@click.option("--once", is_flag=True, required=True, help="One evaluation + delivery pass, then exit.")
@pass_app
def run_cmd(app: AppContext, once: bool) -> None:
    """Sync rules from config/alerts.yaml, evaluate every enabled rule once, deliver what is due."""

    async def go() -> dict[str, Any]:
        engine = AlertEngine(make_client(app.settings), app.settings)
        try:
            await engine.start()
            report = await engine.run_cycle()
            return {**report.as_dict(), **engine.metrics()}
        finally:
            await engine.aclose()

    out = asyncio.run(go())
    click.echo(json.dumps(out, ensure_ascii=False, default=str))
    if out.get("errors") or out.get("outbox_dead"):
        raise SystemExit(1)


def register(group: click.Group) -> None:
    group.add_command(alerts_group)
