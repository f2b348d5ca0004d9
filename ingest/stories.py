"""Near-duplicate stories: 64-bit SimHash fingerprints and a bounded, time-windowed index.

``fingerprint(text)`` is pure and stable across processes (blake2b, not ``hash()``), so the indexer can
store it with the document and a restarted service can warm a ``StoryIndex`` from recent documents
(``StoryIndex.add(article_id, fingerprint, published_at, story_id=...)``).

What is fingerprinted (``story_text``): the article body (content, else summary) with feed boilerplate
removed -- "Read more at ...", "The post ... appeared first on ...", "Continue reading", copyright
lines, URLs, wire datelines such as ``KYIV (Reuters) -`` -- folded with ``ingest.text.fold`` and cut to
its first ``MAX_TOKENS`` words, because syndicated copies agree on the opening and differ at the
tail (outlet boilerplate, later updates). Titles are only used when the body is too short, since
outlets rewrite titles. Shingles are word 3-grams (plus single words for very short texts).

Features: the words themselves plus word 3-shingles (measured in ``bench/stories.py``: words alone
bring same-topic stories too close, shingles alone make an edited figure or an added sentence cost
too many bits).

Lookup: a fingerprint within Hamming distance ``max_distance`` (default 7) of an indexed one, published
within ``window`` (default 72 h) of it, joins that story. The 64 bits are split into 4 bands of 16
bits; two fingerprints within distance ``k`` differ in at most ``k // 4`` bits in at least one band
(pigeonhole), so the lookup probes, in each band, the exact key and every key within ``k // 4`` bits
of it (1 + 16 keys per band for k = 7), and compares only the entries found there. Memory is bounded
by ``max_entries``: the oldest entries (by publication time) are evicted first, and entries older than
the window behind the newest one are dropped as new ones arrive.

``story_id`` is the id of the first article of the story (the first one this index saw).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ingest.model import Article
from ingest.text import normalise_space, plain_speedups, tokens

MAX_TOKENS = 100
MIN_BODY_TOKENS = 8
_BANDS = 4
_BAND_BITS = 16
SHINGLE = 3
_MASK64 = (1 << 64) - 1

_URL = re.compile(r"https?://\S+|www\.\S+")
# Wire datelines: "KYIV (Reuters) -", "PARIS (AFP) —", "Kyiv, 12 March (Ukrinform) -"
_DATELINE = re.compile(
    r"^[^\n()]{0,60}\((reuters|ap|afp|dpa|pap|ukrinform|укрінформ|interfax[^)]*|tass|ria[^)]*|unian)\)\s*[-–—:]\s*",
    re.IGNORECASE,
)
# Outlet boilerplate at the end of the text (or of a line): applied to the last _TAIL characters only.
_TAIL = 320
_TAIL_BOILERPLATE = re.compile(
    "|".join(
        (
            r"the post .{0,300}? appeared first on .{0,200}?(\.|$)",
            r"\b(read|see|find out) more( at| on| from)?\b.{0,120}$",
            r"\b(continue reading|read the full (story|article)|click here)\b.{0,120}$",
            r"\b(lire la suite|la suite sur|en savoir plus|weiterlesen|mehr dazu|mehr lesen)\b.{0,120}$",
            r"\b(czytaj (więcej|dalej|też))\b.{0,120}$",
            r"\b(читати далі|читайте також|подробнее|читать далее|читайте также)\b.{0,120}$",
            r"(©|\(c\)|copyright)\s.{0,120}$",
            r"\ball rights reserved\b.*$",
        )
    ),
    re.IGNORECASE | re.MULTILINE,
)


# Every match of _TAIL_BOILERPLATE contains one of these (as a case-insensitive match), so a tail that
# contains none of them is left as it is without running the regex (46 µs on 320 characters).
_TAIL_KEYS = (
    "appeared first on",
    "more",
    "continue reading",
    "read the full",
    "click here",
    "lire la suite",
    "la suite sur",
    "en savoir plus",
    "weiterlesen",
    "mehr dazu",
    "mehr lesen",
    "czytaj",
    "читати далі",
    "читайте також",
    "подробнее",
    "читать далее",
    "читайте также",
    "©",
    "(c)",
    "copyright",
    "all rights reserved",
)
# ``re.IGNORECASE`` matches a character whose *simple* lower case equals the pattern's, plus a few extra
# equivalences (``re._casefix``); ``str.lower`` gives the same except for these, mapped first so that
# ``_tail_key(t)`` contains a key exactly when the regex could match (tests/ingest/test_stories.py
# checks every code point).
_CASE_EXTRAS = str.maketrans(
    {
        "\u0130": "i",  # İ: str.lower gives "i̇" (two characters), the regex compares with "i"
        "\u0131": "i",  # ı
        "\u017f": "s",  # ſ
        "\u1c80": "в",
        "\u1c81": "д",
        "\u1c82": "о",
        "\u1c83": "с",
        "\u1c84": "т",
        "\u1c85": "т",
        "\u1c86": "ъ",
        "\u1c87": "ѣ",
        "\u1c88": "ꙋ",
    }
)


def _tail_key(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_CASE_EXTRAS).lower()


def _strip_tail(text: str) -> str:
    """``text`` with outlet boilerplate removed from its last ``_TAIL`` characters."""
    tail = text[-_TAIL:]
    key = _tail_key(tail)
    if not any(k in key for k in _TAIL_KEYS):
        return text
    return text[:-_TAIL] + _TAIL_BOILERPLATE.sub(" ", tail)


def story_text(title: str, body: str) -> list[str]:
    """The folded words a story is fingerprinted on (see module docstring)."""
    # Only the opening is fingerprinted: cut first, then remove boilerplate where it can be.
    cleaned = body[: MAX_TOKENS * 12]
    if "http" in cleaned or "www." in cleaned:
        cleaned = _URL.sub(" ", cleaned)
    if "(" in cleaned[:120]:
        cleaned = _DATELINE.sub(" ", cleaned, count=1)
    # Shortcut: when the text before the tail already has more than MAX_TOKENS words, the first
    # MAX_TOKENS are complete (another word follows them) and no tail edit can reach them, so neither
    # the tail nor the rest of the text needs folding. Folding is per character (ingest.text), so the
    # words of a prefix are the words of the whole up to the last one.
    head = min(len(cleaned) - _TAIL, MAX_TOKENS * 8)
    if head > 0:
        words = tokens(cleaned[:head])
        if len(words) > MAX_TOKENS:
            return words[:MAX_TOKENS]
    words = tokens(_strip_tail(cleaned))
    if len(words) < MIN_BODY_TOKENS:
        words = tokens(title) + words
    return words[:MAX_TOKENS]


def _blake64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest(), "little")


_h64 = lru_cache(maxsize=65536)(_blake64)


class _WordHashes:
    """Memo of ``_blake64`` per word, bounded (cleared when full). A hit is one C-level ``dict.get``
    inside ``map``: a third of the cost of an ``lru_cache`` call, for ~100 words per article."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._memo: dict[str, int] = {}

    def __call__(self, words: list[str]) -> list[int | None]:
        memo = self._memo
        out = list(map(memo.get, words))
        if None in out:
            if len(memo) + len(words) > self.maxsize:
                memo.clear()
            for i, h in enumerate(out):
                if h is None:
                    out[i] = memo[words[i]] = _blake64(words[i])
        return out


_word_hashes = _WordHashes(65536)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S21, _S22, _S27, _S30, _S31, _S42, _S43 = (np.uint64(n) for n in (21, 22, 27, 30, 31, 42, 43))


def _mix(a: int, b: int, c: int = 0) -> int:
    """A 64-bit hash of a word sequence from its words' hashes (splitmix64 finaliser).

    The reference for ``_mix_arrays``, which computes the same on whole arrays (a test checks it).
    """
    x = (a ^ ((b << 21) | (b >> 43)) ^ ((c << 42) | (c >> 22)) ^ 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _mix_arrays(
    a: NDArray[np.uint64], b: NDArray[np.uint64], c: NDArray[np.uint64] | None
) -> NDArray[np.uint64]:
    """``_mix`` element-wise on uint64 arrays (uint64 arithmetic wraps modulo 2**64, like ``& _MASK64``)."""
    x = a ^ ((b << _S21) | (b >> _S43)) ^ _GOLDEN
    if c is not None:
        x ^= (c << _S42) | (c >> _S22)
    x ^= x >> _S30
    x *= _MUL1
    x ^= x >> _S27
    x *= _MUL2
    x ^= x >> _S31
    return x


def _simhash_array(hashes: NDArray[np.uint64]) -> int:
    """Bit ``i`` of the result is set when a strict majority of ``hashes`` have bit ``i`` set."""
    n = len(hashes)
    if n == 0:
        return 0
    bits = np.unpackbits(hashes.astype("<u8", copy=False).view(np.uint8), bitorder="little").reshape(n, 64)
    majority = bits.sum(axis=0, dtype=np.int32) >= n // 2 + 1
    return int.from_bytes(np.packbits(majority, bitorder="little").tobytes(), "little")


def _simhash_hashes(hashes: list[int]) -> int:
    return _simhash_array(np.array(hashes, dtype=np.uint64))


def simhash(features: list[str]) -> int:
    """64-bit SimHash of ``features`` (each weighted 1); 0 for no features."""
    return _simhash_hashes([_h64(f) for f in features])


def fingerprint(text: str, title: str = "") -> int:
    """Stable 64-bit (unsigned) SimHash of a story's text; ``title`` is used only for short bodies.

    Features: every word, plus word 3-shingles (2-shingles for texts under 6 words).
    Vectorised with numpy (the per-shingle mixing and per-bit counting were 200 µs in Python).
    """
    hashes = _word_hashes(story_text(title, text))
    plain = plain_speedups()
    if plain is not None:  # the same in one C loop (ingest/_speedups.c; a test compares both)
        value: int = plain.simhash_words(hashes, len(hashes) >= 2 * SHINGLE)
        return value
    return _fingerprint_numpy(hashes)


def _fingerprint_numpy(hashes: list[int | None]) -> int:
    """``fingerprint`` from the words' hashes, with numpy."""
    words = np.array(hashes, dtype=np.uint64)
    if len(words) >= 2 * SHINGLE:
        shingles = _mix_arrays(words[:-2], words[1:-1], words[2:])
    else:
        shingles = _mix_arrays(words[:-1], words[1:], None)
    return _simhash_array(np.concatenate((words, shingles)))


def _normalised_opening(body: str) -> str:
    """``normalise_space(body)``, or a prefix of it at least as long as what ``story_text`` reads.

    Bodies run to hundreds of kilobytes; only the first ``MAX_TOKENS * 12`` characters are read. The
    normalised form of a prefix of ``body`` equals the normalised whole up to its last space (every
    word before it is complete), so it is enough when that space comes after the part read.
    """
    limit = MAX_TOKENS * 12
    # A little more than the part read is nearly always enough (runs of white space are rare); twice
    # as much when it is not, then the whole.
    for cut in (limit + limit // 8, 2 * limit):
        if len(body) > cut:
            opening = normalise_space(body[:cut])
            if opening.rfind(" ") >= limit:
                return opening
    return normalise_space(body)


def article_fingerprint(article: Article) -> int:
    """``fingerprint`` of an article: its longer body field (content or summary), title as fallback."""
    body = article.content if len(article.content) >= len(article.summary) else article.summary
    return fingerprint(_normalised_opening(body), title=article.title)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(frozen=True, slots=True)
class _Entry:
    article_id: str
    fingerprint: int
    published: float  # POSIX seconds
    story_id: str


def _ts(when: datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class StoryIndex:
    """Assigns ``story_id``s; in memory, bounded, one per process (not thread-safe)."""

    def __init__(
        self,
        *,
        window: timedelta = timedelta(hours=72),
        max_distance: int = 7,
        max_entries: int = 200_000,
    ) -> None:
        if not 0 <= max_distance <= 11:
            raise ValueError(f"max_distance must be in 0..11, got {max_distance}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be positive, got {max_entries}")
        self.window = window.total_seconds()
        self.max_distance = max_distance
        self.max_entries = max_entries
        self._bands = [(i * _BAND_BITS, (1 << _BAND_BITS) - 1) for i in range(_BANDS)]
        radius = max_distance // _BANDS
        self._probes: tuple[int, ...] = tuple(
            sum(1 << b for b in bits)
            for r in range(radius + 1)
            for bits in itertools.combinations(range(_BAND_BITS), r)
        )
        self._buckets: list[dict[int, list[str]]] = [{} for _ in self._bands]
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._newest = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def _keys(self, fp: int) -> list[int]:
        return [(fp >> shift) & mask for shift, mask in self._bands]

    def find(self, fp: int, published_at: datetime) -> str | None:
        """The story id of the nearest indexed fingerprint within distance and window, if any."""
        if fp == 0:
            return None
        when = _ts(published_at)
        best: tuple[int, float, str] | None = None
        seen: set[str] = set()
        for bucket, key in zip(self._buckets, self._keys(fp), strict=True):
            for ids in map(bucket.get, [key ^ probe for probe in self._probes]):  # most are empty
                if not ids:
                    continue
                for article_id in ids:
                    if article_id in seen:
                        continue
                    seen.add(article_id)
                    entry = self._entries[article_id]
                    dist = hamming(fp, entry.fingerprint)
                    if dist > self.max_distance or abs(entry.published - when) > self.window:
                        continue
                    cand = (dist, entry.published, entry.story_id)
                    if best is None or cand < best:
                        best = cand
        return best[2] if best else None

    def add(
        self, article_id: str, fingerprint: int, published_at: datetime, story_id: str | None = None
    ) -> str:
        """Index one article and return its story id.

        ``story_id`` given (warming from stored documents): kept as is. Otherwise the nearest story
        within distance and window, else the article starts its own story. Re-adding a known
        ``article_id`` returns its existing story id (an updated entry stays in its story).
        """
        existing = self._entries.get(article_id)
        if existing is not None:
            return existing.story_id
        if story_id is None:
            story_id = self.find(fingerprint, published_at) or article_id
        if fingerprint == 0:
            return story_id  # nothing to compare on: not indexed
        when = _ts(published_at)
        entry = _Entry(article_id, fingerprint, when, story_id)
        self._entries[article_id] = entry
        for bucket, key in zip(self._buckets, self._keys(fingerprint), strict=True):
            bucket.setdefault(key, []).append(article_id)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, article_id))
        self._newest = max(self._newest, when)
        self._evict()
        return story_id

    def assign(self, article: Article, fingerprint: int | None = None) -> str:
        """The story id for ``article`` (indexing it)."""
        fp = article_fingerprint(article) if fingerprint is None else fingerprint
        return self.add(article.id, fp, article.published_at or article.fetched_at)

    def _evict(self) -> None:
        horizon = self._newest - self.window
        while self._heap and (len(self._entries) > self.max_entries or self._heap[0][0] < horizon):
            _, _, article_id = heapq.heappop(self._heap)
            entry = self._entries.pop(article_id, None)
            if entry is None:
                continue
            for bucket, key in zip(self._buckets, self._keys(entry.fingerprint), strict=True):
                ids = bucket.get(key)
                if ids is not None:
                    ids.remove(article_id)
                    if not ids:
                        del bucket[key]
