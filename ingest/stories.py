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

from ingest.model import Article
from ingest.text import normalise_space, tokens

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


def story_text(title: str, body: str) -> list[str]:
    """The folded words a story is fingerprinted on (see module docstring)."""
    # Only the opening is fingerprinted: cut first, then remove boilerplate where it can be.
    cleaned = body[: MAX_TOKENS * 12]
    if "http" in cleaned or "www." in cleaned:
        cleaned = _URL.sub(" ", cleaned)
    if "(" in cleaned[:120]:
        cleaned = _DATELINE.sub(" ", cleaned, count=1)
    cleaned = cleaned[:-_TAIL] + _TAIL_BOILERPLATE.sub(" ", cleaned[-_TAIL:])
    words = tokens(cleaned)
    if len(words) < MIN_BODY_TOKENS:
        words = tokens(title) + words
    return words[:MAX_TOKENS]


@lru_cache(maxsize=65536)
def _h64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest(), "little")


def _mix(a: int, b: int, c: int = 0) -> int:
    """A 64-bit hash of a word sequence from its words' hashes (splitmix64 finaliser)."""
    x = (a ^ ((b << 21) | (b >> 43)) ^ ((c << 42) | (c >> 22)) ^ 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _simhash_hashes(hashes: list[int]) -> int:
    if not hashes:
        return 0
    # Count the set bits per position with C-level string operations: all hashes as one string of
    # 64-character binary numerals, then position i (from the most significant bit) is every 64th
    # character starting at i.
    bits = "".join([format(h, "064b") for h in hashes])
    threshold = len(hashes) // 2 + 1  # a strict majority
    result = 0
    for i in range(64):
        if bits[i::64].count("1") >= threshold:
            result |= 1 << (63 - i)
    return result


def simhash(features: list[str]) -> int:
    """64-bit SimHash of ``features`` (each weighted 1); 0 for no features."""
    return _simhash_hashes([_h64(f) for f in features])


def fingerprint(text: str, title: str = "") -> int:
    """Stable 64-bit (unsigned) SimHash of a story's text; ``title`` is used only for short bodies.

    Features: every word, plus word 3-shingles (2-shingles for texts under 6 words).
    """
    words = [_h64(w) for w in story_text(title, text)]
    if len(words) >= 2 * SHINGLE:
        shingles = [_mix(a, b, c) for a, b, c in zip(words, words[1:], words[2:], strict=False)]
    else:
        shingles = [_mix(a, b) for a, b in itertools.pairwise(words)]
    return _simhash_hashes(words + shingles)


def article_fingerprint(article: Article) -> int:
    """``fingerprint`` of an article: its longer body field (content or summary), title as fallback."""
    body = article.content if len(article.content) >= len(article.summary) else article.summary
    return fingerprint(normalise_space(body), title=article.title)


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
            for probe in self._probes:
                for article_id in bucket.get(key ^ probe, ()):
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
