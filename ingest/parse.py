"""Feed bytes → ``ParsedFeed``: feed metadata plus feedparser-shaped entries. Pure (no I/O).

Formats: everything feedparser reads (RSS 0.9x/1.0/2.0, RDF, Atom 0.3/1.0, CDF) and JSON Feed 1.0/1.1,
which feedparser 6 does not read: it is detected here and mapped into the same entry shape (``title``,
``link``/``links``, ``id``, ``summary``, ``content`` list, ``published``/``published_parsed``, ``tags``,
``authors``, ``media_thumbnail``, enclosure links).

Speed (docs/decisions.md, "## Ingest: lxml fast path"): well-formed RSS/RDF/Atom documents first go
through ``ingest.fastparse`` (lxml, replaying feedparser's rules; equal Articles on every corpus file it
accepts); anything it declines falls back to feedparser. ``parse_feed_feedparser`` skips the fast path
(the reference for tests and the bench).

Feedparser speed (docs/decisions.md, "## Ingest: parsing speed"): feedparser runs with
``sanitize_html=False`` and ``resolve_relative_uris=False`` (HTML becomes text later, in
``ingest.html``), and through ``_feedparser_parse``, a small re-implementation of
``feedparser.api.parse`` for bytes that

* gives expat ``buffer_text`` (one character callback per text node instead of one per line and per
  entity reference: feedparser pays a Python call and a ``FeedParserDict.get`` for each), and
* runs feedparser's ``pop`` with a sequence table instead of a dict for its cp1252 ``str.translate``
  (identical result, no ``KeyError`` raised and cleared per character).

Both keep feedparser's output identical (the corpus test compares entries with plain
``feedparser.parse``); if feedparser's internals ever move, ``_feedparser_parse`` falls back to
``feedparser.parse`` itself.

Errors: malformed XML that ``fastparse.repair_xml`` mends, or that feedparser still reads (``bozo``),
keeps its entries and adds a warning naming the fault ("feed read leniently: ..."); a
document in which nothing is readable raises ``ParseError(url, reason)``; an HTML page raises a
``ParseError`` whose reason lists the feeds the page advertises (``discover_feed_links``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import types
import xml.sax
import xml.sax.handler
import xml.sax.saxutils
import xml.sax.xmlreader
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax.expatreader import ExpatParser

import feedparser
import feedparser.api
import feedparser.mixin
from feedparser.datetimes import _parse_date
from feedparser.util import FeedParserDict

from ingest.fastparse import fast_parse
from ingest.html import html_to_text, one_line
from newswatch.errors import ParseError

FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
        "application/json",
        "application/xml",
        "text/xml",
    }
)
UPDATE_PERIODS_S = {
    "hourly": 3600,
    "daily": 86_400,
    "weekly": 604_800,
    "monthly": 2_592_000,
    "yearly": 31_536_000,
}
_JSON_TYPES = ("application/feed+json", "application/json", "text/json")
_HTML_SNIFF_RE = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)
_FEED_SNIFF_RE = re.compile(rb"<(?:[a-z0-9_]+:)?(?:rss|feed|rdf|channel)[\s>/]", re.IGNORECASE)
_LINK_TAG_RE = re.compile(rb"<(link|base)\b([^>]*)>", re.IGNORECASE)
_ATTR_RE = re.compile(rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


@dataclass(frozen=True, slots=True)
class FeedMeta:
    title: str
    link: str
    language: str | None
    format: str
    ttl_s: int | None
    update_period_s: int | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    meta: FeedMeta
    entries: tuple[Mapping[str, Any], ...]
    warnings: tuple[str, ...]


# ------------------------------------------------------------------------------------ fast feedparser


class _BufferedExpatParser(ExpatParser):
    """xml.sax's expat reader with ``buffer_text``: contiguous character data in one callback."""

    def reset(self) -> None:
        super().reset()
        expat: Any = getattr(self, "_parser")  # noqa: B009 - private to ExpatParser, untyped in typeshed
        expat.buffer_text = True
        expat.buffer_size = 1 << 20


def _cp1252_table() -> str:
    table: Mapping[int, str] = feedparser.mixin._cp1252
    return "".join(table.get(i, chr(i)) for i in range(0x10000))


def _fast_pop() -> Any:
    """feedparser's ``_FeedParserMixin.pop``, run with a sequence table for its cp1252 translate."""
    original = feedparser.mixin._FeedParserMixin.pop
    namespace = dict(vars(feedparser.mixin))
    namespace["_cp1252"] = _cp1252_table()
    return types.FunctionType(
        original.__code__, namespace, "pop", original.__defaults__, original.__closure__
    )


class _StrictParser(feedparser.api.StrictFeedParser):  # type: ignore[misc]
    pop = _fast_pop()

    def characters(self, text: str) -> None:
        if not self.elementstack:
            return
        if dict.get(self.contentparams, "type") == "application/xhtml+xml":
            text = xml.sax.saxutils.escape(text)
        self.elementstack[-1][2].append(text)


class _LooseParser(feedparser.api.LooseFeedParser):  # type: ignore[misc]
    pop = _fast_pop()


def _feedparser_parse(data: bytes, headers: Mapping[str, str]) -> Any:
    """``feedparser.parse`` for bytes, faster (see module docstring), same result."""
    try:
        return _fast_feedparser_parse(data, headers)
    except (AttributeError, TypeError, ImportError, NameError):  # pragma: no cover - feedparser moved
        return feedparser.parse(
            io.BytesIO(data), response_headers=dict(headers), sanitize_html=False, resolve_relative_uris=False
        )


def _fast_feedparser_parse(data: bytes, headers: Mapping[str, str]) -> Any:
    from feedparser.encodings import convert_to_utf8
    from feedparser.sanitizer import replace_doctype
    from feedparser.urls import make_safe_absolute_uri

    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    result["headers"].update(headers)
    data = convert_to_utf8(result["headers"], data, result)
    use_strict = bool(result["encoding"])
    result["version"], data, entities = replace_doctype(data)
    contentloc = result["headers"].get("content-location", "")
    baseuri = make_safe_absolute_uri(contentloc) or ""
    baselang = result["headers"].get("content-language", None)
    parser: Any = None
    if use_strict:
        parser = _StrictParser(baseuri, baselang, "utf-8")
        parser.resolve_relative_uris = False
        parser.sanitize_html = False
        sax = _BufferedExpatParser()
        sax.setFeature(xml.sax.handler.feature_namespaces, 1)
        sax.setFeature(xml.sax.handler.feature_external_ges, 0)
        sax.setContentHandler(parser)
        sax.setErrorHandler(parser)
        source = xml.sax.xmlreader.InputSource()
        source.setByteStream(io.BytesIO(data))
        try:
            sax.parse(source)
        except xml.sax.SAXException as exc:
            result["bozo"] = 1
            result["bozo_exception"] = parser.exc or exc
            use_strict = False
    if not use_strict:
        parser = _LooseParser(baseuri, baselang, "utf-8", entities)
        parser.resolve_relative_uris = False
        parser.sanitize_html = False
        parser.feed(data.decode("utf-8", "replace"))
    result["feed"] = parser.feeddata
    result["entries"] = parser.entries
    result["version"] = result["version"] or parser.version
    result["namespaces"] = parser.namespaces_in_use
    return result


# ------------------------------------------------------------------------------------ HTML discovery


def discover_feed_links(html: bytes, base_url: str) -> list[str]:
    """Feed URLs an HTML page advertises with ``<link rel="alternate" type="...feed type...">``:
    absolute, in document order, without duplicates. Honors ``<base href>``. Never raises."""
    found: list[str] = []
    base = base_url
    for match in _LINK_TAG_RE.finditer(html[:2_000_000]):
        attrs: dict[str, str] = {}
        for a in _ATTR_RE.finditer(match.group(2)):
            raw = next(g for g in a.groups()[1:] if g is not None)
            attrs[a.group(1).decode("latin-1").lower()] = raw.decode("utf-8", "replace").strip()
        if match.group(1).lower() == b"base":
            if attrs.get("href"):
                with contextlib.suppress(ValueError):
                    base = urljoin(base, attrs["href"])
            continue
        rels = attrs.get("rel", "").lower().split()
        kind = attrs.get("type", "").split(";")[0].strip().lower()
        href = attrs.get("href", "")
        if "alternate" not in rels or kind not in FEED_LINK_TYPES or not href:
            continue
        try:
            url = urljoin(base, href.replace("&amp;", "&"))
        except ValueError:
            continue
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found


def _looks_like_html(head: bytes, content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return not _FEED_SNIFF_RE.search(head)
    return bool(_HTML_SNIFF_RE.search(head)) and not _FEED_SNIFF_RE.search(head)


# ------------------------------------------------------------------------------------ JSON Feed


def _looks_like_json(data: bytes, content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in _JSON_TYPES:
        return True
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _date_tuple(value: Any) -> time.struct_time | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = _parse_date(value.strip())
    except Exception:  # feedparser's date handlers are lenient but not total
        return None
    return parsed if isinstance(parsed, time.struct_time) else None


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_authors(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    out = []
    for a in raw:
        if isinstance(a, dict):
            name = _json_text(a.get("name")).strip()
            if name:
                out.append({"name": name, "href": _json_text(a.get("url"))})
    return out


def _json_entry(item: Mapping[str, Any], base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    link = _json_text(item.get("url")).strip() or _json_text(item.get("external_url")).strip()
    links: list[dict[str, str]] = []
    if link:
        link = urljoin(base, link) if base else link
        entry["link"] = link
        links.append({"rel": "alternate", "type": "text/html", "href": link})
    raw_id = item.get("id")
    if isinstance(raw_id, str | int | float) and not isinstance(raw_id, bool):
        entry["id"] = str(raw_id)
    title = _json_text(item.get("title"))
    if title:
        entry["title"] = title
        entry["title_detail"] = {"type": "text/plain", "value": title}
    summary = _json_text(item.get("summary"))
    if summary:
        entry["summary"] = summary
        entry["summary_detail"] = {"type": "text/plain", "value": summary}
    content = []
    if _json_text(item.get("content_html")):
        content.append({"type": "text/html", "value": item["content_html"]})
    if _json_text(item.get("content_text")):
        content.append({"type": "text/plain", "value": item["content_text"]})
    if content:
        entry["content"] = content
        if not summary:
            entry["summary"] = content[0]["value"]
            entry["summary_detail"] = {"type": content[0]["type"], "value": content[0]["value"]}
    for key in ("published", "updated"):
        raw = item.get("date_" + ("published" if key == "published" else "modified"))
        if isinstance(raw, str) and raw.strip():
            entry[key] = raw
            entry[key + "_parsed"] = _date_tuple(raw)
    authors = _json_authors(item)
    if authors:
        entry["authors"] = authors
        entry["author"] = authors[0]["name"]
    tags = item.get("tags")
    if isinstance(tags, list):
        entry["tags"] = [{"term": t, "scheme": None, "label": None} for t in tags if isinstance(t, str)]
    for key in ("image", "banner_image"):
        image = _json_text(item.get(key)).strip()
        if image:
            entry["media_thumbnail"] = [{"url": urljoin(base, image) if base else image}]
            break
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        for att in attachments:
            if isinstance(att, dict) and _json_text(att.get("url")):
                links.append(
                    {
                        "rel": "enclosure",
                        "href": urljoin(base, att["url"]) if base else att["url"],
                        "type": _json_text(att.get("mime_type")),
                        "length": str(att.get("size_in_bytes", "")),
                    }
                )
    entry["links"] = links
    language = _json_text(item.get("language"))
    if language:
        entry["language"] = language
    return entry


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed | None:
    """A JSON Feed, or ``None`` when ``data`` is not JSON Feed (so the XML path gets its turn)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    version = _json_text(doc.get("version"))
    if "jsonfeed.org/version/" not in version and not isinstance(doc.get("items"), list):
        return None
    warnings: list[str] = []
    items = doc.get("items")
    if not isinstance(items, list):
        warnings.append("JSON Feed without an 'items' list")
        items = []
    home = _json_text(doc.get("home_page_url")).strip()
    base = _json_text(doc.get("feed_url")).strip() or url
    entries: list[Mapping[str, Any]] = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            entries.append(_json_entry(item, base))
        else:
            warnings.append(f"JSON Feed item #{i + 1} is not an object; skipped")
    fmt = "json11" if version.rstrip("/").endswith("1.1") else "json10"
    meta = FeedMeta(
        title=one_line(html_to_text(_json_text(doc.get("title")))),
        link=home,
        language=_json_text(doc.get("language")) or None,
        format=fmt,
        ttl_s=None,
        update_period_s=None,
    )
    return ParsedFeed(meta=meta, entries=tuple(entries), warnings=tuple(warnings))


# ------------------------------------------------------------------------------------ metadata


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def feed_meta(feed: Mapping[str, Any], version: str, content_language: str | None = None) -> FeedMeta:
    """``FeedMeta`` from feedparser's ``feed`` dict (pure)."""
    ttl_min = _int(feed.get("ttl"))
    period = str(feed.get("sy_updateperiod", "") or "").strip().lower()
    update_period_s = None
    if period in UPDATE_PERIODS_S:
        frequency = _int(feed.get("sy_updatefrequency")) or 1
        update_period_s = max(1, UPDATE_PERIODS_S[period] // frequency)
    language = str(feed.get("language", "") or "").strip() or content_language or None
    return FeedMeta(
        title=one_line(html_to_text(str(feed.get("title", "") or ""))),
        link=str(feed.get("link", "") or "").strip(),
        language=language,
        format=version or "unknown",
        ttl_s=ttl_min * 60 if ttl_min else None,
        update_period_s=update_period_s,
    )


def _reason(exc: Any) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text


def parse_feed(data: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes (see module docstring). ``url`` names the feed in errors and is the base for
    relative links; ``content_type`` (with its charset) comes from the HTTP response when known."""
    return _parse(data, url, content_type, fast=True)


def parse_feed_feedparser(data: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """``parse_feed`` without the lxml fast path: feedparser reads every XML document (the reference
    the fast path is checked against, in tests and in ``bench/ingest.py``)."""
    return _parse(data, url, content_type, fast=False)


def _parse(data: bytes, url: str, content_type: str | None, *, fast: bool) -> ParsedFeed:
    if not data or not data.strip():
        raise ParseError(url, "empty document")
    head = data[:4096]
    if _looks_like_json(data, content_type):
        parsed = _parse_json_feed(data, url)
        if parsed is not None:
            return parsed
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind in _JSON_TYPES:
            raise ParseError(url, f"{kind} but not a JSON Feed (no jsonfeed.org version, no items list)")
    if _looks_like_html(head, content_type):
        links = discover_feed_links(data, url)
        if links:
            raise ParseError(url, "an HTML page, not a feed; it advertises these feeds: " + ", ".join(links))
        raise ParseError(url, 'an HTML page, not a feed, and it advertises no feed (<link rel="alternate">)')

    if fast:
        quick = fast_parse(data, url=url, content_type=content_type)
        if quick is not None:
            meta = feed_meta(quick.feed, quick.version)
            warned = tuple(f"feed read leniently: {w}" for w in quick.warnings)
            return ParsedFeed(meta=meta, entries=quick.entries, warnings=warned)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        result = _feedparser_parse(data, headers)
    except (RecursionError, MemoryError) as exc:
        raise ParseError(url, f"document too deeply nested or too large ({type(exc).__name__})") from exc
    except Exception as exc:  # feedparser is meant never to raise; if it does, say so, naming the feed
        raise ParseError(url, f"feedparser failed: {_reason(exc)}") from exc
    version = str(result.get("version") or "")
    entries = tuple(result.get("entries") or ())
    feed = result.get("feed") or {}
    warnings: list[str] = []
    if result.get("bozo"):
        bozo = result.get("bozo_exception")
        if not version and not entries:
            raise ParseError(url, f"not a readable feed ({_reason(bozo)})")
        # A file has no Content-Type to disagree with: that "error" is no news.
        if not (content_type is None and isinstance(bozo, feedparser.NonXMLContentType)):
            warnings.append(f"feed read leniently: {_reason(bozo)}")
    if not version and not entries:
        raise ParseError(url, "not a feed: no RSS, Atom, RDF or JSON Feed document found")
    meta = feed_meta(feed, version, result.get("headers", {}).get("content-language"))
    return ParsedFeed(meta=meta, entries=entries, warnings=tuple(warnings))
