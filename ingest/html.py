"""HTML → plain text for feed fields (titles, summaries, content). Pure functions, no markup kept.

feedparser's own sanitiser is what makes the naive path slow (see docs/decisions.md, "## Ingest: parsing
speed"), so entries are parsed with ``sanitize_html=False`` and converted here with selectolax (lexbor):
entities decoded, ``script``/``style``/``noscript``/``iframe``/... dropped with their content, block
elements (``p``, ``div``, ``br``, ``li``, headings, ...) become line breaks, table cells become spaces,
and white space is collapsed inside each line. Nothing is executed; the result never contains tags.

How block breaks survive the parser: before parsing, a sentinel character (U+0001) is inserted in
front of every block-level tag (a regex over the raw string, cheap); the parser's flat text then has a
sentinel wherever a line break belongs, and ordinary source white space is collapsed independently.
The sentinel is a C0 control, not a private-use character, so that Latin-1 markup stays a one byte per
character string through the substitutions, lexbor's UTF-8 round trip and the line collapsing (a
U+E000 made every string two bytes per character; ~5% of normalising). Input copies of the sentinel
(and of the old one, U+E000) become spaces first.
"""

from __future__ import annotations

import html as _html
import re

from selectolax.lexbor import LexborHTMLParser

from ingest.text import normalise_space, plain_speedups

# Elements removed together with everything inside them.
DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "iframe",
    "template",
    "svg",
    "math",
    "object",
    "embed",
    "frameset",
    "frame",
    "applet",
    "audio",
    "video",
    "canvas",
    "select",
    "button",
    "link",
    "meta",
    "base",
)

_BLOCK_TAGS = (
    "p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
    "table", "thead", "tbody", "tfoot", "caption", "blockquote", "pre", "section", "article", "aside",
    "header", "footer", "nav", "figure", "figcaption", "main", "address", "details", "summary", "form",
    "fieldset", "legend", "center", "title", "dialog", "menu",
)  # fmt: skip


def _trie(words: list[str]) -> str:
    """A regex matching exactly ``words``, as a trie (``d(?:iv|l)``): the engine tries alternatives one
    by one, so at every ``<`` a flat 45-way alternation cost 45 case-insensitive tests, the trie ~15."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[:1], []).append(word[1:])
    optional = "" in groups
    alternatives = [re.escape(head) + _trie(rest) for head, rest in sorted(groups.items()) if head]
    if not alternatives:
        return ""
    if len(alternatives) == 1 and not optional:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")" + ("?" if optional else "")


_LINE = "\x01"  # sentinel: a line break belongs here (not white space for ``str.split``)
_OLD_LINE = "\ue000"  # the earlier sentinel; still turned into a space, as it always was
_SPACE_CELL_RE = re.compile(r"<(?=/?(?:td|th)[\s/>])", re.IGNORECASE)
_BLOCK_RE = re.compile(rf"<(?=/?{_trie(list(_BLOCK_TAGS))}[\s/>])", re.IGNORECASE)
# Markup that survived one conversion (double-escaped feeds: ``&amp;lt;p&amp;gt;``).
_TAG_RE = re.compile(
    r"</?(?:p|div|br|a|img|span|b|i|em|strong|ul|ol|li|h[1-6]|script|style|iframe|table|blockquote)\b[^<>]*>",
    re.IGNORECASE,
)
_MARKUP_HINT_RE = re.compile(r"<[a-zA-Z!/?]")
# "<img" in markup.lower() without lower-casing the whole fragment: only I/i, M/m, G/g lower-case to
# "i", "m", "g" on their own (U+0130 lower-cases to "i" + a combining dot); checked in the tests.
_IMG_HINT_RE = re.compile("<[iI][mM][gG]")
_IMG_SRC_RE = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)


def _lines(text: str) -> str:
    """Collapse white space inside each line (split on the sentinel), drop empty lines.

    Whole-string C operations first: ``str.split()`` + ``" ".join`` collapse every white-space run to
    one space (the sentinel is not white space, so it survives), then the text is cut at the sentinels
    and each piece loses its (at most one) leading and trailing space; empty pieces are the empty lines.
    On the bodies of real feeds this is ~4x faster than the ``\\s+`` and sentinel-run substitutions it
    replaced (every gap between words was a match). ``tests/ingest/test_html.py`` checks it against
    the line loop.
    """
    collapsed = normalise_space(text)  # == " ".join(text.split()), without the list of words
    if _LINE not in collapsed:
        return collapsed
    return "\n".join([line for line in [piece.strip(" ") for piece in collapsed.split(_LINE)] if line])


def _scrub(text: str) -> str:
    """``text`` with any sentinel it carries (or U+E000, the sentinel until 2026-11) made a space."""
    if _LINE in text:
        text = text.replace(_LINE, " ")
    if _OLD_LINE in text:  # free for Latin-1 text: a wider character is never found in a narrower string
        text = text.replace(_OLD_LINE, " ")
    return text


_BLOCK_SET = frozenset(_BLOCK_TAGS)
_CELL_SET = frozenset(("td", "th"))


def _mark_blocks(markup: str) -> str:
    """A line sentinel before every block tag, a space before every table cell (``_BLOCK_RE`` and
    ``_SPACE_CELL_RE``): one pass in C where it is built (a regex pass tries the tag names at every
    ``<``), else the two substitutions. Tests compare both on random markup."""
    plain = plain_speedups()
    if plain is not None:
        out: str | None = plain.mark_blocks(markup, _LINE, _BLOCK_SET, _CELL_SET)
        if out is not None:
            return out
    return _SPACE_CELL_RE.sub(" <", _BLOCK_RE.sub(_LINE + "<", markup))


def _convert(markup: str) -> str:
    if not _MARKUP_HINT_RE.search(markup):
        # No tags at all: entities and white space only.
        text = _html.unescape(markup) if "&" in markup else markup
        return _lines(text.replace("\n", _LINE))
    markup = _mark_blocks(markup)
    # Parsed in body context, so a leading <noscript>/<style> is not hoisted into <head> as text.
    tree = LexborHTMLParser("<body>" + markup)
    tree.strip_tags(list(DROP_TAGS))
    root = tree.root
    if root is None:
        return ""
    text = root.text(deep=True, separator="", strip=False)
    return _lines(text)


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: paragraphs on their own lines, white space collapsed.

    A fragment that still contains tags after one pass (double-escaped feeds) is converted once more.
    """
    if not markup:
        return ""
    markup = _scrub(markup)
    if "<" not in markup and "&" not in markup:
        return _lines(markup.replace("\n", _LINE))
    text = _convert(markup)
    if "<" in text and _TAG_RE.search(text):
        text = _convert(text)
        if "<" in text and _TAG_RE.search(text):
            # Triple-escaped or adversarial: never hand markup on.
            text = _lines(_TAG_RE.sub(" ", text.replace("\n", _LINE)))
    return text


def plain_text(text: str | None) -> str:
    """Text that is declared plain: only line structure and white space are normalised."""
    if not text:
        return ""
    return _lines(_scrub(text).replace("\r", "").replace("\n", _LINE))


def one_line(text: str) -> str:
    """A title: everything on one line."""
    return normalise_space(text)


def first_image_src(markup: str | None) -> str | None:
    """The ``src`` of the first ``<img>`` in an HTML fragment (raw, not resolved), if any."""
    if not markup or not _IMG_HINT_RE.search(markup):
        return None
    for match in _IMG_SRC_RE.finditer(markup):
        src = _html.unescape(next(g for g in match.groups() if g is not None)).strip()
        if src and not src.lower().startswith("data:"):
            return src
    return None
