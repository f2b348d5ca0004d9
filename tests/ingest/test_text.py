"""ingest.text: the table fold of long texts gives exactly the string fold."""

from __future__ import annotations

import random

import pytest

from ingest import text
from ingest.text import fold, tokens


def test_table_fold_equals_string_fold_for_every_code_point() -> None:
    table = text._fold_table()
    step = 2048
    for start in range(1, text._TABLE_PLANES, step):
        codes = range(start, min(start + step, text._TABLE_PLANES))
        # (characters whose fold keeps a non-starter go the string way: checked below)
        block = "".join(chr(c) for c in codes if table.lengths[c] != text._SPECIAL)
        # every character alone (between spaces) and the block as one text
        for sample in ("é " + " ".join(block), "é" + block):
            assert text._fold_by_table(sample) == text._fold_str(sample, False), hex(start)
    specials = [c for c in range(text._TABLE_PLANES) if table.lengths[c] == text._SPECIAL]
    assert 0 < len(specials) < 100
    for c in specials:
        assert text._fold_by_table("é" + chr(c) * 600) is None


@pytest.mark.parametrize("seed", range(5))
def test_table_fold_on_random_text(seed: int) -> None:
    rng = random.Random(seed)
    pool = list("aé ’—…ßİ\u0301\u0316\u00ad\u200bﬁ½Ω한\ud800\U0001f600\U000e0100") + [
        chr(rng.randrange(0x110000)) for _ in range(200)
    ]
    for _ in range(200):
        sample = "".join(rng.choice(pool) for _ in range(rng.randint(1, 1500)))
        by_table = text._fold_by_table(sample)
        if by_table is not None:
            assert by_table == text._fold_str(sample, False)
        assert fold(sample) == text._fold_str(sample, False)


def test_long_text_folds_like_short_parts() -> None:
    part = "Défense anti-aérienne : l’OTAN livre des systèmes Patriot à l’Ukraine… Straße ﬁn. "
    long_text = part * 40
    assert len(long_text) >= text._TABLE_MIN_CHARS
    assert fold(long_text) == fold(part) * 40
    assert tokens(long_text)[:6] == ["defense", "anti", "aerienne", "l", "otan", "livre"]
    assert fold(long_text, keep_case=True).startswith("Defense anti aerienne")


@pytest.mark.parametrize("length", [30, 800])
def test_tokens_equal_word_regex_matches(length: int) -> None:
    rng = random.Random(length)
    pool = [*"ab1_ .,-'’é\u0301Ж中²½\n\t…ſ", "..", "a.b", ". ", "\U0001f600", "\U00030001", "İ"]
    for _ in range(3000 if length < 100 else 300):
        sample = "".join(rng.choice(pool) for _ in range(rng.randint(0, length)))
        for keep_case in (False, True):
            expected = text._WORD_RE.findall(fold(sample, keep_case=keep_case))
            assert tokens(sample, keep_case=keep_case) == expected, repr(sample)
