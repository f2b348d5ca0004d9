"""Main text of an article page (trafilatura), for feeds that carry only a teaser.

Pure: bytes or text in, ``FullText`` or ``None`` out. Fetching the page (politely, size-limited) is the
fetcher's job. ``None`` when trafilatura finds no main text or fails on the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

log = structlog.get_logger(__name__)

_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})?)", re.I)


@dataclass(frozen=True, slots=True)
class FullText:
    text: str
    language: str | None  # as declared by the page (<html lang>, meta), not detected
    published_at: datetime | None  # UTC, date precision when the page gives only a date


def _parse_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def extract_main_text(html: bytes | str, url: str, *, min_chars: int = 80) -> FullText | None:
    """The page's main text, declared language and publication date; ``None`` when there is none."""
    import trafilatura  # heavy import, only paid by callers that extract

    if not html:
        return None
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
        )
    except Exception as exc:  # trafilatura raises assorted lxml/parser errors on broken input
        log.warning("fulltext_failed", url=url, error=repr(exc))
        return None
    if doc is None:
        return None
    text = (getattr(doc, "text", None) or "").strip()
    if len(text) < min_chars:
        return None
    language = getattr(doc, "language", None)
    if not (isinstance(language, str) and language):
        raw = html.encode("utf-8", "replace") if isinstance(html, str) else html
        found = _HTML_LANG.search(raw[:4096])
        language = found.group(1).decode("ascii") if found else None
    return FullText(
        text=text,
        language=language,
        published_at=_parse_date(getattr(doc, "date", None)),
    )
