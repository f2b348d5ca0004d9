from __future__ import annotations

import pytest

from index.highlight import ANSI_BOLD, ELLIPSIS, HTML, PLAIN, find_matches, highlight, highlight_plain


@pytest.mark.parametrize(
    ("text", "terms", "prefixes", "expected"),
    [
        ("la défense anti-aérienne", ["defense"], [], "la «défense» anti-aérienne"),
        ("la DÉFENSE", ["defense"], [], "la «DÉFENSE»"),
        ("la défense anti-aérienne", ["anti aerienne"], [], "la défense «anti-aérienne»"),
        ("la défense anti-aérienne", ["antiaerienne"], [], "la défense «anti-aérienne»"),
        ("la défense anti-aérienne", ["defense anti aerienne"], [], "la «défense anti-aérienne»"),
        ("à l’OTAN et à l'Otan", ["otan"], [], "à l’«OTAN» et à l'«Otan»"),
        ("missiles et missile", [], ["missil"], "«missiles» et «missile»"),
        ("anti-aériens", [], ["antiaer"], "«anti-aériens»"),
        ("Україна і Київ", ["украіна", "киів"], [], "«Україна» і «Київ»"),
        ("Україна і Київ", ["Україна"], [], "«Україна» і Київ"),  # unfolded terms are folded
        ("ПВО России", ["пво"], [], "«ПВО» России"),
        ("Straße strasse", ["strasse"], [], "«Straße» «strasse»"),
        ("defenseless defense", ["defense"], [], "defenseless «defense»"),  # whole words only
        ("nothing here", ["otan"], [], None),
        ("", ["otan"], [], None),
    ],
)
def test_highlight_table(text: str, terms: list[str], prefixes: list[str], expected: str | None) -> None:
    result = highlight_plain(text, terms, prefixes)
    assert result == ([expected] if expected is not None else [])


def test_html_markers_escape_the_text() -> None:
    assert highlight("<b>OTAN</b> & co", ["otan"]) == ["&lt;b&gt;<mark>OTAN</mark>&lt;/b&gt; &amp; co"]
    assert highlight("OTAN", ["otan"], markers=ANSI_BOLD) == ["\x1b[1mOTAN\x1b[22m"]
    assert HTML.open == "<mark>" and PLAIN.open == "«"


def test_spans_point_into_the_original_text() -> None:
    text = "Ça, c’est la défense anti-aérienne"
    spans = find_matches(text, ["defense", "antiaerienne"])
    assert [text[s:e] for s, e in spans] == ["défense", "anti-aérienne"]


def test_long_text_gives_bounded_fragments_in_text_order() -> None:
    filler = "lorem ipsum dolor sit amet " * 20
    text = f"OTAN au début. {filler} défense au milieu. {filler} OTAN et défense à la fin."
    frags = highlight_plain(text, ["otan", "defense"], fragment_size=80, max_fragments=2)
    assert len(frags) == 2
    assert all(len(f) <= 80 + 2 * len(ELLIPSIS) + 4 * 2 for f in frags)
    # The densest fragment (two matches at the end) is chosen, and fragments come in text order.
    assert "«OTAN» et «défense»" in frags[1]
    assert frags[1].startswith(ELLIPSIS) and not frags[1].endswith(ELLIPSIS)
    assert text.index(frags[0].strip(ELLIPSIS).replace("«", "").replace("»", "")[:20]) < text.index(
        "OTAN et défense"
    )


def test_max_fragments_is_respected() -> None:
    text = ("OTAN " + "x " * 200) * 10
    assert len(highlight_plain(text, ["otan"], fragment_size=50, max_fragments=3)) == 3
