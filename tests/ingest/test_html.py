from __future__ import annotations

import pytest

from ingest.html import first_image_src, html_to_text, plain_text


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("", ""),
        ("plain   text", "plain text"),
        ("a &amp; b &lt;c&gt; &eacute; &#8212; &#x2014;", "a & b <c> é — —"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("in<span>line</span>", "inline"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<h2>Head</h2>text", "Head\ntext"),
        ("<table><tr><td>x</td><td>y</td></tr></table>", "x y"),
        ("<p>  lots \n\t of   space  </p>", "lots of space"),
        ("<script>alert('x')</script>visible", "visible"),
        ("<style>p{color:red}</style>visible", "visible"),
        ("<noscript>no js</noscript>visible", "visible"),
        ("<iframe src='x'>frame</iframe>visible", "visible"),
        ("<SCRIPT type='text/javascript'>evil()</SCRIPT><P>Up</P>", "Up"),
        ("<p onclick='evil()'>click</p>", "click"),
        ("<!-- comment --><p>after</p>", "after"),
        ("&lt;p&gt;escaped&lt;/p&gt;", "escaped"),
        ("&amp;lt;p&amp;gt;twice", "&lt;p&gt;twice"),  # rendered text, one level of escaping
        ("&lt;p&gt;&lt;b&gt;x&lt;/b&gt;&lt;/p&gt;", "x"),
        ("non&nbsp;breaking", "non breaking"),
        ("<img src='x.jpg' alt='pic'>", ""),
        ("<p>unclosed <b>tags", "unclosed tags"),
        ("first\n\nsecond", "first\nsecond"),
        ("<div><p>nested</p></div>", "nested"),
        ("x\ue000y", "x y"),  # the sentinel until 2026-11, still a space
        ("x\x01y", "x y"),  # the sentinel itself, in the input
        ("<p>a\x01b</p>c\ue000d", "a b\nc d"),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


def test_plain_text_keeps_lines() -> None:
    assert plain_text("a  b\r\n\r\n c ") == "a b\nc"


@pytest.mark.parametrize(
    ("markup", "src"),
    [
        ('<p><img src="/a.jpg"></p>', "/a.jpg"),
        ("<IMG alt='x' SRC='b.png'>", "b.png"),
        ("<img src=c.gif>", "c.gif"),
        ('<img src="data:image/png;base64,AAA"><img src="d.jpg">', "d.jpg"),
        ('<img src="e.jpg?a=1&amp;b=2">', "e.jpg?a=1&b=2"),
        ("<p>no image</p>", None),
        (None, None),
    ],
)
def test_first_image_src(markup: str | None, src: str | None) -> None:
    assert first_image_src(markup) == src


def test_block_tag_trie_matches_the_flat_alternation() -> None:
    import re

    from ingest import html

    flat = re.compile(rf"<(?=/?(?:{'|'.join(html._BLOCK_TAGS)})[\s/>])", re.IGNORECASE)
    names = [*html._BLOCK_TAGS, "span", "a", "d", "h7", "pr", "prex", "Section", "ſection", "DIV", "lı", "lİ"]
    for name in names:
        for opening in ("<", "</"):
            for end in (">", " ", "/", "x", "", "\n"):
                markup = f"x{opening}{name}{end}y"
                assert html._BLOCK_RE.sub("|", markup) == flat.sub("|", markup), markup


def _lines_reference(text: str) -> str:
    from ingest.html import _LINE

    out = []
    for line in text.split(_LINE):
        collapsed = " ".join(line.split())
        if collapsed:
            out.append(collapsed)
    return "\n".join(out)


def test_line_collapsing_equals_the_line_loop() -> None:
    import random

    from ingest.html import _LINE, _lines

    alphabet = ["a", "b", " ", "\t", "\n", "\xa0", "\u2003", _LINE, _LINE, "é", "\r", "\u3000", "\x1f"]
    alphabet.append("\ue000")
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert _lines(text) == _lines_reference(text), repr(text)


def test_image_hint_is_lower_then_find() -> None:
    """``_IMG_HINT_RE`` finds exactly where ``"<img" in markup.lower()`` would. Only characters that
    lower-case to something else can differ, so every one of them is tried in every place."""
    from ingest.html import _IMG_HINT_RE

    changing = [c for c in map(chr, range(0x110000)) if c.lower() != c]
    assert len(changing) > 1000
    for c in [*changing, "<", "i", "m", "g", "x"]:
        for markup in (f"<{c}mg", f"<i{c}g", f"<im{c}", f"{c}img", f"{c}<img", f"<{c}{c}g"):
            assert bool(_IMG_HINT_RE.search(markup)) == ("<img" in markup.lower()), repr(markup)


def test_mark_blocks_equals_the_two_substitutions() -> None:
    """The C pass (where built) gives what the block and cell regexes give, on random markup with every
    tag name, case, end character and the four characters re.IGNORECASE matches to ASCII letters."""
    import random

    from ingest import html

    names = [*html._BLOCK_TAGS, "td", "th", "TD", "span", "a", "h7", "pr", "prex", "Section", "ſection", "lı",
             "lİ", "blocKquote", "blocquote", "x" * 20, ""]  # fmt: skip
    pieces = ["<", "</", "< ", "<<", ">", "/", " ", "\n", "\u00a0", "\u3000", "text", "é", "ж", "\x01"]
    rng = random.Random(5)
    for _ in range(3000):
        parts = [rng.choice(pieces) + (rng.choice(names) if rng.random() < 0.5 else "") for _ in range(12)]
        markup = "".join(parts[: rng.randint(0, 12)])
        expected = html._SPACE_CELL_RE.sub(" <", html._BLOCK_RE.sub(html._LINE + "<", markup))
        assert html._mark_blocks(markup) == expected, repr(markup)
        plain = html.plain_speedups()
        if plain is not None:
            out = plain.mark_blocks(markup, html._LINE, html._BLOCK_SET, html._CELL_SET)
            # None only where a name goes on with one of the four characters
            assert out == expected or (out is None and any(c in markup for c in "İıſK")), repr(markup)
