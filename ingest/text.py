"""Text folding shared by tagging, indexing, search and highlighting.

Search must find « défense anti-aérienne » with ``defense antiaerienne`` and ``OTAN`` with ``otan``.
The Elasticsearch we can rely on has only the ``standard`` analyzer, so folding is done here, in one
place, and applied identically to documents (``*_folded`` fields), queries and topic rules.

``fold`` lower-cases (casefold), decomposes (NFKD) and drops combining marks, so é→e, ß→ss, ї→і,
й→и; apostrophes and hyphens become spaces so ``anti-aérienne`` is the two words ``anti aerienne``
and ``l’OTAN`` is ``l otan``. ``fold_with_offsets`` also returns, for every folded character, the index
of the original character it came from, so matches found on folded text can be highlighted in the
original.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import regex

# Characters that separate words even though Unicode calls some of them punctuation *inside* words.
# Applied after case folding and decomposition, so compatibility forms (fullwidth hyphen) count too.
_SEPARATORS = "'’‘ʼ`´-‐‑‒–—_/"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen, zero-width spaces/joiners, BOM

_WORD_RE = re.compile(r"\w+(?:[.]\w+)*", re.UNICODE)
_SEPARATOR_RE = re.compile("[" + re.escape(_SEPARATORS) + "]")
_ASCII_TABLE = str.maketrans({c: " " for c in _SEPARATORS if c.isascii()})


# Nonspacing marks (accents, Cyrillic breve and diaeresis, ...) and invisible characters. The `regex`
# module's \p{Mn} class costs ~10 ns a character; a stdlib character class of every combining code
# point was 10x slower, and folding runs on every field of every article.
_DROP_RE = regex.compile(r"[\p{Mn}" + _INVISIBLE + "]+")


@lru_cache(maxsize=4096)
def fold(text: str, *, keep_case: bool = False) -> str:
    """Case- and accent-insensitive form of ``text`` (see module docstring); accents only with ``keep_case``.

    Whole-string operations only (casefold, NFKD, one regex pass each), all in C: this runs on every
    field of every article and every query, so it must cost microseconds, not a Python loop per char.
    Cached: the tagger, the story fingerprint and the index document fold the same fields of the same
    article one after another, and a ``str`` caches its own hash, so a repeat costs a dict look-up.
    """
    if text.isascii():
        return (text if keep_case else text.lower()).translate(_ASCII_TABLE)
    folded = unicodedata.normalize("NFKD", text if keep_case else text.casefold())
    folded = _DROP_RE.sub("", folded)
    return _SEPARATOR_RE.sub(" ", folded)


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    return fold(ch)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, per folded character, the index of its source character in ``text``.

    Folding is per character (no character's folded form depends on its neighbours), so the
    concatenation of per-character folds equals ``fold(text)``; a test checks it on random text.
    """
    parts: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        parts.append(folded)
        offsets.extend([i] * len(folded))
    return "".join(parts), offsets


def tokens(text: str, *, keep_case: bool = False) -> list[str]:
    """Folded word tokens of ``text`` (the unit topic rules and queries match on)."""
    return _WORD_RE.findall(fold(text, keep_case=keep_case))


def normalise_space(text: str) -> str:
    """Collapse runs of white space to one space and strip the ends."""
    return " ".join(text.split())
