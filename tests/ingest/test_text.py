"""ingest.text: the table fold of long texts gives exactly the string fold; the fast token paths give
exactly the tokens of the definition."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest

from ingest import text
from ingest.text import fold, normalise_space, tokens
from tests.conftest import require_speedups


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


def _stream_reference(sample: str, keep_case: bool = False) -> str:
    """The definition: ``_WORD_RE``'s matches in the string fold, joined."""
    return " " + " ".join(text._WORD_RE.findall(text._fold_str(sample, keep_case))) + " "


def _python_stream(sample: str) -> str:
    return text._token_stream_py(sample)


def _c_stream(sample: str) -> str:
    speedups = require_speedups()
    out = speedups.token_stream(sample, 0)
    return _python_stream(sample) if out is None else out  # None: the text is for the Python path


@pytest.mark.parametrize(
    ("pool", "longest"),
    [
        # ASCII: short (bytes split) and long (numpy collapse); dots, separators, capitals
        (["a", "B", "1", "_", " ", ".", "..", "-", "'", "/", "\n", "a.b", "x."], 1500),
        # non-ASCII within the table planes: fold by table, then the word table
        (["a", "Ж", "é", "\u0301", "’", "…", "ß", "ﬁ", "™", "\u00ad", ".", " ", "İ", "½", "中"], 1500),
        # characters the table does not cover (astral, non-starters kept by fold): the string path
        (["a", " ", ".", "é", "\U0001f600", "\U00030001", "\u0f73", "\U0001d15e"], 1500),
    ],
)
@pytest.mark.parametrize("implementation", [_python_stream, _c_stream, text.token_stream])
def test_token_stream_equals_joined_tokens(
    pool: list[str], longest: int, implementation: Callable[[str], str]
) -> None:
    rng = random.Random(len(pool))
    for i in range(600):
        sample = "".join(rng.choice(pool) for _ in range(rng.randint(0, longest if i % 2 else 40)))
        assert implementation(sample) == _stream_reference(sample), repr(sample)
    for sample in ("", " ", ".", "." * 600, " " * 600, "a." * 300, "é" * 600, "\u0301" * 600, "™" * 600):
        assert implementation(sample) == _stream_reference(sample), repr(sample)


@pytest.mark.parametrize("seed", range(4))
def test_c_loops_equal_the_definitions_on_random_text(seed: int) -> None:
    speedups = require_speedups()
    rng = random.Random(seed)
    pool = [*"aZé ’—…ßİ\u0301\u0316\u00ad\u200bﬁ½Ω한Жї.._-'\n", "a.b", "x.", "\ud800", "\U0001f600"]
    pool += [chr(rng.randrange(text._TABLE_PLANES)) for _ in range(100)]
    wide = [*pool, "\U00030001", "\u0f73", chr(rng.randrange(text._TABLE_PLANES, 0x110000))]
    handled = 0
    for i in range(400):
        sample = "".join(rng.choice(wide if i % 4 == 0 else pool) for _ in range(rng.randint(0, 300)))
        for slot, keep_case in enumerate((False, True)):
            folded = speedups.fold(sample, slot)
            stream = speedups.token_stream(sample, slot)
            # None only for a code point beyond the tables or one whose fold keeps a non-starter
            beyond = any(ord(c) >= text._TABLE_PLANES for c in sample) or any(
                text._fold_table(keep_case).lengths[ord(c)] == text._SPECIAL
                for c in sample
                if ord(c) < text._TABLE_PLANES
            )
            assert (folded is None) == beyond and (stream is None) == beyond, repr(sample)
            if folded is not None:
                handled += 1
                assert folded == text._fold_str(sample, keep_case), repr(sample)
                assert stream == _stream_reference(sample, keep_case), repr(sample)
    assert handled > 100


def test_public_functions_take_the_c_loops_when_built() -> None:
    require_speedups()
    sample = "Défense anti-aérienne : l’OTAN livre des systèmes Patriot à l’Ukraine… Straße ﬁn. " * 3
    assert text.speedups_enabled()
    assert tokens(sample, keep_case=True)[:3] == ["Defense", "anti", "aerienne"]
    assert text.token_stream(sample).startswith(" defense anti aerienne l otan livre ")
    fold.cache_clear()
    assert fold(sample) == text._fold_str(sample, False)


def test_ascii_tokens_equal_word_regex_matches() -> None:
    rng = random.Random(3)
    pool = [*"aZ1_ .,-'`/\\\n\t", "..", "a.b", ". ", "..."]
    for _ in range(3000):
        sample = "".join(rng.choice(pool) for _ in range(rng.randint(0, 60)))
        assert tokens(sample) == text._WORD_RE.findall(text._fold_str(sample, False)), repr(sample)


def test_single_character_table_path() -> None:
    table = text._fold_table()
    single = [c for c in range(128, text._TABLE_PLANES) if table.lengths[c] == 1]
    rng = random.Random(4)
    for _ in range(50):
        sample = "".join(chr(rng.choice(single)) for _ in range(rng.randint(600, 2000)))
        codes = np.frombuffer(sample.encode("utf-32-le", "surrogatepass"), np.uint32)
        assert int(table.single.take(codes).max()) != text._NOT_SINGLE  # the one-look-up path
        assert text._fold_by_table(sample) == text._fold_str(sample, False)


def test_ascii_fold_equals_string_fold() -> None:
    every = "".join(map(chr, range(128)))
    rng = random.Random(128)
    samples = ["", every, every * 40, *every]
    samples += ["".join(rng.choice(every) for _ in range(rng.randint(0, 700))) for _ in range(500)]
    for sample in samples:
        for keep_case in (False, True):
            fold.cache_clear()
            assert fold(sample, keep_case=keep_case) == text._fold_str(sample, keep_case), repr(sample)


def test_other_white_space_is_every_white_space_but_space_and_newline() -> None:
    every = [chr(c) for c in range(0x110000)]
    white = [c for c in every if c.isspace() and c not in " \n"]
    assert [c for c in every if text.OTHER_WHITE_SPACE_RE.match(c)] == white
    assert not any(c.isprintable() for c in white)  # normalise_space's shortcut


def test_normalise_space_equals_split_join() -> None:
    rng = random.Random(7)
    white = [c for c in map(chr, range(0x3001)) if c.isspace()]
    pool = [*white, *"ab.é\x01\x00\u00ad\u200bЖ", "\U0001f600", "  ", "\n\n", " \n", "\r\n", "\ud800", "word"]
    ascii_pool = [c for c in pool if c.isascii()]
    samples = ["", " ", "\n", "a", " a ", "é  \n b", "\t\r\n", "x" * 5000 + "  " + "é"]
    for chosen in (pool, ascii_pool):
        samples += ["".join(rng.choice(chosen) for _ in range(rng.randint(0, 120))) for _ in range(20000)]
    for sample in samples:
        assert normalise_space(sample) == " ".join(sample.split()), repr(sample)


def test_normalise_space_python_path_equals_split_join() -> None:
    rng = random.Random(8)
    white = [c for c in map(chr, range(0x3001)) if c.isspace()]
    pool = [*white, *"ab.é\x01\x00Ж", "\U0001f600", "  ", "\n\n", "word"]
    for _ in range(5000):
        sample = "".join(rng.choice(pool) for _ in range(rng.randint(0, 120)))
        assert text._normalise_space_py(sample) == " ".join(sample.split()), repr(sample)
