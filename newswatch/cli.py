"""The ``newswatch`` command. Settings are built once here and handed to every subcommand.

Exit status: 0 ok, 1 some source/item failed (the rest was processed), 2 usage or config error,
3 Elasticsearch unreachable.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import click

from newswatch.commands import COMMAND_MODULES
from newswatch.errors import ConfigError, StorageUnavailable
from newswatch.logs import configure_logging
from newswatch.settings import Settings, load_settings


@dataclass
class AppContext:
    """What every subcommand gets: the settings, built once."""

    settings: Settings


pass_app = click.make_pass_decorator(AppContext)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"newswatch: configuration error: {exc}", err=True)
            ctx.exit(2)
        except StorageUnavailable as exc:
            click.echo(f"newswatch: Elasticsearch unavailable: {exc}", err=True)
            ctx.exit(3)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", envvar="NEWSWATCH_LOG_LEVEL", default=None, help="DEBUG, INFO, WARNING...")
@click.pass_context
def main(ctx: click.Context, log_level: str | None) -> None:
    """newswatch: follow news feeds, tag and index what they publish, alert on what matters."""
    try:
        settings = load_settings(**({"log_level": log_level} if log_level else {}))
    except ConfigError as exc:
        click.echo(f"newswatch: configuration error: {exc}", err=True)
        ctx.exit(2)
    configure_logging(settings.log_level, settings.log_json)
    ctx.obj = AppContext(settings=settings)


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"newswatch.commands.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"newswatch.commands.{_name}":
            raise
        continue
    _module.register(main)
