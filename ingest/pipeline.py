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

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from ingest.model import Article
from ingest.normalise import normalise_entry
from ingest.parse import FeedMeta, parse_feed
from newswatch.errors import ParseError

log = structlog.get_logger(__name__)


class Enricher(Protocol):
    def enrich(self, article: Article, *, language_hint: str | None) -> Article: ...


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
        if enricher is not None:
            try:
                article = enricher.enrich(article, language_hint=hint)
            except Exception as exc:
                log.exception("ingest.enrich_failed", feed=feed_url, article=article.id)
                warnings.append(
                    f"{feed_url}: {_entry_name(entry, index)}: not enriched: {type(exc).__name__}: {exc}"
                )
        articles.append(article)
    return FeedBatch(
        meta=parsed.meta, articles=tuple(articles), warnings=tuple(warnings), errors=tuple(errors)
    )
