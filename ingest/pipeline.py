"""Bytes of one feed → ``FeedBatch`` of normalised (and optionally enriched) articles. Pure.

``process_feed`` raises only ``ParseError`` (nothing readable in the bytes). Everything below the feed
level is recorded instead of raised, so one bad entry never costs the others:

* an entry that cannot be normalised → one line in ``errors`` naming the feed and the entry;
* an enricher that fails on an article → the article is kept un-enriched and a line goes to
  ``warnings``.

So for every entry the parser yields there is exactly one article or one error
(``len(articles) + len(errors) == len(parsed.entries)``), a property the tests check with hypothesis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from ingest.model import Article
from ingest.normalise import normalise_entry
from ingest.parse import FeedMeta, parse_feed
from newswatch.errors import ParseError

log = structlog.get_logger(__name__)


class Enricher(Protocol):
    def enrich(self, article: Article, *, language_hint: str | None) -> Article: ...


def enrich_all(
    enricher: Enricher, articles: Sequence[Article], hints: Sequence[str | None]
) -> list[Article | Exception]:
    """Each article enriched, or the exception its enrichment raised (the others go on). Uses the
    enricher's ``enrich_many`` (stage by stage over the batch) when it has one."""
    many = getattr(enricher, "enrich_many", None)
    if many is not None:
        results: list[Article | Exception] = many(articles, hints)
        return results
    out: list[Article | Exception] = []
    for article, hint in zip(articles, hints, strict=True):
        try:
            out.append(enricher.enrich(article, language_hint=hint))
        except Exception as exc:
            out.append(exc)
    return out


@dataclass(frozen=True, slots=True)
class FeedBatch:
    meta: FeedMeta
    articles: tuple[Article, ...]
    warnings: tuple[str, ...]
    errors: tuple[str, ...]


def _entry_name(entry: object, index: int) -> str:
    name = f"entry #{index + 1}"
    if isinstance(entry, dict):
        for key in ("id", "link", "title"):
            value = entry.get(key)
            if isinstance(value, str) and value.strip():
                return f"{name} ({key} {value.strip()[:120]!r})"
    return name


def process_feed(
    data: bytes,
    *,
    feed_url: str,
    fetched_at: datetime,
    enricher: Enricher | None = None,
    content_type: str | None = None,
    language_hint: str | None = None,
) -> FeedBatch:
    """Parse, normalise and (optionally) enrich one feed document. Raises only ``ParseError``."""
    parsed = parse_feed(data, url=feed_url, content_type=content_type)
    hint = language_hint or parsed.meta.language
    articles: list[Article] = []
    warnings = list(parsed.warnings)
    errors: list[str] = []
    named: list[tuple[int, Mapping[str, Any]]] = []  # (entry index, entry) of each article, for messages
    for index, entry in enumerate(parsed.entries):
        try:
            article = normalise_entry(entry, parsed.meta, feed_url=feed_url, fetched_at=fetched_at)
        except ParseError as exc:
            errors.append(f"{feed_url}: {_entry_name(entry, index)}: {exc.reason}")
            continue
        except Exception as exc:  # a normaliser bug must not lose the rest of the feed
            log.exception("ingest.normalise_failed", feed=feed_url, entry=index + 1)
            errors.append(f"{feed_url}: {_entry_name(entry, index)}: {type(exc).__name__}: {exc}")
            continue
        articles.append(article)
        named.append((index, entry))
    if enricher is not None and articles:
        results = enrich_all(enricher, articles, [hint] * len(articles))
        for i, ((index, entry), result) in enumerate(zip(named, results, strict=True)):
            if isinstance(result, Exception):
                log.error("ingest.enrich_failed", feed=feed_url, article=articles[i].id, exc_info=result)
                warnings.append(
                    f"{feed_url}: {_entry_name(entry, index)}: not enriched: "
                    f"{type(result).__name__}: {result}"
                )
            else:
                articles[i] = result
    return FeedBatch(
        meta=parsed.meta, articles=tuple(articles), warnings=tuple(warnings), errors=tuple(errors)
    )
