"""``newswatch search QUERY``: search the articles index from the terminal (``--json``: one hit per line)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from index.client import make_client
from index.highlight import ANSI_BOLD, PLAIN, Markers
from index.query import SearchRequest, parse_since, parse_until
from index.search import Hit, SearchResult, search
from newswatch.cli import AppContext, pass_app
from newswatch.errors import QueryError


@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--topic", "topics", multiple=True, help="Only these topic ids (repeatable).")
@click.option("--lang", "languages", multiple=True, help="Only these languages (repeatable).")
@click.option("--source", "sources", multiple=True, help="Source name or domain (repeatable).")
@click.option("--entity", "entities", multiple=True, help="Only articles naming this entity id (repeatable).")
@click.option("--since", help="Published since: 7d, 12h, 30m, 2w or an ISO date/datetime.")
@click.option("--until", help="Published before (a bare date includes that day).")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--collapse", is_flag=True, help="One hit per story (near-duplicates folded).")
@click.option("--json", "as_json", is_flag=True, help="One JSON hit per line.")
@click.option("--facets", "show_facets", is_flag=True, help="Also print topic/language/source counts.")
@pass_app
def search_cmd(
    app: AppContext,
    query: tuple[str, ...],
    topics: tuple[str, ...],
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    entities: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    sort: str,
    collapse: bool,
    as_json: bool,
    show_facets: bool,
) -> None:
    """Search articles. QUERY: words, "phrases", AND/OR/NOT, -word, (groups), prefix*, title:word."""
    now = datetime.now(UTC)
    try:
        req = SearchRequest(
            query=" ".join(query),
            topics=topics,
            languages=languages,
            sources=sources,
            entities=entities,
            since=parse_since(since, now) if since else None,
            until=parse_until(until, now) if until else None,
            limit=limit,
            sort="date" if sort == "date" else "relevance",
            collapse_story=collapse,
        )
        markers: Markers = ANSI_BOLD if (sys.stdout.isatty() and not as_json) else PLAIN
        result = search(make_client(app.settings), app.settings.index_name("articles"), req, markers)
    except QueryError as exc:
        click.echo(f"newswatch: bad query: {exc}", err=True)
        raise SystemExit(2) from None
    if as_json:
        for hit in result.hits:
            click.echo(json.dumps(hit.to_dict(), ensure_ascii=False))
        return
    _print_human(result, show_facets)


def _print_hit(n: int, hit: Hit) -> None:
    date = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "no date"
    title_lines = hit.highlights.get("title") or [hit.title]
    click.echo(f"{n}. {title_lines[0]}")
    click.echo(f"   {hit.source_name or hit.source_domain} · {date} · {hit.language}")
    if hit.topics:
        topics = (f"{t.id} {t.score:g} ({', '.join(t.terms)})" for t in hit.topics)
        click.echo("   topics: " + ", ".join(topics))
    click.echo(f"   {hit.url}")
    snippets = hit.highlights.get("summary", []) + hit.highlights.get("content", [])
    if not snippets and hit.summary:
        snippets = [hit.summary[:200] + ("…" if len(hit.summary) > 200 else "")]
    for snip in snippets[:3]:
        click.echo("   > " + " ".join(snip.split()))


def _print_human(result: SearchResult, show_facets: bool) -> None:
    click.echo(f"{result.total} article(s)" + (f", showing {len(result.hits)}" if result.hits else ""))
    for n, hit in enumerate(result.hits, 1):
        click.echo()
        _print_hit(n, hit)
    if show_facets:
        click.echo()
        for name, buckets in result.facets.items():
            click.echo(f"{name}: " + ", ".join(f"{k} ({c})" for k, c in buckets))


def register(group: click.Group) -> None:
    group.add_command(search_cmd)
