"""Known entities (people, organisations, places) across scripts, with transliteration-aware fuzzy names.

Configuration: ``config/entities.yaml`` (its header documents the variant syntax). Two passes:

1. **Exact variants** on folded text (``ingest.text.fold``: case and accents ignored) with one
   Aho-Corasick automaton, leftmost-longest, whole words only. Inflected forms: Cyrillic variants, and
   variants written with a trailing ``~``, match their stem (the folded variant minus up to two final
   vowels, at least 4 letters) followed by at most 3 more letters -- for Latin-script variants only a
   known Polish case ending (``_LATIN_ENDINGS``): Україна → України, Україною; Шмигаль → Шмигаля;
   Kijów~ → Kijowie; but Trumpa~ does not match "Trumpet". Guards: 2-3 letter all-capital variants
   (EU, UN, ЄС) match only capitals ("un" is a French article); single-word person variants match
   only capitalised words ("trump card").
2. **Fuzzy surnames** for people (``fuzzy: true``, the default for people): an unseen spelling such as
   "Vitiaker" (a back-transliteration of Вітакер) resolves to Matthew Whitaker. Every surname variant
   and the candidate word are reduced to a phonetic skeleton (Cyrillic → Latin; w → v; th → t;
   sh/ch/sch/zh → s/z; kh/h/g → h; c/q → k; z → s; vowels and doubled letters dropped), then a
   capitalised word of at least 5 letters, not already an exact match, resolves when either
   - it follows one of the entity's given names (``given:``) and its skeleton equals a surname
     skeleton (of at least 3 consonants), or is within edit distance 1 of one when it has at least 5, or
   - it is not at the start of a sentence and its skeleton equals a surname skeleton of at least 4
     consonants.
   Common words do not pass: they are rarely capitalised mid-sentence, and a skeleton of 4+ consonants
   equal to a surname's is rare (tests/ingest/test_entities.py checks a list in six languages).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import ahocorasick_rs
import yaml

from ingest.automaton import ByteAutomaton
from ingest.model import EntityMatch, TextInput
from ingest.text import fold, normalise_space
from newswatch.errors import ConfigError

_LONGEST = ahocorasick_rs.MatchKind.LeftmostLongest

KINDS = ("person", "organisation", "place")
_STEM_VOWELS = set("аеєиіїоуюяыэьйaeiouy")
_MAX_SUFFIX = 3
# Endings an inflected Latin-script variant may take (Polish cases, folded: ę → e, ą → a, ó → o).
_LATIN_ENDINGS = frozenset(
    {"a", "u", "y", "e", "i", "o", "em", "ie", "owi", "om", "ach", "ami", "ow", "iem", "ego", "emu"}
    | {"ej", "ia", "ii", "iu", "ya"}
)
_WORD = re.compile(r"\w+")
_CAP_WORD = re.compile(r"(?<!\w)[^\W\d_]\w{4,}")  # the definition; see _capitalised_words
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_LETTER = re.compile(r"[^\W\d_]")
_NEXT_WORD = re.compile(r"[^\w.!?]{1,3}(\w+)")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SENTENCE_END = set('.!?…:;"«»“”\n')

_CYR_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ё": "e", "ж": "zh",
    "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ъ": "", "ы": "y", "э": "e", "ю": "iu", "я": "ia",
}  # fmt: skip
_CYR_TABLE = str.maketrans(_CYR_LATIN)
_SKELETON_RULES = [
    (re.compile(r"^(wh|ui|uy|uo|ou)"), "v"),  # Whitaker, Уитакер (uitaker), Ouest-style
    (re.compile(r"shch|sch|sh|ch|sz|cz"), "s"),
    (re.compile(r"zh|rz|ż|ź"), "z"),
    (re.compile(r"kh|gh|g|h"), "h"),
    (re.compile(r"th"), "t"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck|c|q"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"w"), "v"),
    (re.compile(r"z"), "s"),
    (re.compile(r"ts|tz"), "s"),
    (re.compile(r"[aeiouyj]"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
]


def _charset(chars: Iterable[str]) -> str:
    ranges: list[list[int]] = []
    for c in chars:
        if ranges and ranges[-1][1] == ord(c) - 1:
            ranges[-1][1] = ord(c)
        else:
            ranges.append([ord(c), ord(c)])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


@cache
def _capitalised_words() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """``_CAP_WORD`` restricted to words whose first character ``isupper()`` (what the fuzzy pass keeps):
    one pattern for texts within the BMP, one for texts with astral characters.

    Each starts with a character class (every such letter, found once, ~50 ms), which the regex engine
    scans for in a tight loop -- a bitmap when the class is within the BMP, so the common pattern leaves
    out the astral capitals (mathematical, Deseret, Adlam...) and the other one, slow, runs only when
    the text has astral characters. ``_CAP_WORD`` starts with a look-behind, so it tried every position
    and yielded every long word of the text to Python (140 per article) only to drop the lower-case
    ones. Matches start where ``_CAP_WORD``'s do (the same look-behind, moved after the first
    character) and run to the end of the word, so they find the same capitalised words.
    """
    starts = [c for c in map(chr, range(0x110000)) if c.isupper() and _LETTER.match(c)]
    tail = r"(?<!\w.)\w{4,}"
    bmp = re.compile(f"[{_charset(c for c in starts if c <= chr(0xFFFF))}]{tail}")
    return bmp, re.compile(f"[{_charset(starts)}]{tail}")


_SKELETON_LEAD = ("wh", "ui", "uy", "uo", "ou")
_SKELETON_VOWELS = str.maketrans("", "", "aeiouyj")
_fold_uncached = fold.__wrapped__  # one-off words: they would push article texts out of fold's cache


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """Phonetic skeleton of one word: ``Whitaker``, ``Vitiaker``, ``Вітакер`` → ``vtkr``.

    The rules of ``_SKELETON_RULES`` applied in turn (the tests keep that definition), 2-3x faster:
    every capitalised word of every article is reduced (~29,000 distinct ones on the 200-feed corpus). A
    rule whose pattern cannot change the word is skipped (its literal pieces are looked for with
    ``in``); literal rules are ``str.replace`` (the same left-to-right, non-overlapping replacement);
    ``ts|tz`` is ``ts`` alone because ``z`` is gone by then; the anchored first rule is ``startswith``,
    the vowel rule a deletion by ``translate``. Tests compare the two on random and exhaustive short
    words.
    """
    out = _fold_uncached(word)
    if not out.isascii():  # the Cyrillic table has no ASCII key
        out = out.translate(_CYR_TABLE)
    if not out.isalpha():
        out = "".join(ch for ch in out if ch.isalpha())
    rules = _SKELETON_RULES
    if out.startswith(_SKELETON_LEAD):
        out = "v" + out[2:]
    if "sh" in out or "ch" in out or "sz" in out or "cz" in out:
        out = rules[1][0].sub("s", out)
    if "zh" in out or "rz" in out or "ż" in out or "ź" in out:
        out = rules[2][0].sub("z", out)
    if "g" in out or "kh" in out:  # otherwise only "h" -> "h"
        out = rules[3][0].sub("h", out)
    out = out.replace("th", "t").replace("ph", "f")
    if "c" in out or "q" in out:
        out = rules[6][0].sub("k", out)
    out = out.replace("x", "ks").replace("w", "v").replace("z", "s").replace("ts", "s")
    out = out.translate(_SKELETON_VOWELS)
    return rules[12][0].sub(r"\1", out) if len(set(out)) < len(out) else out


def levenshtein(a: str, b: str) -> int:
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _origin_map(text: str) -> Callable[[int], int]:
    """For ``fold(text)``: a function from a folded index to the index of its source character.

    Folding keeps one character per character except for a few (ß → ss, … → ...), so only those are
    recorded and looked up by bisection.
    """
    starts: list[int] = []  # folded index where each length-changing character's expansion starts
    origins: list[int] = []
    lengths: list[int] = []
    shifts: list[int] = []  # folded - original, after the character
    shift = 0
    for m in _NON_ASCII.finditer(text):
        size = len(fold(m.group()))
        if size != 1:
            i = m.start()
            starts.append(i + shift)
            origins.append(i)
            lengths.append(size)
            shift += size - 1
            shifts.append(shift)
    if not starts:
        return lambda f: f

    def origin(f: int) -> int:
        k = bisect.bisect_right(starts, f) - 1
        if k < 0:
            return f
        if f < starts[k] + lengths[k]:
            return origins[k]
        return f - shifts[k]

    return origin


def _has_astral(text: str) -> bool:
    """Whether ``text`` has a character above the BMP (``_ASTRAL.search``): in UTF-16 each one takes
    two code units (lone surrogates one, as surrogatepass writes them); ~5x faster than the search."""
    return len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


def _text_and_fold(parts: list[str], max_chars: int) -> tuple[str, str]:
    """The text entities are looked for in -- the parts joined by ". ", cut at ``max_chars``, white
    space made single spaces -- and its ``fold``."""
    # Each part cut first: the same text as cutting the joined whole, without copying long bodies.
    joined = ". ".join([p[:max_chars] for p in parts])[:max_chars]
    text = normalise_space(joined)
    if sum(map(len, parts)) + 2 * len(parts) - 2 > max_chars or text != joined.replace("\n", " "):
        return text, _fold_uncached(text)  # (folded once: caching it would only push others out)
    # Nothing cut and only line breaks made spaces (texts from ``ingest.html`` have single spaces and
    # line breaks only): folding is per character (NFKD reorders only non-starters, and ". " and
    # spaces are starters), ". " and white space fold to themselves and nothing else folds to a line
    # break, so this is ``fold(text)`` from the folds of the parts, which the normaliser's content hash
    # has just made (cached).
    return text, ". ".join([fold(p) for p in parts]).replace("\n", " ")


def _is_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def _stem(folded: str) -> str:
    stem = folded
    for _ in range(2):
        if len(stem) > 4 and stem[-1] in _STEM_VOWELS:
            stem = stem[:-1]
    return stem


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    kind: str
    variants: tuple[str, ...]
    given: tuple[str, ...] = ()
    fuzzy: bool = False
    surname_skeletons: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class _Pattern:
    entity: int
    inflected: bool  # the pattern is a stem: up to _MAX_SUFFIX more letters allowed
    latin: bool  # inflected Latin-script stem: the ending must be one of _LATIN_ENDINGS
    caps_only: bool  # the surface must be all capitals
    capitalised: bool  # the surface must start with a capital


def _parse_entity(raw: Any, where: str) -> Entity:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: each entity must be a mapping, got {type(raw).__name__}")
    try:
        ident = str(raw["id"])
        name = str(raw.get("name", ident))
        kind = str(raw["kind"])
        variants = tuple(str(v) for v in raw.get("variants") or ())
    except KeyError as exc:
        raise ConfigError(f"{where}: entity is missing {exc.args[0]!r}") from None
    if kind not in KINDS:
        raise ConfigError(f"{where} ({ident}): kind must be one of {KINDS}, got {kind!r}")
    if not variants:
        raise ConfigError(f"{where} ({ident}): no variants")
    given = tuple(str(g) for g in raw.get("given") or ())
    fuzzy = bool(raw.get("fuzzy", kind == "person"))
    skeletons = frozenset(
        s
        for v in variants
        if len(_WORD.findall(v.rstrip("~"))) == 1 and v[:1].isupper()
        for s in (skeleton(v.rstrip("~")),)
        if len(s) >= 3
    )
    return Entity(ident, name, kind, variants, given, fuzzy, skeletons if fuzzy else frozenset())


class EntityMatcher:
    """Finds known entities in a ``TextInput``; build once (``from_file``), call ``match`` per article."""

    def __init__(self, entities: Iterable[Entity], *, max_chars: int = 6000) -> None:
        self.entities = tuple(entities)
        self.max_chars = max_chars
        ids = [e.id for e in self.entities]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ConfigError(f"duplicate entity ids: {dupes}")
        patterns: dict[str, list[_Pattern]] = {}
        for index, entity in enumerate(self.entities):
            for variant in entity.variants:
                marked = variant.endswith("~")
                surface = variant.rstrip("~").strip()
                folded = " ".join(fold(surface).split())
                if not folded:
                    continue
                words = _WORD.findall(surface)
                caps_only = len(words) == 1 and surface.isupper() and len(surface) <= 3
                capitalised = entity.kind == "person" and len(words) == 1
                inflected = (marked or _is_cyrillic(surface)) and not surface.isupper() and len(folded) >= 4
                key = _stem(folded) if inflected else folded
                latin = inflected and not _is_cyrillic(surface)
                patterns.setdefault(key, []).append(_Pattern(index, inflected, latin, caps_only, capitalised))
        self._keys = list(patterns)
        self._patterns = [patterns[k] for k in self._keys]
        self._automaton = ByteAutomaton(self._keys, matchkind=_LONGEST)
        fuzzy = [(i, e) for i, e in enumerate(self.entities) if e.fuzzy and e.surname_skeletons]
        self._fuzzy = bool(fuzzy)
        by_skeleton: dict[str, list[int]] = {}
        given: dict[str, list[int]] = {}
        for i, e in fuzzy:
            for skel in e.surname_skeletons:
                if len(skel) >= 4:
                    by_skeleton.setdefault(skel, []).append(i)
            for name in e.given:
                key = " ".join(fold(name).split())
                if key and i not in given.setdefault(key, []):
                    given[key].append(i)
        self._by_skeleton = {k: tuple(v) for k, v in by_skeleton.items()}
        self._given_entities = [tuple(v) for v in given.values()]
        self._given_automaton = ByteAutomaton(list(given) or ["\x00"], matchkind=_LONGEST)
        if self._fuzzy:
            _capitalised_words()  # built once per process (~0.2 s): now, not on the first article

    @classmethod
    def from_file(cls, path: Path) -> EntityMatcher:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read entities file: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("entities"), list):
            raise ConfigError(f"{path}: expected a mapping with an 'entities' list")
        return cls(_parse_entity(raw, f"{path}: entities[{i}]") for i, raw in enumerate(data["entities"]))

    def match(self, doc: TextInput) -> tuple[EntityMatch, ...]:
        parts = [p for p in (doc.title, doc.summary, doc.content) if p]
        text, folded = _text_and_fold(parts, self.max_chars)
        origin = _origin_map(text) if len(folded) != len(text) else None
        found: dict[int, str] = {}
        covered: set[int] = set()
        for key_index, start, end in self._automaton.find(folded):
            if start > 0 and folded[start - 1].isalnum():
                continue
            stop = end
            while stop < len(folded) and folded[stop].isalnum():
                stop += 1
            o_start = origin(start) if origin else start
            o_end = (origin(stop - 1) + 1) if origin else stop
            surface = text[o_start:o_end]
            for pattern in self._patterns[key_index]:
                if stop > end:
                    if not pattern.inflected or stop - end > _MAX_SUFFIX:
                        continue
                    if pattern.latin and folded[end:stop] not in _LATIN_ENDINGS:
                        continue
                if pattern.caps_only and not surface.isupper():
                    continue
                if pattern.capitalised and not surface[:1].isupper():
                    continue
                found.setdefault(pattern.entity, surface)
                covered.add(o_start)
        if self._fuzzy:
            self._match_fuzzy(text, folded, origin, covered, found)
        return tuple(
            EntityMatch(id=e.id, name=e.name, kind=e.kind, surface=surface)
            for e, surface in ((self.entities[i], s) for i, s in found.items())
        )

    def _match_fuzzy(
        self,
        text: str,
        folded: str,
        origin: Callable[[int], int] | None,
        covered: set[int],
        found: dict[int, str],
    ) -> None:
        # 1. A given name followed by a capitalised word close to one of that person's surnames.
        for key_index, start, end in self._given_automaton.find(folded):
            if (start > 0 and folded[start - 1].isalnum()) or (end < len(folded) and folded[end].isalnum()):
                continue
            o_end = (origin(end - 1) + 1) if origin else end
            nxt = _NEXT_WORD.match(text, o_end)
            if nxt is None or nxt.start(1) in covered:
                continue
            word = nxt.group(1)
            if len(word) < 5 or not word[0].isupper() or word.isupper():
                continue
            skel = skeleton(word)
            if len(skel) < 3:
                continue
            for index in self._given_entities[key_index]:
                skels = self.entities[index].surname_skeletons
                if index not in found and (
                    skel in skels or (len(skel) >= 5 and any(levenshtein(skel, x) <= 1 for x in skels))
                ):
                    found[index] = word
                    covered.add(nxt.start(1))
                    break
        # 2. A capitalised word inside a sentence whose skeleton equals a surname's (4+ consonants).
        bmp, full = _capitalised_words()
        capitalised = full if not text.isascii() and _has_astral(text) else bmp
        # Cheap screen first (C-level: findall, the cached ``skeleton``, set lookups): most texts have
        # no capitalised word with a known surname skeleton, and then the loop below would do nothing.
        by_skeleton = self._by_skeleton
        if not any(map(by_skeleton.__contains__, map(skeleton, capitalised.findall(text)))):
            return
        for m in capitalised.finditer(text):
            word = m.group()
            if not word[0].isupper() or word.isupper() or m.start() in covered:
                continue
            indexes = self._by_skeleton.get(skeleton(word))
            if not indexes:
                continue
            before = text[max(0, m.start() - 4) : m.start()].rstrip()
            if not before or before[-1] in _SENTENCE_END:
                continue
            for index in indexes:
                found.setdefault(index, word)
