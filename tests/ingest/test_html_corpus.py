"""``ingest.html`` against its previous definition on every text of the corpora (read in place).

Until 2026-11 the block sentinel was U+E000 and lines were collapsed by two regex substitutions; now it
is U+0001 and ``str.split`` (see ``ingest.html``). The two differ only where the input itself carries
one of the sentinels (a raw U+0001 or a character reference to U+0001/U+E000): a raw U+0001 becomes a
space instead of staying in the text, ``&#1;`` in markup a line break instead of a control character,
``&#xE000;`` the private-use character itself instead of a line break. No corpus text does; this
test keeps it so for every summary, content and title.
"""

from __future__ import annotations

import html as _html
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from ingest import html
from ingest.parse import parse_feed
from newswatch.errors import ParseError
from tests.ingest.test_corpus import CORPORA, SKIP_NAMES

pytestmark = pytest.mark.corpus

_OLD_LINE = "\ue000"
_OLD_BLOCK_RE = re.compile(html._BLOCK_RE.pattern, re.IGNORECASE)
_WS_RE = re.compile(r"\s+")
_BREAKS_RE = re.compile(" ?(?:\ue000 ?)+")


def _old_lines(text: str) -> str:
    if _OLD_LINE not in text:
        return " ".join(text.split())
    return _BREAKS_RE.sub("\n", _WS_RE.sub(" ", text)).strip(" \n")


def _old_convert(markup: str) -> str:
    if not html._MARKUP_HINT_RE.search(markup):
        text = _html.unescape(markup) if "&" in markup else markup
        return _old_lines(text.replace("\n", _OLD_LINE))
    markup = _OLD_BLOCK_RE.sub(_OLD_LINE + "<", markup)
    markup = html._SPACE_CELL_RE.sub(" <", markup)
    tree = LexborHTMLParser("<body>" + markup)
    tree.strip_tags(list(html.DROP_TAGS))
    root = tree.root
    return "" if root is None else _old_lines(root.text(deep=True, separator="", strip=False))


def old_html_to_text(markup: str) -> str:
    """``html_to_text`` as it was at commit 4972c31."""
    if not markup:
        return ""
    markup = markup.replace(_OLD_LINE, " ")
    if "<" not in markup and "&" not in markup:
        return _old_lines(markup.replace("\n", _OLD_LINE))
    text = _old_convert(markup)
    if "<" in text and html._TAG_RE.search(text):
        text = _old_convert(text)
        if "<" in text and html._TAG_RE.search(text):
            text = _old_lines(html._TAG_RE.sub(" ", text.replace("\n", _OLD_LINE)))
    return text


def texts(root: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = parse_feed(path.read_bytes(), url=path.as_uri())
        except ParseError:
            continue
        for entry in parsed.entries:
            values = [entry.get("title"), entry.get("summary")]
            values += [c.get("value") for c in entry.get("content") or () if isinstance(c, dict)]
            for value in values:
                if isinstance(value, str) and value:
                    yield str(path), value


def test_old_definition_agrees_on_edge_cases() -> None:
    for markup in ("<p>a</p>b", "x\ue000y", "a<br>b\n\nc", "<table><tr><td>1<td>2</table>", "&lt;p&gt;q"):
        assert html.html_to_text(markup) == old_html_to_text(markup)
    # The documented differences:
    assert (html.html_to_text("a\x01b"), old_html_to_text("a\x01b")) == ("a b", "a\x01b")
    assert (html.html_to_text("<b>a&#xE000;b</b>"), old_html_to_text("<b>a&#xE000;b</b>")) == (
        "a\ue000b",
        "a\nb",
    )


@pytest.mark.parametrize("name", CORPORA)
def test_same_text_as_the_old_definition(corpora: Path, name: str) -> None:
    root = corpora / name
    if not root.is_dir():
        pytest.skip(f"{root} missing")
    seen = 0
    diffs = []
    for where, value in texts(root):
        seen += 1
        if html.html_to_text(value) != old_html_to_text(value):
            diffs.append(f"{where}: {value[:80]!r}")
    assert seen
    assert not diffs, f"{len(diffs)} of {seen} texts differ:\n" + "\n".join(diffs[:20])
