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

# Characters that separate words even though Unicode calls some of them punctuation *inside* words.
_SEPARATORS = {
    "'",
    "’",
    "‘",
    "ʼ",
    "`",
    "´",
    "-",
    "‐",
    "‑",
    "‒",
    "–",
    "—",
    "_",
    "/",
    "\u00ad",
}

_WORD_RE = re.compile(r"\w+(?:[.]\w+)*", re.UNICODE)


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    if ch in _SEPARATORS:
        return " "
    if ch == "\u00ad":  # soft hyphen: invisible
        return ""
    decomposed = unicodedata.normalize("NFKD", ch.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` (see module docstring)."""
    if text.isascii():
        # Fast path: most feed text in en/fr is largely ASCII.
        return text.lower().translate(_ASCII_SEPARATORS)
    return "".join(_fold_char(ch) for ch in text)


_ASCII_SEPARATORS = str.maketrans({c: " " for c in _SEPARATORS if c.isascii()})


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, per folded character, the index of its source character in ``text``."""
    parts: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        parts.append(folded)
        offsets.extend([i] * len(folded))
    return "".join(parts), offsets


def tokens(text: str) -> list[str]:
    """Folded word tokens of ``text`` (the unit topic rules and queries match on)."""
    return _WORD_RE.findall(fold(text))


def normalise_space(text: str) -> str:
    """Collapse runs of white space to one space and strip the ends."""
    return " ".join(text.split())
