"""Idempotent creation of the articles index: template, versioned index, alias.

Layout: a composable index template ``{prefix}-articles`` (patterns ``{prefix}-articles-v*``) holds the
settings and mapping; the concrete index ``{prefix}-articles-v1`` sits behind the alias
``{prefix}-articles`` (``settings.index_name("articles")``) with ``is_write_index``. Everything reads and
writes the alias, so a future ``-v2`` (incompatible mapping change) is a reindex plus an atomic alias swap.

Safe to run at every start and from several processes at once: putting the same template twice is a no-op,
"index already exists" is success, alias actions are idempotent, and the current mapping is pushed onto the
live index (additive changes apply; a conflicting one raises ``ConfigError`` asking for a new version).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from elasticsearch import BadRequestError, Elasticsearch

from index.client import api_error_reason, api_error_type, storage_errors
from index.mapping import MAPPING_VERSION, articles_mappings, articles_settings
from newswatch.errors import ConfigError
from newswatch.settings import Settings

log = structlog.get_logger(__name__)

TEMPLATE_PRIORITY = 200


@dataclass(frozen=True)
class SetupReport:
    """What ``setup_indices`` did: one line per object, ``created`` or ``found``/``updated``."""

    template: str
    index: str
    alias: str
    actions: tuple[str, ...]


def articles_index_name(settings: Settings, version: int = MAPPING_VERSION) -> str:
    return f"{settings.index_name('articles')}-v{version}"


def ensure_indices(es: Elasticsearch, settings: Settings) -> None:
    """Create (or confirm) template, index and alias. Idempotent and concurrency-safe."""
    setup_indices(es, settings)


def setup_indices(es: Elasticsearch, settings: Settings) -> SetupReport:
    alias = settings.index_name("articles")
    index = articles_index_name(settings)
    template = alias
    actions: list[str] = []
    with storage_errors(es, f"setting up {alias}"):
        existed = es.indices.exists_index_template(name=template).body
        es.indices.put_index_template(
            name=template,
            index_patterns=[f"{alias}-v*"],
            priority=TEMPLATE_PRIORITY,
            template={"settings": articles_settings(), "mappings": articles_mappings()},
            meta={"managed_by": "newswatch", "mapping_version": MAPPING_VERSION},
        )
        actions.append(f"template {template}: {'updated' if existed else 'created'}")

        if es.indices.exists(index=alias).body and not es.indices.exists_alias(name=alias).body:
            raise ConfigError(
                f"{alias} is a concrete index, not an alias (was something written before "
                f"`newswatch index init`?); delete or reindex it, then run init again"
            )

        created = False
        try:
            es.indices.create(
                index=index,
                aliases={alias: {"is_write_index": True}},
            )
            actions.append(f"index {index}: created (alias {alias} -> {index})")
            created = True
        except BadRequestError as exc:
            if api_error_type(exc) != "resource_already_exists_exception":
                raise ConfigError(f"cannot create index {index}: {api_error_reason(exc)}") from exc
            actions.append(f"index {index}: found")
            try:
                es.indices.put_mapping(index=index, **articles_mappings())
            except BadRequestError as exc2:
                raise ConfigError(
                    f"mapping of {index} conflicts with mapping version {MAPPING_VERSION}: "
                    f"{api_error_reason(exc2)}; create a new versioned index and reindex"
                ) from exc2

        current = es.indices.get_alias(name=alias).body if es.indices.exists_alias(name=alias).body else {}
        targets = sorted(current)
        if created and index in targets:
            pass
        elif index in targets:
            is_write = bool(current[index].get("aliases", {}).get(alias, {}).get("is_write_index"))
            if not is_write and len(targets) == 1:
                es.indices.update_aliases(
                    actions=[{"add": {"index": index, "alias": alias, "is_write_index": True}}]
                )
                actions.append(f"alias {alias}: made {index} the write index")
            else:
                actions.append(f"alias {alias} -> {', '.join(targets)}: found")
        elif not targets:
            es.indices.update_aliases(
                actions=[{"add": {"index": index, "alias": alias, "is_write_index": True}}]
            )
            actions.append(f"alias {alias} -> {index}: created")
        else:
            # A later version owns the alias (e.g. after a reindex to -v2): leave it alone.
            actions.append(f"alias {alias} -> {', '.join(targets)}: found (not {index})")
    report = SetupReport(template=template, index=index, alias=alias, actions=tuple(actions))
    log.info("index.setup", alias=alias, index=index, actions=list(actions))
    return report


@dataclass(frozen=True)
class IndexStatus:
    alias: str
    indices: tuple[str, ...]
    write_index: str | None
    doc_count: int


def index_status(es: Elasticsearch, settings: Settings) -> IndexStatus | None:
    """Alias -> index(es) and document count; ``None`` when the alias does not exist."""
    alias = settings.index_name("articles")
    with storage_errors(es, f"status of {alias}"):
        if not es.indices.exists_alias(name=alias).body:
            return None
        current = es.indices.get_alias(name=alias).body
        write = [
            name
            for name, body in current.items()
            if body.get("aliases", {}).get(alias, {}).get("is_write_index")
        ]
        count = int(es.count(index=alias).body["count"])
    return IndexStatus(
        alias=alias,
        indices=tuple(sorted(current)),
        write_index=write[0] if write else None,
        doc_count=count,
    )
