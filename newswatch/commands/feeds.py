"""``newswatch feeds list|status|add|remove|import-opml|export-opml`` and ``newswatch fetch --once``.

The feeds index in Elasticsearch is the source of truth; every command first syncs ``config/feeds.yaml``
into it (idempotent), so what it shows is what the service fetches. Feeds added here are checked against
private addresses (``newswatch.netguard``) unless ``allow_private_feeds`` is set.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from index.client import make_client
from index.feedstate import FeedRecord, FeedStore
from ingest.feeds import FeedConfig, parse_opml, to_opml, validate_feed
from ingest.schedule import SchedulePolicy, is_unhealthy
from newswatch import netguard
from newswatch.cli import AppContext, pass_app
from newswatch.errors import ConfigError, NewswatchError
from newswatch.service import FeedUpdate, PollReport, Service, load_feed_file
from newswatch.settings import Settings


def open_store(settings: Settings, *, sync: bool = True) -> FeedStore:
    store = FeedStore(make_client(settings), settings.index_name("feeds"))
    store.ensure_index()
    if sync:
        store.sync_config(load_feed_file(settings), datetime.now(UTC))
    store.refresh()  # show what the workers wrote a moment ago
    return store


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _status_row(rec: FeedRecord, now: datetime, policy: SchedulePolicy) -> dict[str, Any]:
    s = rec.state
    return {
        "url": rec.url,
        "config_url": rec.feed.url,
        "name": rec.feed.display_name,
        "enabled": rec.feed.enabled,
        "origin": rec.origin,
        "last_status": s.last_status,
        "last_fetch_at": s.last_fetch_at.isoformat() if s.last_fetch_at else None,
        "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
        "next_check_at": s.next_check_at.isoformat() if s.next_check_at else None,
        "error_streak": s.error_streak,
        "last_error": s.last_error,
        "gone": s.gone,
        "unhealthy": is_unhealthy(s, now, policy),
        "leased_by": rec.lease_owner if rec.lease_until and rec.lease_until > now else None,
    }


def register(group: click.Group) -> None:
    @group.group("feeds")
    def feeds() -> None:
        """The feeds followed: list, state, add/remove, OPML import/export."""

    @feeds.command("list")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
    @pass_app
    def list_cmd(app: AppContext, as_json: bool) -> None:
        """Every feed with its configuration."""
        for rec in open_store(app.settings).all():
            f = rec.feed
            if as_json:
                row = {**f.model_dump(), "fetch_url": rec.url, "origin": rec.origin, "title": rec.title}
                click.echo(json.dumps(row, ensure_ascii=False, default=str))
                continue
            flags = [rec.origin]
            if not f.enabled:
                flags.append("disabled")
            if f.full_text:
                flags.append("full-text")
            extra = f" lang={f.language}" if f.language else ""
            extra += f" interval={f.interval_s}s" if f.interval_s else ""
            extra += f" tags={','.join(f.tags)}" if f.tags else ""
            click.echo(f"{f.url}  {f.display_name!r}{extra} [{' '.join(flags)}]")

    @feeds.command("status")
    @click.argument("url", required=False)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
    @click.option("--failing", is_flag=True, help="Only feeds with errors.")
    @pass_app
    def status_cmd(app: AppContext, url: str | None, as_json: bool, failing: bool) -> None:
        """Fetch state: last status, next check, error streak, last success and error."""
        store = open_store(app.settings)
        now = datetime.now(UTC)
        policy = SchedulePolicy.from_settings(app.settings)
        if url:
            rec = store.get(url)
            if rec is None:
                raise ConfigError(f"{url}: no such feed")
            records = [rec]
        else:
            records = list(store.all())
        bad = 0
        for rec in records:
            row = _status_row(rec, now, policy)
            bad += int(bool(row["unhealthy"]))
            if failing and not row["error_streak"]:
                continue
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
                continue
            s = rec.state
            health = "UNHEALTHY" if row["unhealthy"] else ("failing" if s.error_streak else "ok")
            if s.last_fetch_at is None:
                health = "new"
            line = (
                f"{health:9} {rec.url}  http={s.last_status or '-'} streak={s.error_streak} "
                f"last_ok={_when(s.last_success_at)} next={_when(s.next_check_at)}"
            )
            if s.last_error:
                line += f"\n          last error: {s.last_error}"
            click.echo(line)
        if not as_json:
            click.echo(f"{len(records)} feed(s), {bad} unhealthy", err=True)

    @feeds.command("add")
    @click.argument("url")
    @click.option("--name", default=None)
    @click.option("--interval", default=None, help="Seconds or 30s/15m/2h/1d (default: adaptive).")
    @click.option("--lang", "language", default=None, help="Language hint, e.g. fr.")
    @click.option("--tag", "tags", multiple=True, help="Repeatable.")
    @click.option("--full-text", is_flag=True, help="Also fetch each article's page.")
    @pass_app
    def add_cmd(
        app: AppContext,
        url: str,
        name: str | None,
        interval: str | None,
        language: str | None,
        tags: tuple[str, ...],
        full_text: bool,
    ) -> None:
        """Follow a new feed (refused if its host is a private address, unless allowed)."""
        data: dict[str, Any] = {"url": url, "name": name, "language": language, "tags": list(tags)}
        data.update({"interval": interval, "full_text": full_text})
        try:
            feed = validate_feed(data)
        except ConfigError as exc:
            raise ConfigError(f"{url}: {exc}") from None
        netguard.check_feed_url(feed.url, allow_private=app.settings.allow_private_feeds)
        rec = open_store(app.settings).add(feed, datetime.now(UTC))
        click.echo(f"added {rec.feed.url} ({rec.feed.display_name}); it is due now")

    @feeds.command("remove")
    @click.argument("url")
    @pass_app
    def remove_cmd(app: AppContext, url: str) -> None:
        """Stop following a feed added at run time (feeds from feeds.yaml are removed there)."""
        rec = open_store(app.settings).remove(url)
        click.echo(f"removed {rec.feed.url}")

    @feeds.command("import-opml")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_app
    def import_cmd(app: AppContext, file: Path) -> None:
        """Add every feed of an OPML file (category folders become tags). Exit 1 if some were refused."""
        result = parse_opml(file.read_bytes(), str(file))
        problems = list(result.errors)
        store = open_store(app.settings)
        added = skipped = 0
        now = datetime.now(UTC)
        for feed in result.feeds:
            try:
                netguard.check_feed_url(feed.url, allow_private=app.settings.allow_private_feeds)
                if store.get(feed.url) is not None:
                    skipped += 1
                    continue
                store.add(feed, now)
                added += 1
            except ConfigError as exc:
                problems.append(str(exc))
        for problem in problems:
            click.echo(f"newswatch: {problem}", err=True)
        click.echo(f"imported {added} feed(s) from {file}; {skipped} already known; {len(problems)} refused")
        if problems:
            sys.exit(1)

    @feeds.command("export-opml")
    @click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @pass_app
    def export_cmd(app: AppContext, file: Path | None) -> None:
        """Every feed as OPML 2.0, to FILE or stdout."""
        records = list(open_store(app.settings).all())
        feeds_: list[FeedConfig] = [r.feed.model_copy(update={"url": r.url}) for r in records]
        sites = {r.url: r.site_url for r in records if r.site_url}
        text = to_opml(feeds_, now=datetime.now(UTC), html_urls=sites)
        if file is None:
            click.echo(text, nl=False)
        else:
            file.write_text(text, encoding="utf-8")
            click.echo(f"exported {len(feeds_)} feed(s) to {file}", err=True)

    @group.command("fetch")
    @click.option("--once", is_flag=True, required=True, help="Fetch what is due once, then exit.")
    @click.option("--feed", "feed_url", default=None, help="Only this feed, due or not.")
    @click.option("--json", "as_json", is_flag=True, help="One JSON line per feed update.")
    @pass_app
    def fetch_cmd(app: AppContext, once: bool, feed_url: str | None, as_json: bool) -> None:
        """One poll: fetch every due feed (or one feed), index new articles. Exit 1 if some feed failed."""
        report = asyncio.run(_fetch_once(app.settings, feed_url, as_json))
        click.echo(report.summary(), err=as_json)
        if any(u.status == "error" for u in report.updates):
            sys.exit(1)


async def _fetch_once(settings: Settings, feed_url: str | None, as_json: bool) -> PollReport:
    service = Service(settings, make_client(settings))
    try:
        await service.start(schedule=False)
        if feed_url is not None:
            update = await service.fetch_now(feed_url)
            if update is None:
                raise NewswatchError(f"{feed_url}: being fetched by another worker right now")
            if as_json:
                _echo_update(update)
            return PollReport((update,))
        due = (await asyncio.to_thread(service.store.counts, service.clock(), service.policy)).due
        show_bar = sys.stderr.isatty() and not as_json and due > 0
        if not show_bar:
            return await service.poll_once(on_update=_echo_update if as_json else None)
        with click.progressbar(length=due, label="fetching", file=sys.stderr) as bar:
            return await service.poll_once(on_update=lambda u: bar.update(1))
    finally:
        await service.shutdown()


def _echo_update(update: FeedUpdate) -> None:
    click.echo(json.dumps({k: getattr(update, k) for k in update.__dataclass_fields__}, default=str))
