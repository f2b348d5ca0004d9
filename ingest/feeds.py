"""The feed list: the ``config/feeds.yaml`` model, its validation, and OPML import/export (pure).

``config/feeds.yaml``::

    feeds:
      - url: https://www.nato.int/cps/rss/en/natohq/rssFeed.xsl/rssFeed.xml
        name: NATO News          # optional, defaults to the host name
        interval: 15m            # optional: seconds, or 30s / 15m / 2h / 1d; absent = adaptive
        language: en             # optional language hint (alias: lang)
        tags: [nato, official]   # optional
        full_text: false         # optional: fetch the article page for the full text
        enabled: true            # optional

Errors name the file, the entry (index, line and URL) and the field, and every bad entry is reported at
once. OPML follows what common readers write and read: ``<outline type="rss" xmlUrl htmlUrl title
text>``; category outlines (no ``xmlUrl``) nest feeds and become their tags, as does the ``category``
attribute (``"a,b"`` or ``"/a/b"``). Our extra fields travel as ``newswatch*`` attributes that other
readers ignore, so an export re-imports to the same list.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newswatch.errors import ConfigError

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
_BARE_AMP_RE = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_LANG_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


def parse_duration(value: object) -> int:
    """Seconds from ``900``, ``"900"``, ``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION_RE.match(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise ValueError(f"not a duration (use seconds or 30s, 15m, 2h, 1d): {value!r}")
    if seconds <= 0:
        raise ValueError(f"must be positive, got {value!r}")
    return seconds


def check_feed_url(url: str) -> str:
    """A feed URL: absolute http(s) with a host, no spaces. Returns it stripped."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"has no host: {url!r}")
    if any(c.isspace() for c in url):
        raise ValueError(f"contains white space: {url!r}")
    return url


class FeedConfig(BaseModel):
    """One configured feed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: str
    name: str = ""
    interval_s: int | None = Field(None, alias="interval")
    language: str | None = Field(None, alias="lang")
    tags: tuple[str, ...] = ()
    full_text: bool = False
    enabled: bool = True

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"must be a string URL, got {value!r}")
        return check_feed_url(value)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return "" if value is None else (value.strip() if isinstance(value, str) else value)

    @field_validator("interval_s", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not _LANG_RE.match(value.strip().lower()):
            raise ValueError(f"must be a language code like 'en' or 'pt-br', got {value!r}")
        return value.strip().lower()

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list of strings, got {value!r}")
        out: list[str] = []
        for tag in value:
            if not isinstance(tag, str) or not tag.strip():
                raise ValueError(f"every tag must be a non-empty string, got {tag!r}")
            if tag.strip() not in out:
                out.append(tag.strip())
        return tuple(out)

    @property
    def display_name(self) -> str:
        return self.name or (urlsplit(self.url).hostname or self.url)


def _format_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append(f"{loc}: {msg}")
    return out


def validate_feed(data: Mapping[str, Any]) -> FeedConfig:
    """One feed from a mapping; ``ConfigError`` names every bad field."""
    try:
        return FeedConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError("; ".join(_format_errors(exc))) from None


def _entry_lines(text: str) -> list[int]:
    """1-based start line of each ``feeds:`` item (best effort, for messages)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "feeds" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse_feeds_yaml(text: str, source: str = "feeds.yaml") -> tuple[FeedConfig, ...]:
    """Validate the text of a feeds file; ``ConfigError`` lists every bad entry (file, entry, URL, field)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{where}: not valid YAML: {exc}") from None
    if data is None:
        return ()
    if not isinstance(data, dict) or set(data) - {"feeds"}:
        raise ConfigError(f"{source}: expected a mapping with one key `feeds:` (a list of feeds)")
    items = data.get("feeds") or []
    if not isinstance(items, list):
        raise ConfigError(f"{source}: `feeds` must be a list, got {type(items).__name__}")
    lines = _entry_lines(text)
    feeds: list[FeedConfig] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        line = f":{lines[i]}" if i < len(lines) else ""
        where = f"{source}{line}: feeds[{i}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: expected a mapping with at least `url`, got {item!r}")
            continue
        url = item.get("url")
        if isinstance(url, str):
            where += f" ({url.strip()})"
        try:
            feed = FeedConfig.model_validate(item)
        except ValidationError as exc:
            errors.extend(f"{where}: {msg}" for msg in _format_errors(exc))
            continue
        if feed.url in seen:
            errors.append(f"{where}: duplicate url, already listed as feeds[{seen[feed.url]}]")
            continue
        seen[feed.url] = i
        feeds.append(feed)
    if errors:
        raise ConfigError(f"{len(errors)} error(s) in {source}:\n  " + "\n  ".join(errors))
    return tuple(feeds)


def dump_feeds_yaml(feeds: Iterable[FeedConfig]) -> str:
    """The YAML text of a feed list (only non-default fields), readable by ``parse_feeds_yaml``."""
    items = []
    for feed in feeds:
        item: dict[str, Any] = {"url": feed.url}
        if feed.name:
            item["name"] = feed.name
        if feed.interval_s is not None:
            item["interval"] = feed.interval_s
        if feed.language:
            item["language"] = feed.language
        if feed.tags:
            item["tags"] = list(feed.tags)
        if feed.full_text:
            item["full_text"] = True
        if not feed.enabled:
            item["enabled"] = False
        items.append(item)
    return yaml.safe_dump({"feeds": items}, allow_unicode=True, sort_keys=False)


# --------------------------------------------------------------------------------------------- OPML


@dataclass(frozen=True, slots=True)
class OpmlImport:
    """Feeds read from an OPML document, and one message per outline that could not be read."""

    feeds: tuple[FeedConfig, ...]
    errors: tuple[str, ...]


def _attr(el: ET.Element, name: str) -> str | None:
    """An attribute by case-insensitive name (readers write ``xmlUrl``, ``xmlurl``, ``XMLURL``)."""
    for key, value in el.attrib.items():
        if key.lower() == name.lower():
            return value.strip()
    return None


def _category_tags(value: str | None) -> list[str]:
    if not value:
        return []
    out: list[str] = []
    for part in value.split(","):
        for piece in part.split("/"):
            if piece.strip():
                out.append(piece.strip())
    return out


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def parse_opml(text: str | bytes, source: str = "OPML") -> OpmlImport:
    """Feeds from an OPML document. A bad outline is reported (with its path) and the rest kept; the same
    feed listed under several categories is one feed with all their tags. ``ConfigError`` only when the
    document itself cannot be read."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        # Many exported lists carry bare '&' in URLs (``?a=1&b=2``); readers accept them, so do we.
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        fixed = _BARE_AMP_RE.sub("&amp;", raw)
        if fixed.startswith("<?xml"):
            fixed = fixed[fixed.index("?>") + 2 :]  # the declared encoding no longer applies to a str
        try:
            root = ET.fromstring(fixed)
        except ET.ParseError:
            raise ConfigError(f"{source}: not valid XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise ConfigError(f"{source}: root element is <{root.tag}>, expected <opml>")
    body = next((c for c in root if c.tag.lower() == "body"), None)
    if body is None:
        raise ConfigError(f"{source}: no <body> element")

    feeds: dict[str, FeedConfig] = {}
    errors: list[str] = []

    def walk(el: ET.Element, path: list[str]) -> None:
        for n, child in enumerate(c for c in el if c.tag.lower() == "outline"):
            label = _attr(child, "title") or _attr(child, "text") or ""
            xml_url = _attr(child, "xmlUrl")
            if not xml_url:
                if len(child):
                    walk(child, [*path, label] if label else path)
                continue
            where = f"{source}: outline {'/'.join([*path, label or f'#{n}'])}"
            tags = [*path, *_category_tags(_attr(child, "category"))]
            data: dict[str, Any] = {
                "url": xml_url,
                "name": label,
                "tags": tags,
                "language": _attr(child, "language") or _attr(child, "newswatchLanguage"),
                "full_text": _truthy(_attr(child, "newswatchFullText")),
                "enabled": (_attr(child, "newswatchEnabled") or "true").lower() != "false",
            }
            interval = _attr(child, "newswatchInterval")
            if interval:
                data["interval"] = interval
            try:
                feed = FeedConfig.model_validate(data)
            except ValidationError as exc:
                errors.extend(f"{where} ({xml_url}): {msg}" for msg in _format_errors(exc))
                continue
            known = feeds.get(feed.url)
            if known is not None:
                merged = tuple(dict.fromkeys((*known.tags, *feed.tags)))
                feeds[feed.url] = known.model_copy(update={"tags": merged})
            else:
                feeds[feed.url] = feed

    walk(body, [])
    return OpmlImport(tuple(feeds.values()), tuple(errors))


def to_opml(
    feeds: Sequence[FeedConfig],
    *,
    title: str = "newswatch feeds",
    now: datetime | None = None,
    html_urls: Mapping[str, str] | None = None,
) -> str:
    """An OPML 2.0 document. Feeds are nested under a category outline named after their first tag (what
    readers show as folders); all tags are also in ``category``. ``html_urls`` maps a feed URL to its
    site (``htmlUrl``) when known."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    if now is not None:
        ET.SubElement(head, "dateCreated").text = format_datetime(now.astimezone(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            first = feed.tags[0]
            if first not in folders:
                folders[first] = ET.SubElement(body, "outline", text=first, title=first)
            parent = folders[first]
        attrs = {
            "type": "rss",
            "text": feed.display_name,
            "title": feed.display_name,
            "xmlUrl": feed.url,
        }
        site = (html_urls or {}).get(feed.url)
        if site:
            attrs["htmlUrl"] = site
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        if feed.language:
            attrs["language"] = feed.language
        if feed.interval_s is not None:
            attrs["newswatchInterval"] = str(feed.interval_s)
        if feed.full_text:
            attrs["newswatchFullText"] = "true"
        if not feed.enabled:
            attrs["newswatchEnabled"] = "false"
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
