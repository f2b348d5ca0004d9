"""``newswatch index init|status``: create the articles index (idempotent) and show where the alias points."""

from __future__ import annotations

import json

import click

from index.client import make_client
from index.setup import index_status, setup_indices
from newswatch.cli import AppContext, pass_app


@click.group("index")
def index_group() -> None:
    """Elasticsearch index management."""


@index_group.command("init")
@pass_app
def init_cmd(app: AppContext) -> None:
    """Create the index template, the versioned index and its alias (safe to run again)."""
    es = make_client(app.settings)
    report = setup_indices(es, app.settings)
    click.echo(f"Elasticsearch {app.settings.elasticsearch_url}")
    for line in report.actions:
        click.echo(f"  {line}")


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def status_cmd(app: AppContext, as_json: bool) -> None:
    """Show alias -> index and the number of articles."""
    es = make_client(app.settings)
    status = index_status(es, app.settings)
    alias = app.settings.index_name("articles")
    if status is None:
        if as_json:
            click.echo(json.dumps({"alias": alias, "exists": False}))
        else:
            click.echo(f"{alias}: missing (run `newswatch index init`)")
        raise SystemExit(1)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "alias": status.alias,
                    "exists": True,
                    "indices": list(status.indices),
                    "write_index": status.write_index,
                    "doc_count": status.doc_count,
                }
            )
        )
        return
    click.echo(f"{status.alias} -> {', '.join(status.indices)} (write index: {status.write_index})")
    click.echo(f"articles: {status.doc_count}")


def register(group: click.Group) -> None:
    group.add_command(index_group)
