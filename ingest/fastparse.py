"""A fast path for well-formed RSS 0.9x/2.0, RSS 1.0/RDF and Atom 0.3/1.0: lxml builds the tree in C and
a small walker replays *feedparser's* rules on it, giving entries that normalise to the same Articles
as feedparser's (docs/decisions.md, "## Ingest: lxml fast path").

Contract: ``fast_parse`` returns ``FastFeed`` or ``None``. ``None`` ("declined") means "let feedparser
do it": XML that is not well-formed even after ``repair_xml``, a DOCTYPE that declares or references
anything, an unknown root, an encoding feedparser complains about (other than the override it reads on
with), an ``xml:base`` below the root, inline XHTML or base64 in a text construct, namespace prefixes
rebound mid-document, an element feedparser gives special meaning to that the walker does not replay,
an entry with nothing to identify it... Declining is always safe; accepting must be exact. The corpus
test (tests/ingest/test_fastparse.py) normalises every corpus file both ways and requires equal
Articles (one justified exception, listed there).

Not well-formed documents (``repair_xml``): real feeds break XML in a few common ways (HTML entity
references such as ``&nbsp;``, a bare ``&``, control characters, a ``<script>`` injected after the root
element). feedparser then re-reads the whole document with its lenient SGML parser, about ten times
slower; here the faults are mended in the bytes, the document takes the fast path, and the repair is
reported as a warning (``FastFeed.warnings``) as feedparser reports its lenient reading.

What is replayed (feedparser 6, strict parser, ``sanitize_html=False``, ``resolve_relative_uris=False``):
namespace → prefix mapping (its URI table, lower-cased element names), text post-processing (strip,
"UTF-8 read as Latin-1" repair, cp1252 C1 mapping, ``looks_like_html`` for RSS plain text), URL
resolution of link/id/url against the feed URL (``feedparser.urls._urljoin``), the first-title-wins
``title_depth`` rule, the per-entry property-depth rule, description/summary turning into ``content``
when a summary already exists (``hasContent``), guid/``guidislink``, author e-mail splitting
(``_sync_author_detail``), category/tag merging (``_add_tag``), Media RSS content/thumbnail,
``itunes:image``, enclosures, and dates through ``feedparser.datetimes._parse_date``.

Entries are plain dicts carrying the keys ``ingest.normalise`` reads (``title``/``title_detail``,
``summary``/``summary_detail``, ``content``, ``link``/``links``, ``id``, ``guidislink``, dates and
``*_parsed``, ``author``/``authors``, ``tags``, ``media_content``/``media_thumbnail``, ``image``); details
carry ``type``, ``base`` and ``value`` (no ``language``). Hostile input: lxml runs with
``resolve_entities=False, no_network=True, huge_tree=False`` and any DOCTYPE is declined before use.
"""

from __future__ import annotations

import contextlib
import html.entities
import io
import re
import urllib.parse
import xml.sax.saxutils
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import feedparser.html
import feedparser.mixin
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from ingest.urls import joins_to_itself

_MIXIN: Any = feedparser.mixin._FeedParserMixin
_MATCHNS: dict[str, str] = {k.lower(): v for k, v in _MIXIN.namespaces.items()}
_HANDLED = frozenset(n.split("_", 2)[2] for n in dir(_MIXIN) if n.startswith(("_start_", "_end_")))
_LOOKS_LIKE_HTML: Callable[[str], bool] = _MIXIN.looks_like_html
_CP1252 = {k: v for k, v in feedparser.html._cp1252.items()}
_C1_RE = re.compile("[\x80-\x9f]")
_PLAIN_WORD_RE = re.compile(r"[^<&]*\w[^<&]*\Z")
_ENTITY_RE = re.compile(r"&[#\w]+;?")
_MARKUP_ENTITY_RE = re.compile(r"&(?:lt|#)", re.IGNORECASE)


def _surely_text(title: object) -> bool:
    """Whether ``title`` normalises to a non-empty title whatever its type: a word character outside any
    entity reference survives unescaping and markup removal, provided there is no markup ("<") and no
    entity that could make some (``&lt;``, numeric references: a double-escaped ``<img>`` is removed).
    Then ``normalise`` identifies the entry by its content hash, not by the whole entry dict."""
    if not isinstance(title, str):
        return False
    if _PLAIN_WORD_RE.match(title):
        return True
    return (
        "<" not in title
        and _MARKUP_ENTITY_RE.search(title) is None
        and re.search(r"\w", _ENTITY_RE.sub("", title)) is not None
    )


def _has_surely_text(e: dict[str, Any]) -> bool:
    """Whether normalise will identify a guid-less entry by its content hash (it does when the title,
    the summary or a content value normalises to non-empty text), not by the whole entry dict."""
    if _surely_text(e.get("title", "")) or _surely_text(e.get("summary", "")):
        return True
    contents = e.get("content")
    return isinstance(contents, list) and any(
        isinstance(c, dict) and _surely_text(c.get("value", "")) for c in contents
    )


_AMP_REF_RE = re.compile("&([A-Za-z0-9_]+);")
_BASE_ATTR_RE = re.compile(rb"base\s*=\s*[\"']")
_EMAIL_RE = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)
_HTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_ATOM_VERSIONS = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
_META_KEYS = ("ttl", "sy_updateperiod", "sy_updatefrequency")

# Keys an entry element may map to that normalise reads (an unknown element with such a name would
# overwrite them in feedparser): the walker declines rather than guess.
_RELEVANT = frozenset(
    {
        "title", "summary", "content", "link", "links", "id", "guidislink", "published", "updated",
        "created", "authors", "author", "tags", "media_content", "media_thumbnail", "image",
    }
)  # fmt: skip
_TITLE_KEYS = frozenset({"title", "dc_title", "media_title"})
_DESCRIPTION_KEYS = frozenset({"description", "dc_description", "media_description"})
_SUMMARY_KEYS = frozenset({"summary", "itunes_summary"})
_DATE_KEYS = {
    "published": "published", "pubdate": "published", "issued": "published",
    "dcterms_issued": "published", "updated": "updated", "modified": "updated",
    "lastbuilddate": "updated", "dc_date": "updated", "dcterms_modified": "updated",
    "created": "created", "dcterms_created": "created",
}  # fmt: skip
_AUTHOR_KEYS = frozenset({"author", "managingeditor", "dc_author", "dc_creator", "itunes_author"})
_CATEGORY_KEYS = frozenset({"category", "keywords", "dc_subject", "media_category"})
_SPLIT_TAG_KEYS = {"media_keywords": None, "itunes_keywords": "http://www.itunes.com/", "tags": None}
# Elements with a feedparser handler that cannot touch what normalise reads: their subtree is skipped.
_HARMLESS = frozenset(
    {
        "cc_license", "creativecommons_license", "cloud", "copyright", "rights", "dc_rights",
        "dcterms_valid", "expirationdate", "feedburner_browserfriendly", "info", "generator",
        "height", "width", "itunes_block", "itunes_explicit", "itunes_subtitle", "subtitle",
        "tagline", "language", "dc_language", "newlocation", "media_credit", "media_license",
        "media_player", "media_rating", "media_restriction", "webmaster", "dc_publisher",
        "psc_chapter", "psc_chapters", "geom", "georssgeom", "georss_box", "georss_line",
        "georss_point", "georss_polygon", "georss_where", "where", "gml_exterior",
        "gml_linearring", "gml_linestring", "gml_point", "gml_polygon", "gml_pos", "gml_poslist",
        "contributor", "dc_contributor",
    }
)  # fmt: skip
_FEED_TEXT_CONSTRUCTS = frozenset(
    {
        "rights", "copyright", "dc_rights", "subtitle", "tagline", "itunes_subtitle", "info",
        "feedburner_browserfriendly",
    }
)  # fmt: skip
_CONTRIBUTOR_CHILDREN = frozenset({"name", "email", "uri", "url", "homepage"})
_IMAGE_CHILDREN = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_CHILDREN = frozenset({"title", "link", "description", "name"})


class Declined(Exception):
    """The fast path will not vouch for this document; feedparser reads it instead."""


@lru_cache(maxsize=256)
def _parses(base: str) -> bool:
    """Whether ``urlsplit(base)`` raises nothing (when it raises, ``_urljoin`` gives "")."""
    try:
        urllib.parse.urlsplit(base)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class FastFeed:
    version: str
    feed: dict[str, Any]  # feedparser-shaped feed keys used by ``ingest.parse.feed_meta``
    entries: tuple[dict[str, Any], ...]
    # what a lenient reading overlooked or mended (an encoding override, ``repair_xml``'s repairs)
    warnings: tuple[str, ...] = ()


def _parser_options() -> dict[str, Any]:
    return {"resolve_entities": False, "no_network": True, "huge_tree": False, "recover": False}


def fast_parse(data: bytes, *, url: str, content_type: str | None) -> FastFeed | None:
    """``data`` read the feedparser way, fast; ``None`` when declined (see the module docstring)."""
    try:
        return _fast_parse(data, url, content_type)
    except (Declined, etree.LxmlError, RecursionError, ValueError, UnicodeError):
        return None


def _fast_parse(data: bytes, url: str, content_type: str | None) -> FastFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result: dict[str, Any] = {"bozo": False}
    data = convert_to_utf8(headers, data, result)
    if not result.get("encoding"):
        raise Declined("encoding")
    warnings: list[str] = []
    if result.get("bozo"):
        complaint = result.get("bozo_exception")
        if isinstance(complaint, CharacterEncodingOverride):  # feedparser too reads on, and warns
            warnings.append(f"CharacterEncodingOverride: {complaint}")
        elif not (content_type is None and isinstance(complaint, NonXMLContentType)):
            raise Declined("encoding complaint")
    try:
        decls, root = _xml_tree(data)
    except etree.XMLSyntaxError as exc:
        data, repairs = repair_xml(data)
        if not repairs:
            raise
        try:
            decls, root = _xml_tree(data)
        except etree.XMLSyntaxError:
            raise exc from None
        warnings.append("not well-formed XML, repaired: " + ", ".join(repairs))
    if root is None or (
        root.getroottree().docinfo.doctype and not _BARE_DOCTYPE_RE.match(_after_prolog(data))
    ):
        raise Declined("doctype")
    has_base = b"base" in data and _BASE_ATTR_RE.search(data) is not None
    walker = _Walker(decls, len(root.nsmap), make_safe_absolute_uri(url) or "", has_base)
    feed = walker.run(root)
    return replace(feed, warnings=tuple(warnings)) if warnings else feed


# A DOCTYPE that is only a name (``<!DOCTYPE html>`` atop a feed): nothing declared, nothing to fetch;
# feedparser drops it (``replace_doctype``) unless it names Netscape's RSS 0.91.
_BARE_DOCTYPE_RE = re.compile(rb"<!DOCTYPE\s+(?![Nn]etscape)[A-Za-z_][\w:.-]*\s*>")


def _after_prolog(data: bytes) -> bytes:
    """``data`` from its first DOCTYPE or element on: the XML declaration, processing instructions,
    comments and white space before them skipped."""
    head = data.lstrip()
    while head.startswith((b"<?", b"<!--")):
        closing = b"?>" if head.startswith(b"<?") else b"-->"
        end = head.find(closing)
        if end < 0:
            break
        head = head[end + len(closing) :].lstrip()
    return head


def _xml_tree(data: bytes) -> tuple[list[tuple[str, str]], Any]:
    events = etree.iterparse(io.BytesIO(data), events=("start-ns",), **_parser_options())
    decls = [ns for _, ns in events]
    return decls, events.root


# Repairs of the faults that make real feeds not well-formed (docs/decisions.md, "## Ingest: mending
# not-well-formed XML"); each is what a lenient reader makes of the bytes anyway.
# An "&" that does not start a reference XML knows (predefined or numeric): a bare one, or a name.
_AMPERSAND_RE = re.compile(
    rb"&(?!(?:lt|gt|amp|quot|apos|#[0-9]+|#[xX][0-9a-fA-F]+);)(?:([A-Za-z][A-Za-z0-9]*);)?"
)
_XML_FORBIDDEN_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ROOT_TAG_RE = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_ENTRY_TAG_RE = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_MAX_NAMED = 5  # how many repaired names the warning lists


def _cdata_split(data: bytes) -> Iterator[tuple[bytes, bool]]:
    """``data`` in pieces, each with whether it is a CDATA section (whose ``&`` is text, not markup).
    Linear: an unterminated section runs to the end."""
    start = 0
    while (open_at := data.find(b"<![CDATA[", start)) >= 0:
        close = data.find(b"]]>", open_at)
        end = len(data) if close < 0 else close + 3
        yield data[start:open_at], False
        yield data[open_at:end], True
        start = end
    yield data[start:], False


def repair_xml(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """``data`` (UTF-8, as ``convert_to_utf8`` leaves it) with three common faults mended, and what was
    mended (empty: nothing to mend). Never applied to a document with a DOCTYPE (its entities are its own).

    * outside CDATA sections, a named character reference XML does not predefine (``&nbsp;``,
      ``&colon;``) becomes the numeric reference of its HTML5 meaning; an unknown name, or a bare ``&``,
      becomes ``&amp;`` (the text keeps the characters as written);
    * control characters XML 1.0 forbids (C0 other than tab, line feed, carriage return) are dropped;
    * content after the root element's end tag (an injected ``<script>``) is cut off.
    """
    head = _after_prolog(data)
    if head[:9].upper() == b"<!DOCTYPE":
        return data, ()
    repairs: list[str] = []
    named: dict[str, None] = {}  # ordered sets
    unknown: dict[str, None] = {}
    bare = 0

    def mend(m: re.Match[bytes]) -> bytes:
        nonlocal bare
        name = m.group(1)
        if name is None:
            bare += 1
            return b"&amp;"
        text = name.decode("ascii")
        meaning = html.entities.html5.get(text + ";")
        if meaning is None:
            unknown[text] = None
            return b"&amp;" + name + b";"
        named[text] = None
        return "".join(f"&#{ord(c)};" for c in meaning).encode("ascii")

    if b"&" in data:
        data = b"".join(
            part if cdata else _AMPERSAND_RE.sub(mend, part) for part, cdata in _cdata_split(data)
        )
        for names, how in ((named, "read as HTML"), (unknown, "unknown, kept as text")):
            if names:
                listed = ", ".join(f"&{n};" for n in list(names)[:_MAX_NAMED])
                more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
                repairs.append(f"entity references {listed}{more} {how}")
        if bare:
            repairs.append(f"{bare} bare '&' read as '&amp;'")
    data, dropped = _XML_FORBIDDEN_RE.subn(b"", data)
    if dropped:
        repairs.append(f"{dropped} control characters dropped")
    root = _ROOT_TAG_RE.match(head)
    if root is not None:
        close = b"</" + root.group(1)
        end = data.rfind(close)
        if end >= 0:
            end = data.find(b">", end)
            tail = data[end + 1 :] if end >= 0 else b""
            if tail.strip() and not _ENTRY_TAG_RE.search(tail):  # never cut off entries
                repairs.append(f"{len(data) - end - 1} bytes after the root element cut off")
                data = data[: end + 1]
    return data, tuple(repairs)


def _fix_text(out: str) -> str:
    """feedparser's ``pop`` post-processing of text (after strip): Latin-1/UTF-8 repair, cp1252."""
    if out.isascii():
        return out
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        out = out.encode("iso-8859-1").decode("utf-8")
    if _C1_RE.search(out):
        out = out.translate(_CP1252)
    return out


def _leaf_text(el: Any) -> str:
    """Text of an element that must have no element children (comments and PIs are skipped)."""
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            raise Declined("markup inside a text element")
        parts.append(child.tail or "")
    return "".join(parts)


def _map_content_type(value: str) -> str:
    value = value.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(
        value, "application/xhtml+xml" if value == "xhtml" else value
    )


def _is_base64(attrs: dict[str, str], ctype: str) -> bool:
    if attrs.get("mode", "") == "base64":
        return True
    if ctype.startswith("text/"):
        return False
    return not (ctype.endswith("+xml") or ctype.endswith("/xml"))


def _add_tag(e: dict[str, Any], term: Any, scheme: Any, label: Any) -> None:
    tags = e.setdefault("tags", [])
    if not term and not scheme and not label:
        return
    value = {"term": term, "scheme": scheme, "label": label}
    if value not in tags:
        tags.append(value)


def _sync_author_detail(e: dict[str, Any]) -> None:
    """feedparser's ``_sync_author_detail`` on an entry dict."""
    detail = e.get("authors", [{}])[-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            e["author"] = f"{name} ({email})"
        elif name:
            e["author"] = name
        elif email:
            e["author"] = email
        return
    author, email = e.get("author"), None
    if not author:
        return
    match = _EMAIL_RE.search(author)
    if match:
        email = match.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "")
        author = author.strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author or email:
        e.setdefault("author_detail", detail)
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email


class _Entry:
    """One entry being built, with feedparser's per-entry property depths."""

    __slots__ = ("d", "depths", "inauthor")

    def __init__(self) -> None:
        self.d: dict[str, Any] = {}
        self.depths: dict[str, int] = {}
        self.inauthor = False

    def store(self, key: str, value: str, depth: int) -> None:
        old = self.depths.get(key)
        if old is None or depth <= old:
            self.depths[key] = depth
            self.d[key] = value


class _Walker:
    def __init__(self, decls: list[tuple[str, str]], n_root: int, base0: str, has_base: bool):
        self.version = ""
        self.nsmap: dict[str | None, str] = {}  # feedparser's namespacemap
        self.in_use: dict[str, str] = {}  # feedparser's namespaces_in_use
        self.ns_version_root = ""
        for i, (prefix, uri) in enumerate(decls):
            self._track(prefix or None, uri, at_root=i < n_root)
        self.keys: dict[str, str] = {}
        self.atom = False
        self.title_depth = -1
        self.has_content = False
        self.feed_has_summary = False
        self.guidislink = False
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.dates: dict[str, Any] = {}
        # feedparser's baseuri per element depth (it re-derives it at every start tag); with xml:base
        # (or a plain ``base`` attribute) somewhere, ``base`` walks the element's ancestors instead.
        self.base0 = base0
        self.has_base = has_base
        first = (make_safe_absolute_uri(base0, base0) or base0) if base0 else _urljoin(base0, base0)
        chain = [first]
        for _ in range(4):
            nxt = make_safe_absolute_uri(chain[-1], chain[-1]) or chain[-1] if chain[-1] else chain[-1]
            if nxt == chain[-1]:
                break
            chain.append(nxt)
        else:
            raise Declined("base URI does not settle")
        self.base_chain = chain

    # ---------------------------------------------------------------- namespaces and keys

    def _track(self, prefix: str | None, uri: str, *, at_root: bool) -> None:
        if not uri:
            return
        lower = uri.lower()
        if not self.version:
            version = ""
            if (prefix, lower) == (None, "http://my.netscape.com/rdf/simple/0.9/"):
                version = "rss090"
            elif lower == "http://purl.org/rss/1.0/":
                version = "rss10"
            elif lower == "http://www.w3.org/2005/atom":
                version = "atom10"
            if version:
                if not at_root:
                    raise Declined("format namespace declared below the root")
                self.version = version
        if "backend.userland.com/rss" in lower:
            uri = lower = "http://backend.userland.com/rss"
        if lower in _MATCHNS:
            std = _MATCHNS[lower]
            self._bind(self.nsmap, prefix, std, at_root)
            self._bind(self.in_use, std, uri, at_root)
        else:
            self._bind(self.in_use, prefix or "", uri, at_root)

    @staticmethod
    def _bind(table: dict[Any, str], key: Any, value: str, at_root: bool) -> None:
        old = table.get(key)
        if old is not None and old != value and key and not at_root:
            raise Declined("namespace prefix rebound mid-document")
        table[key] = value

    def key(self, tag: str) -> str:
        """feedparser's handler key for an lxml tag (``dc_creator``, ``title``, ``media_content``...)."""
        cached = self.keys.get(tag)
        if cached is not None:
            return cached
        if tag[0] == "{":
            ns, local = tag[1:].split("}", 1)
            lower = ns.lower()
            if "backend.userland.com/rss" in lower:
                ns = lower = "http://backend.userland.com/rss"
            prefix = _MATCHNS.get(lower)
            name = local
            if prefix:
                name = prefix + ":" + local
            elif ns:
                for p, value in self.in_use.items():
                    if p and value == ns:
                        name = p + ":" + local
                        break
        else:
            name = tag
        name = name.lower()
        if ":" in name:
            p, suffix = name.split(":", 1)
            p = self.nsmap.get(p, p)
            key = p + "_" + suffix if p else suffix
        else:
            key = name
        self.keys[tag] = key
        return key

    def attrs(self, el: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in el.attrib.items():
            if k[0] == "{":
                ns, local = k[1:].split("}", 1)
                prefix = _MATCHNS.get(ns.lower(), "")
                k = prefix + ":" + local if prefix else local
            k = k.lower()
            if k in ("rel", "type"):
                v = v.lower() or v
            out[k] = v
        return out

    def base(self, depth: int, el: Any) -> str:
        """feedparser's ``baseuri`` while it handles ``el`` (at ``depth``; the root is 1)."""
        if self.has_base:
            base = self.base0
            for node in [*reversed(list(el.iterancestors())), el]:
                attrs = self.attrs(node)
                given = attrs.get("xml:base", attrs.get("base")) or base
                base = (make_safe_absolute_uri(base, given) or base) if base else _urljoin(base, given)
            return str(base)
        chain = self.base_chain
        return chain[depth - 1] if depth <= len(chain) else chain[-1]

    def resolve(self, value: str, depth: int, el: Any) -> str:
        base = self.base(depth, el) or ""
        # Most links are absolute: urljoin would parse both and return the link (ingest.urls).
        if joins_to_itself(value) and (not base or _parses(base)):
            return value
        return str(_urljoin(base, value))

    def parse_date(self, value: str) -> Any:
        if value not in self.dates:
            self.dates[value] = _parse_date(value)
        return self.dates[value]

    # ---------------------------------------------------------------- document

    def run(self, root: Any) -> FastFeed:
        key = self.key(root.tag)
        attrs = self.attrs(root)
        if key == "rss":
            if not self.version.startswith("rss"):
                v = attrs.get("version", "")
                self.version = _RSS_VERSIONS.get(v) or ("rss20" if v.startswith("2.") else "rss")
        elif key == "feed":
            if not self.version:
                self.version = _ATOM_VERSIONS.get(attrs.get("version", ""), "atom")
        elif key == "rdf_rdf":
            if not self.version:
                raise Declined("RDF without an RSS namespace")
        else:
            raise Declined(f"root {key!r}")
        if key in ("rss", "feed"):
            lang = attrs.get("xml:lang", attrs.get("lang"))
            if lang:
                self.feed["language"] = lang.replace("_", "-")
        self.atom = self.version.startswith("atom")
        self.walk_feed(root, 1, infeed=key == "feed")
        return FastFeed(version=self.version, feed=self.feed, entries=tuple(self.entries))

    def text(self, el: Any, depth: int, *, resolve: bool = False) -> str:
        out = _leaf_text(el).strip()
        if resolve and out:
            out = self.resolve(out, depth, el)
        return _fix_text(out)

    def construct(self, el: Any, default_type: str) -> tuple[str, str, dict[str, str]]:
        """A text construct (title, summary, content...): ``(value, type, attrs)``, feedparser-processed."""
        attrs = self.attrs(el)
        ctype = _map_content_type(attrs.get("type", default_type))
        if _is_base64(attrs, ctype):
            raise Declined("base64 content")
        raw = _leaf_text(el)
        if ctype == "application/xhtml+xml":
            raw = xml.sax.saxutils.escape(raw)
        out = raw.strip()
        if not self.atom and ctype == "text/plain" and ("<" in out or "&" in out) and _LOOKS_LIKE_HTML(out):
            ctype = "text/html"
        return _fix_text(out), ctype, attrs

    # ---------------------------------------------------------------- feed level

    def walk_feed(self, parent: Any, depth: int, *, infeed: bool) -> None:
        for el in parent:
            if isinstance(el.tag, str):
                self.feed_element(el, depth + 1, infeed)

    def feed_element(self, el: Any, depth: int, infeed: bool) -> None:
        key = self.key(el.tag)
        if key in ("item", "entry"):
            self.entry(el, depth)
        elif key == "channel":
            attrs = self.attrs(el)
            if "lastmod" in attrs or "href" in attrs:
                raise Declined("CDF channel attributes")
            self.walk_feed(el, depth, infeed=True)
        elif key in _TITLE_KEYS:
            value, _, _ = self.construct(el, "text/plain")
            if not (-1 < self.title_depth <= depth) and infeed:
                self.feed["title"] = value
            if value and key != "media_title":
                self.title_depth = depth
        elif key == "link":
            self.feed_link(el, depth, infeed)
        elif key in ("guid", "id"):
            self.guidislink = self.attrs(el).get("ispermalink", "true") == "true"
            value = self.text(el, depth, resolve=self.guidislink)
            if self.guidislink:
                self.feed.setdefault("link", value)
        elif key in ("language", "dc_language"):
            value = self.text(el, depth)
            if infeed:
                self.feed["language"] = value
        elif key in ("image", "textinput"):
            self.feed_image(el, depth, _IMAGE_CHILDREN if key == "image" else _TEXTINPUT_CHILDREN)
        elif key in _DESCRIPTION_KEYS or key in _SUMMARY_KEYS or key == "abstract":
            if key != "abstract" and self.feed_has_summary and not self.has_content:
                self.has_content = True  # becomes feed-level content: feedparser's hasContent leaks
            elif key in _SUMMARY_KEYS:
                self.feed_has_summary = True
        elif key in ("content", "content_encoded", "fullitem", "body", "xhtml_body"):
            if key not in ("body", "xhtml_body"):
                self.has_content = True
            attrs = self.attrs(el)
            default = {"content": "text/plain", "body": "application/xhtml+xml"}.get(key, "text/html")
            if key == "xhtml_body":
                default = "application/xhtml+xml"
            if _map_content_type(attrs.get("type", default)) in _HTML_TYPES | {"text/plain"}:
                self.feed_has_summary = True
        elif key in ("rss", "feed", "source", "rdf_rdf"):
            raise Declined(f"{key} inside a feed")
        elif key in _FEED_TEXT_CONSTRUCTS:
            return  # markup inside them is text to feedparser, never dispatched
        elif key in _HANDLED:
            self.walk_feed(el, depth, infeed=infeed)  # harmless itself (author, dates...); look inside
        else:
            if key in _META_KEYS:
                attrs = self.attrs(el)
                if attrs:
                    self.feed[key] = attrs
                elif infeed:
                    self.feed[key] = self.text(el, depth)
            self.walk_feed(el, depth, infeed=infeed)

    def feed_link(self, el: Any, depth: int, infeed: bool) -> None:
        attrs = self.attrs(el)
        rel = attrs.setdefault("rel", "alternate")
        kind = attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href or "href" in attrs:
            href = self.resolve(href or attrs["href"], depth, el)
            if rel == "alternate" and _map_content_type(kind) in _HTML_TYPES:
                self.feed["link"] = href
            return
        value = self.text(el, depth, resolve=True)
        if infeed:
            self.feed["link"] = _AMP_REF_RE.sub(r"&\g<1>", value)

    def feed_image(self, el: Any, depth: int, allowed: frozenset[str]) -> None:
        self.title_depth = -1
        for child in el:
            if not isinstance(child.tag, str):
                continue
            key = self.key(child.tag)
            if "_" not in key and key not in allowed:
                raise Declined(f"<{key}> inside an image/textinput")
            if key in _TITLE_KEYS:
                if _leaf_text(child).strip() and key != "media_title":
                    self.title_depth = depth + 1
            elif len(child) and any(isinstance(g.tag, str) for g in child):
                raise Declined("nested markup inside an image/textinput")

    # ---------------------------------------------------------------- entries

    def entry(self, el: Any, depth: int) -> None:
        attrs = self.attrs(el)
        if "lastmod" in attrs or "href" in attrs:
            raise Declined("CDF item attributes")
        entry = _Entry()
        self.guidislink = False
        self.title_depth = -1
        about = attrs.get(self.nsmap.get("rdf", "rdf") + ":about")
        if about:
            entry.d["id"] = about
        self.walk_entry(el, depth, entry)
        self.has_content = False
        e = entry.d
        if not e.get("id") and not _has_surely_text(e):
            # normalise would hash the whole entry dict, which is not feedparser's here
            raise Declined("entry without a guid or a plain-text title, summary or content")
        self.entries.append(e)

    def walk_entry(self, parent: Any, depth: int, entry: _Entry) -> None:
        for el in parent:
            if isinstance(el.tag, str):
                self.entry_element(el, depth + 1, entry)

    def entry_element(self, el: Any, depth: int, entry: _Entry) -> None:
        key = self.key(el.tag)
        e = entry.d
        if key in _TITLE_KEYS:
            value, ctype, _ = self.construct(el, "text/plain")
            if not (-1 < self.title_depth <= depth):
                entry.store("title", value, depth)
                e["title_detail"] = {"type": ctype, "value": value}
            if value and key != "media_title":
                self.title_depth = depth
        elif key in _DESCRIPTION_KEYS or key in _SUMMARY_KEYS or key == "abstract":
            if key != "abstract" and "summary" in e and not self.has_content:
                self.content(el, depth, entry, "text/plain", sets_has_content=True)
            else:
                default = "text/html" if key in _DESCRIPTION_KEYS else "text/plain"
                value, ctype, _ = self.construct(el, default)
                entry.store("summary", value, depth)
                e["summary_detail"] = {"type": ctype, "value": value}
        elif key in ("content", "content_encoded", "fullitem"):
            self.content(el, depth, entry, "text/plain" if key == "content" else "text/html", True)
        elif key in ("body", "xhtml_body"):
            self.content(el, depth, entry, "application/xhtml+xml", sets_has_content=False)
        elif key == "link":
            self.entry_link(el, depth, e)
        elif key in ("guid", "id"):
            self.guidislink = self.attrs(el).get("ispermalink", "true") == "true"
            value = self.text(el, depth, resolve=self.guidislink)
            entry.store("id", value, depth)
            e.setdefault("guidislink", self.guidislink and "link" not in e)
            if self.guidislink:
                e.setdefault("link", value)
        elif key in _DATE_KEYS:
            name = _DATE_KEYS[key]
            value = self.text(el, depth)
            entry.store(name, value, depth)
            e[name + "_parsed"] = self.parse_date(value)
        elif key in _AUTHOR_KEYS:
            self.author(el, depth, entry)
        elif key in ("name", "itunes_name", "email", "itunes_email") and entry.inauthor:
            field = "name" if key.endswith("name") else "email"
            self.save_author(e, field, _leaf_text(el).strip())
        elif key in ("url", "homepage", "uri") and entry.inauthor:
            self.save_author(e, "href", self.text(el, depth, resolve=True))
        elif key in _CATEGORY_KEYS or key == "itunes_category":
            attrs = self.attrs(el)
            if key == "itunes_category":
                _add_tag(e, attrs.get("text"), "http://www.itunes.com/", None)
            else:
                if key == "media_category":
                    attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
                _add_tag(e, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
            value = _fix_text(self.category_text(el, depth, entry).strip())
            if value:
                tags = e["tags"]
                if tags and not tags[-1]["term"]:
                    tags[-1]["term"] = value
                else:
                    _add_tag(e, value, None, None)
        elif key in _SPLIT_TAG_KEYS:
            if key != "tags" and el.attrib:
                return  # feedparser stores the attributes and its end handler fails quietly
            scheme = _SPLIT_TAG_KEYS[key]
            for term in self.text(el, depth).split(","):
                if term.strip() or key == "tags":
                    _add_tag(e, term.strip(), scheme, None)
        elif key == "enclosure":
            attrs = self.enforce_href(self.attrs(el))
            attrs["rel"] = "enclosure"
            e.setdefault("links", []).append(attrs)
        elif key == "media_content":
            e.setdefault("media_content", []).append(self.attrs(el))
            self.walk_entry(el, depth, entry)
        elif key == "media_group":
            self.walk_entry(el, depth, entry)
        elif key == "media_thumbnail":
            thumbs = e.setdefault("media_thumbnail", [])
            attrs = self.attrs(el)
            thumbs.append(attrs)
            url = self.text(el, depth, resolve=True)
            if url.strip() and "url" not in attrs:
                attrs["url"] = url
        elif key in ("itunes_image", "itunes_link"):
            _leaf_text(el)
            attrs = self.attrs(el)
            if attrs.get("href"):
                e["image"] = {"href": attrs["href"]}
            elif attrs.get("url"):
                e["image"] = {"href": attrs["url"]}
        elif key == "source":
            self.source(el, depth)
        elif key in _HARMLESS:
            odd = key in ("contributor", "dc_contributor") and (
                entry.inauthor
                or any(isinstance(c.tag, str) and self.key(c.tag) not in _CONTRIBUTOR_CHILDREN for c in el)
            )
            if odd:
                raise Declined("unusual contributor")
        elif key in ("name", "email", "url", "homepage", "uri", "itunes_name", "itunes_email"):
            _leaf_text(el)  # outside an author: feedparser keeps them where normalise does not look
        elif key == "image" and not any(isinstance(c.tag, str) for c in el):
            # a text-only <image> in an item (CBS News): feedparser pushes it expecting no text and
            # stores nothing; only its reset of the first-title-wins depth shows
            self.title_depth = -1
        elif key in _HANDLED:
            raise Declined(f"<{key}> inside an entry")
        elif key in _RELEVANT or key.endswith(("_detail", "_parsed")):
            raise Declined(f"unknown element named {key!r} inside an entry")
        else:
            self.walk_entry(el, depth, entry)

    def category_text(self, el: Any, depth: int, entry: _Entry) -> str:
        """Text of a category element; nested itunes:category elements are entries of their own."""
        if len(el) == 0:
            return el.text or ""
        parts = [el.text or ""]
        for child in el:
            if isinstance(child.tag, str):
                if self.key(child.tag) != "itunes_category":
                    raise Declined("markup inside a category")
                self.entry_element(child, depth + 1, entry)
            parts.append(child.tail or "")
        return "".join(parts)

    def content(self, el: Any, depth: int, entry: _Entry, default: str, sets_has_content: bool) -> None:
        if sets_has_content:
            self.has_content = True
        value, ctype, attrs = self.construct(el, default)
        copy_to_summary = _map_content_type(attrs.get("type", default)) in _HTML_TYPES | {"text/plain"}
        item: dict[str, Any] = {"type": ctype, "value": value}
        if attrs.get("src"):
            item["src"] = attrs["src"]
        entry.d.setdefault("content", []).append(item)
        if copy_to_summary:
            entry.d.setdefault("summary", value)

    @staticmethod
    def enforce_href(attrs: dict[str, str]) -> dict[str, str]:
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs.pop("url", None)
            attrs.pop("uri", None)
            attrs["href"] = href
        return attrs

    def entry_link(self, el: Any, depth: int, e: dict[str, Any]) -> None:
        attrs = self.attrs(el)
        rel = attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        attrs = self.enforce_href(attrs)
        if "href" in attrs:
            attrs["href"] = self.resolve(attrs["href"], depth, el)
        links = e.setdefault("links", [])
        links.append(attrs)
        if "href" in attrs:
            if rel == "alternate" and _map_content_type(attrs["type"]) in _HTML_TYPES:
                e["link"] = attrs["href"]
            return
        value = self.text(el, depth, resolve=True)
        value = _AMP_REF_RE.sub(r"&\g<1>", value.replace("&amp;", "&"))
        e["link"] = value
        if value:
            links[-1]["href"] = value

    def author(self, el: Any, depth: int, entry: _Entry) -> None:
        e = entry.d
        if entry.inauthor:
            raise Declined("nested authors")
        e.setdefault("authors", []).append({})
        parts = [el.text or ""]
        entry.inauthor = True
        for child in el:
            if isinstance(child.tag, str):
                key = self.key(child.tag)
                if key not in _HANDLED and child.attrib and "".join(child.itertext()).strip():
                    raise Declined("text routed into an author")
                self.entry_element(child, depth + 1, entry)
            parts.append(child.tail or "")
        entry.inauthor = False
        entry.store("author", _fix_text("".join(parts).strip()), depth)
        _sync_author_detail(e)

    @staticmethod
    def save_author(e: dict[str, Any], field: str, value: str) -> None:
        e.setdefault("author_detail", {})[field] = value
        _sync_author_detail(e)
        e.setdefault("authors", [{}])[-1][field] = value

    def source(self, el: Any, depth: int) -> None:
        self.title_depth = -1
        for child in el:
            if not isinstance(child.tag, str):
                continue
            key = self.key(child.tag)
            if key in _TITLE_KEYS:
                if _leaf_text(child).strip() and key != "media_title":
                    self.title_depth = depth + 1
            elif key in ("content", "content_encoded", "fullitem", "summary", "itunes_summary") or (
                key in _DESCRIPTION_KEYS
            ):
                raise Declined("content inside a source")
