"""CLI subcommands, one module per area. Each module exposes ``register(group: click.Group)``.

``newswatch.cli`` imports the modules listed in ``COMMAND_MODULES``; a module that is missing
is skipped so areas can land independently.
"""

COMMAND_MODULES = (
    "ingest",  # newswatch ingest
    "index",  # newswatch index init|status
    "search",  # newswatch search
    "tag",  # newswatch tag, newswatch topics test
    "feeds",  # newswatch feeds ..., newswatch fetch --once
    "run",  # newswatch run (the service)
    "alerts",  # newswatch alerts ...
    "api",  # newswatch api (HTTP API alone)
)
