"""One feedparser-shaped entry → one ``Article`` (pure: the clock comes in as ``fetched_at``).

* Text: title on one line; summary and content as plain text (``ingest.html``); ``content`` is empty
  when it says the same as the summary (feedparser copies ``content:encoded`` into ``summary`` when
  there is no description).
* URLs: the entry link made absolute against the feed URL (``url``) and its canonical form
  (``canonical_url``, ``ingest.urls``); only http(s) links count.
* Id: ``article_id`` — a hash of the canonical URL, so the same story has the same id in every feed;
  without a link, a hash of the feed URL and the GUID; without either, of the feed URL and the content.
* Dates (UTC-aware): ``published`` → ``updated`` → ``created``. None present: ``published_at=None``,
  ``date_flags=("missing",)`` (never invented). Present but unreadable: ``("unparseable",)``. More than
  ``FUTURE_TOLERANCE`` after ``fetched_at``: clamped to ``fetched_at`` with ``("future",)``.
* ``content_hash``: hash of the folded title, summary and content; changes when the entry is edited.
* ``language`` is ``"und"`` and ``topics`` empty: enrichment happens later (``ingest.pipeline``).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.html import first_image_src, html_to_text, one_line, plain_text
from ingest.model import Article, Source
from ingest.parse import FeedMeta
from ingest.text import fold, normalise_space
from ingest.urls import canonical_url, is_web_url, registrable_domain, resolve_url
from newswatch.errors import ParseError

FUTURE_TOLERANCE = timedelta(minutes=10)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".svg")
_DATE_KEYS = ("published", "updated", "created")


def article_id(canonical_url: str, guid: str, feed_url: str) -> str:
    """Stable id: BLAKE2b-160 hex of the canonical URL; of ``feed_url`` + GUID when there is no link."""
    key = canonical_url or f"guid\n{feed_url}\n{guid}"
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


def content_hash(title: str, summary: str, content: str) -> str:
    """Hash of the folded title, summary and content (case, accents and white space do not count)."""
    payload = "\x1f".join(normalise_space(fold(part)) for part in (title, summary, content))
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# ------------------------------------------------------------------------------------ dates


def struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's parsed dates are naive-UTC ``struct_time``s; this makes them UTC-aware."""
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        fields = [int(v) for v in value[:6]]
        fields[5] = min(fields[5], 59)  # leap seconds
        seconds = calendar.timegm((*fields, 0, 0, 0))
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _plain(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """A plain dict view: ``FeedParserDict.get`` maps missing ``updated`` to ``published`` (with a
    DeprecationWarning) and invents ``category``/``enclosures``; we want the keys as parsed."""
    return dict(entry) if isinstance(entry, dict) and type(entry) is not dict else entry


def entry_date(entry: Mapping[str, Any], fetched_at: datetime) -> tuple[datetime | None, tuple[str, ...]]:
    """``(published_at, date_flags)`` of an entry (see the module docstring)."""
    entry = _plain(entry)
    seen_raw = False
    for key in _DATE_KEYS:
        raw = entry.get(key)
        parsed = struct_to_datetime(entry.get(key + "_parsed"))
        if parsed is not None:
            if parsed > fetched_at + FUTURE_TOLERANCE:
                return fetched_at, ("future",)
            return parsed, ()
        if raw is not None and str(raw).strip():
            seen_raw = True
    return None, ("unparseable",) if seen_raw else ("missing",)


# ------------------------------------------------------------------------------------ text fields


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _detail_type(detail: Any, default: str = "text/html") -> str:
    if isinstance(detail, Mapping):
        return _str(detail.get("type")).lower() or default
    return default


def text_of(value: str, kind: str) -> str:
    """Plain text of a feed text construct of MIME ``kind``."""
    if kind in HTML_TYPES:
        return html_to_text(value)
    if kind == "text/plain" and "<" in value:
        # Declared plain but feedparser did not recognise markup: still never hand markup on.
        return html_to_text(value)
    return plain_text(value) if kind == "text/plain" else html_to_text(value)


def _content_parts(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(value, type)`` of each ``content`` item, HTML first (it usually carries the full story)."""
    raw = entry.get("content")
    parts: list[tuple[str, str]] = []
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        for item in raw:
            if isinstance(item, Mapping):
                value = _str(item.get("value"))
                if value.strip():
                    parts.append((value, _detail_type(item)))
    parts.sort(key=lambda p: p[1] not in HTML_TYPES)
    return parts


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    folded: set[str] = set()
    for value in values:
        value = one_line(value)
        if value and value.casefold() not in folded:
            folded.add(value.casefold())
            out.append(value)
    return tuple(out)


def entry_authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    authors = entry.get("authors")
    if isinstance(authors, Sequence) and not isinstance(authors, str):
        for a in authors:
            if isinstance(a, Mapping):
                names.append(_str(a.get("name")) or _str(a.get("email")))
            elif isinstance(a, str):
                names.append(a)
    if not any(n.strip() for n in names):
        names.append(_str(entry.get("author")))
    return _dedupe(html_to_text(n) if "<" in n or "&" in n else n for n in names)


def entry_categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms: list[str] = []
    tags = entry.get("tags")
    if isinstance(tags, Sequence) and not isinstance(tags, str):
        for tag in tags:
            if isinstance(tag, Mapping):
                terms.append(_str(tag.get("term")) or _str(tag.get("label")))
    return _dedupe(html_to_text(t) if "<" in t or "&" in t else t for t in terms)


def entry_link(entry: Mapping[str, Any], feed_url: str) -> str:
    """The entry's web link, absolute; ``""`` when it has none that is http(s)."""
    candidates: list[str] = [_str(entry.get("link"))]
    links = entry.get("links")
    if isinstance(links, Sequence) and not isinstance(links, str):
        for link in links:
            if isinstance(link, Mapping) and _str(link.get("rel")) in ("alternate", ""):
                candidates.append(_str(link.get("href")))
    if entry.get("guidislink") or _str(entry.get("id")).startswith(("http://", "https://")):
        candidates.append(_str(entry.get("id")))
    for candidate in candidates:
        url = resolve_url(candidate, feed_url)
        if url and is_web_url(url):
            return url
    return ""


def _is_image(url: str, kind: str, medium: str = "") -> bool:
    if medium == "image" or kind.startswith("image/"):
        return True
    if kind or medium:
        return False
    return url.lower().split("?")[0].endswith(IMAGE_EXTENSIONS)


def entry_image(entry: Mapping[str, Any], base: str, html_sources: Iterable[str]) -> str | None:
    """media:content / media:thumbnail, an image enclosure, else the first ``<img>`` of the HTML."""
    candidates: list[str] = []
    for key in ("media_content", "media_thumbnail"):
        items = entry.get(key)
        if isinstance(items, Sequence) and not isinstance(items, str):
            for item in items:
                if isinstance(item, Mapping):
                    url = _str(item.get("url"))
                    if url and (
                        key == "media_thumbnail"
                        or _is_image(url, _str(item.get("type")), _str(item.get("medium")))
                    ):
                        candidates.append(url)
    links = entry.get("links")
    if isinstance(links, Sequence) and not isinstance(links, str):
        for link in links:
            if isinstance(link, Mapping) and _str(link.get("rel")) == "enclosure":
                href = _str(link.get("href"))
                if href and _is_image(href, _str(link.get("type")).lower()):
                    candidates.append(href)
    image = entry.get("image")
    if isinstance(image, Mapping) and _str(image.get("href")):
        candidates.append(_str(image.get("href")))
    for candidate in candidates:
        url = resolve_url(candidate, base)
        if is_web_url(url):
            return url
    # Last candidate: the first <img> of the HTML, looked for only when nothing above was usable.
    for markup in html_sources:
        src = first_image_src(markup)
        if src:
            url = resolve_url(src, base)
            return url if is_web_url(url) else None
    return None


# ------------------------------------------------------------------------------------ the entry


def normalise_entry(
    entry: Mapping[str, Any], meta: FeedMeta, *, feed_url: str, fetched_at: datetime
) -> Article:
    """One entry → one ``Article``. Every mapping gives an article, even one with nothing but an author
    (nothing feedparser yields is dropped); anything else raises ``ParseError(feed_url, ...)``."""
    if not isinstance(entry, Mapping):
        raise ParseError(feed_url, f"entry is a {type(entry).__name__}, not a mapping")
    entry = _plain(entry)
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    fetched_at = fetched_at.astimezone(UTC)

    title_raw = _str(entry.get("title"))
    title = one_line(text_of(title_raw, _detail_type(entry.get("title_detail"), "text/plain")))
    summary_raw = _str(entry.get("summary"))
    summary_kind = _detail_type(entry.get("summary_detail"))
    summary = text_of(summary_raw, summary_kind)
    parts = _content_parts(entry)
    content = ""
    for value, kind in parts:
        # feedparser copies content:encoded into summary when there is no description: convert once.
        content = summary if value == summary_raw and kind == summary_kind else text_of(value, kind)
        if content:
            break
    if content == summary:
        content = ""

    url = entry_link(entry, feed_url)
    canonical = canonical_url(url) if url else ""
    guid = one_line(_str(entry.get("id")))
    chash = content_hash(title, summary, content)
    if guid or title or summary or content:
        key = guid or f"content:{chash}"
    else:
        # Nothing to tell it by (only an author, a date, a category...): the whole entry is its identity.
        key = (
            "entry:"
            + hashlib.blake2b(
                json.dumps(entry, sort_keys=True, default=str).encode("utf-8", "surrogatepass"),
                digest_size=16,
            ).hexdigest()
        )
    aid = article_id(canonical, key, feed_url)

    published_at, date_flags = entry_date(entry, fetched_at)
    base = canonical or feed_url
    html_sources = [v for v, k in parts if k in HTML_TYPES] + [summary_raw]
    return Article(
        id=aid,
        url=url,
        canonical_url=canonical,
        feed_url=feed_url,
        source=Source(
            name=meta.title or registrable_domain(meta.link or feed_url),
            domain=registrable_domain(url) or registrable_domain(meta.link) or registrable_domain(feed_url),
        ),
        title=title,
        summary=summary,
        content=content,
        published_at=published_at,
        fetched_at=fetched_at,
        guid=guid,
        authors=entry_authors(entry),
        categories=entry_categories(entry),
        image_url=entry_image(entry, base, html_sources),
        language="und",
        content_hash=chash,
        date_flags=date_flags,
    )
