"""Highlighting on the ORIGINAL text from folded query terms (pure).

Elasticsearch would highlight the folded fields (``defense anti aerienne``); readers want « défense
anti-aérienne ». ``ingest.text.fold_with_offsets`` maps every folded character back to its source
character, so matches found on folded tokens are marked in the original text.

A match is: a token equal to a single-word term; a run of tokens equal to a multi-word term or phrase
(``anti aerienne``); a run of 2-4 tokens that glue into a term (``antiaerienne`` marks ``anti-aérienne``);
a token starting with a prefix. Used by search (HTML ``<mark>``, escaped) and by alerts (plain text).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ingest.text import fold_with_offsets, tokens

_WORD_RE = re.compile(r"\w+(?:[.]\w+)*", re.UNICODE)
_MAX_GLUE = 4
ELLIPSIS = "…"


@dataclass(frozen=True)
class Markers:
    open: str
    close: str
    escape: Callable[[str], str] | None = None


HTML = Markers("<mark>", "</mark>", html.escape)
PLAIN = Markers("«", "»")
ANSI_BOLD = Markers("\x1b[1m", "\x1b[22m")


def find_matches(text: str, terms: Iterable[str], prefixes: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` in ``text`` (original characters) matched by the terms/prefixes.

    Terms are folded here too (folding is idempotent), so callers may pass them folded or not.
    """
    folded, offsets = fold_with_offsets(text)
    toks = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(folded)]
    if not toks:
        return []
    seqs = [tuple(tokens(t)) for t in terms if tokens(t)]
    singles = {s[0] for s in seqs if len(s) == 1}
    multis = [s for s in seqs if len(s) > 1]
    glued = {"".join(s) for s in seqs}
    pfx = tuple(p for p in ("".join(tokens(p)) for p in prefixes) if p)
    words = [t[0] for t in toks]
    spans: list[tuple[int, int]] = []
    for i, (word, _start, _end) in enumerate(toks):
        best = 0  # number of tokens matched starting at i
        if word in singles or (pfx and word.startswith(pfx)):
            best = 1
        for seq in multis:
            if len(seq) > best and tuple(words[i : i + len(seq)]) == seq:
                best = len(seq)
        if glued or pfx:
            acc = word
            for k in range(1, min(_MAX_GLUE, len(toks) - i)):
                before = len(acc)
                acc += words[i + k]
                if k + 1 > best and (acc in glued or any(len(p) > before and acc.startswith(p) for p in pfx)):
                    best = k + 1
        if best:
            fs, fe = toks[i][1], toks[i + best - 1][2]
            spans.append((offsets[fs], offsets[fe - 1] + 1))
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def mark(text: str, spans: Sequence[tuple[int, int]], markers: Markers = HTML) -> str:
    esc = markers.escape or (lambda s: s)
    parts: list[str] = []
    pos = 0
    for s, e in spans:
        parts.append(esc(text[pos:s]))
        parts.append(markers.open + esc(text[s:e]) + markers.close)
        pos = e
    parts.append(esc(text[pos:]))
    return "".join(parts)


def _window(text: str, spans: list[tuple[int, int]], first: int, size: int) -> tuple[int, int]:
    """A window of about ``size`` characters starting a little before span ``first``, cut at spaces."""
    s, e = spans[first]
    lead = max(0, min(size // 4, size - (e - s)))
    start = max(0, s - lead)
    end = min(len(text), max(e, start + size))
    if start > 0:
        sp = text.find(" ", start, s)
        start = sp + 1 if sp >= 0 else start
    if end < len(text):
        sp = text.rfind(" ", e, end)
        end = sp if sp > 0 else end
    return start, end


def highlight(
    text: str,
    terms: Iterable[str],
    prefixes: Iterable[str] = (),
    fragment_size: int = 160,
    max_fragments: int = 3,
    markers: Markers = HTML,
) -> list[str]:
    """Up to ``max_fragments`` fragments of ``text`` around the matches, matches wrapped in markers.

    Fragments are chosen by number of matches and returned in text order; ``…`` marks cut ends.
    No match -> ``[]``. The default markers are ``<mark>`` with the text HTML-escaped.
    """
    if not text:
        return []
    spans = find_matches(text, terms, prefixes)
    if not spans:
        return []
    if len(text) <= fragment_size:
        return [mark(text, spans, markers)]
    candidates: list[tuple[int, int, list[tuple[int, int]]]] = []
    for i in range(len(spans)):
        start, end = _window(text, spans, i, fragment_size)
        inside = [(s, e) for s, e in spans if s >= start and e <= end]
        candidates.append((start, end, inside))
    candidates.sort(key=lambda c: (-len(c[2]), c[0]))
    chosen: list[tuple[int, int, list[tuple[int, int]]]] = []
    for cand in candidates:
        if len(chosen) >= max_fragments:
            break
        if any(cand[0] < c[1] and c[0] < cand[1] for c in chosen):
            continue
        chosen.append(cand)
    out: list[str] = []
    for start, end, inside in sorted(chosen, key=lambda c: c[0]):
        shifted = [(s - start, e - start) for s, e in inside]
        frag = mark(text[start:end], shifted, markers)
        out.append((ELLIPSIS if start > 0 else "") + frag + (ELLIPSIS if end < len(text) else ""))
    return out


def highlight_plain(
    text: str,
    terms: Iterable[str],
    prefixes: Iterable[str] = (),
    fragment_size: int = 160,
    max_fragments: int = 3,
) -> list[str]:
    """``highlight`` with « » markers and no escaping: for terminals and plain-text emails."""
    return highlight(text, terms, prefixes, fragment_size, max_fragments, PLAIN)
