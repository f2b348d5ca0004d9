"""Language detection restricted to the configured languages (lingua, cascaded for speed).

What it reads: the title and the opening of the text (``max_chars``, cut at a word boundary) -- the
opening is where the language is least mixed with quotes, bylines and boilerplate.

How it decides (measured in ``bench/language.py``; see docs/decisions.md "Language detection"):

1. Latin ``i``/``I`` glued to Cyrillic letters is a homoglyph of Ukrainian ``і`` (``Твiй``) and is
   replaced, so the n-gram models see the real word.
2. A low-accuracy (trigram-only) lingua detector runs first. If its best language has confidence
   >= ``cascade_threshold`` the answer is taken; otherwise, and only for texts shorter than 120
   characters (above that lingua's high-accuracy mode also uses trigrams only, so it would repeat the
   same work), the high-accuracy detector decides. About 1 headline in 10 takes the second step.
3. The feed's declared language (``hint``: ``fr-FR``, ``uk_UA``, ``ua``...) is a prior: the confidence
   values are multiplied by ``hint_weight`` for the hinted language and renormalised, so the hint
   settles near ties (uk vs ru headlines without ``і``/``ы``) but never overrides clear evidence
   (a Ukrainian article in a feed that wrongly says ``en``).
   When the opening agrees with the declared language unmistakably, lingua is not run at all
   (``_plainly``): for en/fr/de/pl, at least 3 of that language's function words and at most a third as
   many from the other three lists, no Cyrillic; for uk/ru, a letter only that language has (і ї є ґ /
   ы э ъ ё) and none only the other has. On the 6,565 articles of fastfeedparser-benchmark 3,053 take
   this path (~90 µs of lingua each) and 4 answers change, all English-declared openings lingua had
   called de or fr: two plainly English ("A bit of goofin' on a Saturday morning"), two a German title
   over an English body.
4. ``und`` when there is nothing to read (fewer than ``min_letters`` letters and no usable hint), when
   the best posterior is below ``min_confidence``, or when the feed declares a language we do not
   detect and the evidence for one of ours is not overwhelming.

Character rules (і ї є ґ → uk, ы э ъ ё → ru, ą ę ł → pl, ß → de...) were measured as a pre-filter
and gave no accuracy over lingua, which already applies such unique-character rules; the uk/ru letters
serve only ``_plainly``, to spare lingua when they agree with the declared language.

Speed: lingua's time is linear in the length of what it is given (~0.6 µs per character), so for a
text whose letters are all ASCII it is given only the distinct lowercased words of 3+ letters
(``_distinct_words``), about a quarter shorter on news openings. That is exact, not an approximation:
lingua scores the *set* of distinct trigrams, taken inside words (runs of letters), and for such
text its character rules see only Latin words with no special letters, whatever their number or
order, so the confidence values are the same (to 1e-13). Shorter openings tried first
("progressive sampling") were measured and rejected, see docs/decisions.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

UNDETERMINED = "und"

# Declared languages seen in real feeds that are not ISO 639-1 codes of the language itself.
_HINT_ALIASES = {
    "ua": "uk",  # the country code, common in Ukrainian feeds
    "ukr": "uk",
    "rus": "ru",
    "eng": "en",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
    "pol": "pl",
    "english": "en",
    "french": "fr",
    "german": "de",
    "polish": "pl",
    "russian": "ru",
    "ukrainian": "uk",
}

_CYRILLIC = "\u0400-\u04ff"
_HOMOGLYPH_I = re.compile(rf"(?<=[{_CYRILLIC}])[iI]|[iI](?=[{_CYRILLIC}])")
_HOMOGLYPH_MAP = {"i": "і", "I": "І"}
_HARD_PAIR = frozenset({"uk", "ru"})
_CYRILLIC_CHAR = re.compile(f"[{_CYRILLIC}]")
# A non-ASCII word character that is not a digit: every non-ASCII letter (and a few numerics such as
# "²", which only make us take the plain path).
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")
_ASCII_WORD = re.compile(r"[a-z]{3,}")  # lingua's trigrams never cross a word boundary


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Closed-class words that settle doubtful short Latin-script texts (en/fr/de/pl headlines) instead
# of lingua's high-accuracy models (~150 MB for these four languages). No word is in two lists.
_FUNCTION_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "en": _words(
            "the of and to is for on with at by from that this as are was were be has have will after "
            "over new says said its their an his her who"
        ),
        "fr": _words(
            "le la les de du et un une est dans pour sur par au aux avec qui que ce cette son sa ses "
            "sont pas plus ne il elle nous vous leur été après"
        ),
        "de": _words(
            "der die das den dem und ist im mit für auf von zu zum zur ein eine einen nicht sich bei "
            "nach aus wird werden sind wie auch vor über"
        ),
        "pl": _words("i w z na do o się nie że jest od po dla jak przez za oraz ze już czy są ma być"),
    }
)
_ALL_FUNCTION_WORDS = frozenset().union(*_FUNCTION_WORDS.values())
_WORD = re.compile(r"[^\W\d_]+")
_ONLY_UK = re.compile("[іїєґІЇЄҐ]")
_ONLY_RU = re.compile("[ыэъёЫЭЪЁ]")
_LONG_TEXT = 120  # lingua's high-accuracy mode uses trigrams only from this length on


def normalise_hint(hint: str | None) -> str | None:
    """``"fr-FR"`` → ``"fr"``, ``"uk_UA"`` → ``"uk"``, ``"ua"`` → ``"uk"``; None for empty/garbage."""
    if not hint:
        return None
    head = re.split(r"[-_;,\s]", hint.strip().lower(), maxsplit=1)[0]
    head = _HINT_ALIASES.get(head, head)
    if len(head) == 2 and head.isascii() and head.isalpha():
        return head
    return None


def opening(title: str, text: str, max_chars: int) -> str:
    """Title plus the start of ``text``, at most ``max_chars`` characters, cut at a word boundary."""
    title = " ".join(title.split())
    body = " ".join(text[: max_chars * 2].split())
    joined = f"{title}. {body}" if title and body else title or body
    if len(joined) <= max_chars:
        return joined
    cut = joined.rfind(" ", 0, max_chars + 1)
    return joined[: cut if cut > max_chars // 2 else max_chars]


def _distinct_words(text: str) -> str | None:
    """What lingua needs of ``text`` when its letters are all ASCII: its distinct lowercased words of
    at least 3 letters (only those have trigrams), space-separated; None when the letters are not all
    ASCII or there is no such word. Lingua gives this the same confidence values as ``text`` (see
    the module docstring), at a lower cost."""
    if not text.isascii() and _NON_ASCII_LETTER.search(text) is not None:
        return None
    words = _ASCII_WORD.findall(text.lower())
    return " ".join(dict.fromkeys(words)) if words else None


def _plainly(sample: str, code: str) -> bool:
    """Whether ``sample`` is unmistakably in ``code`` by the cheap evidence of the module docstring."""
    if code in _HARD_PAIR:
        uk, ru = _ONLY_UK.search(sample) is not None, _ONLY_RU.search(sample) is not None
        return uk and not ru if code == "uk" else ru and not uk
    listed = _FUNCTION_WORDS.get(code)
    if listed is None or _CYRILLIC_CHAR.search(sample) is not None:
        return False
    mine = other = 0
    for word in _WORD.findall(sample.lower()):
        if word in listed:
            mine += 1
        elif word in _ALL_FUNCTION_WORDS:
            other += 1
    return mine >= 3 and 3 * other <= mine


def _has_letters(text: str, count: int) -> bool:
    """Whether ``text`` has at least ``count`` letters; stops as soon as it knows (a sum over every
    character was 30 µs per article)."""
    if count <= 0:
        return True
    for ch in text:
        if ch.isalpha():
            count -= 1
            if count == 0:
                return True
    return False


class LanguageDetector:
    """Detects one of ``languages`` (ISO 639-1 codes) or ``und``. Build once (about 0.1 s), reuse."""

    def __init__(
        self,
        languages: Sequence[str],
        *,
        max_chars: int = 160,
        cascade_threshold: float = 0.99,
        hint_weight: float = 9.0,
        min_confidence: float = 0.35,
        min_letters: int = 3,
        function_word_weight: float = 30.0,
    ) -> None:
        codes = tuple(dict.fromkeys(c.strip().lower() for c in languages))
        if not codes:
            raise ValueError("LanguageDetector needs at least one language code")
        lingua_langs: dict[Language, str] = {}
        for code in codes:
            try:
                iso = getattr(IsoCode639_1, code.upper())
            except AttributeError:
                raise ValueError(f"unknown ISO 639-1 language code {code!r} in languages={codes!r}") from None
            lingua_langs[Language.from_iso_code_639_1(iso)] = code
        self.languages = codes
        self._codes = lingua_langs
        self._single = codes[0] if len(codes) == 1 else None
        self.max_chars = max_chars
        self.cascade_threshold = cascade_threshold
        self.hint_weight = hint_weight
        self.min_confidence = min_confidence
        self.min_letters = min_letters
        self.function_word_weight = function_word_weight
        if self._single is None:
            langs = list(lingua_langs)
            self._fast = (
                LanguageDetectorBuilder.from_languages(*langs)
                .with_low_accuracy_mode()
                .with_preloaded_language_models()
                .build()
            )
            # High-accuracy models only for the hard pair (uk/ru): all n-gram models of 6 languages
            # cost ~230 MB RSS, of uk+ru ~100 MB; see docs/decisions.md "Language detection".
            pair = [lang for lang in langs if lingua_langs[lang] in _HARD_PAIR]
            self._pair_codes = frozenset(lingua_langs[lang] for lang in pair)
            self._accurate = (
                LanguageDetectorBuilder.from_languages(*pair).with_preloaded_language_models().build()
                if len(pair) == 2
                else None
            )

    def confidences(self, text: str) -> dict[str, float]:
        """Confidence per configured language for ``text`` as is (no hint, no cut), summing to 1 or 0."""
        if self._single is not None:
            return {self._single: 1.0}
        probe = _distinct_words(text)
        if probe is None:
            if _CYRILLIC_CHAR.search(text) is not None:  # the homoglyphs need Cyrillic next to them
                text = _HOMOGLYPH_I.sub(lambda m: _HOMOGLYPH_MAP[m.group()], text)
            probe = text
        values = self._fast.compute_language_confidence_values(probe)
        conf = {self._codes[v.language]: v.value for v in values if v.value > 0.0}
        if len(text) >= _LONG_TEXT or len(conf) < 2 or values[0].value >= self.cascade_threshold:
            return conf
        top2 = {self._codes[v.language] for v in values[:2]}
        if top2 <= _FUNCTION_WORDS.keys():
            # Latin-script languages in doubt: each function word multiplies its language's confidence.
            words = [w.lower() for w in _WORD.findall(text)]
            for code in conf:
                listed = _FUNCTION_WORDS.get(code)
                if listed is not None:
                    conf[code] *= self.function_word_weight ** sum(w in listed for w in words)
            total = sum(conf.values())
            return {k: v / total for k, v in conf.items()}
        if self._accurate is not None and top2 == self._pair_codes:
            # uk vs ru in doubt: the pairwise high-accuracy detector splits their joint mass.
            mass = sum(conf[c] for c in self._pair_codes)
            for v in self._accurate.compute_language_confidence_values(text):
                if v.value > 0.0:
                    conf[self._codes[v.language]] = v.value * mass
                else:
                    conf.pop(self._codes[v.language], None)
        return conf

    def detect(self, title: str, text: str, hint: str | None = None) -> str:
        """A configured code, or ``und`` when unsure. ``hint`` is the feed's declared language."""
        prior = normalise_hint(hint)
        sample = opening(title, text, self.max_chars)
        known_prior = prior if prior in self.languages else None
        if not _has_letters(sample, self.min_letters):
            return known_prior or UNDETERMINED
        if known_prior is not None and self._single is None and _plainly(sample, known_prior):
            return known_prior
        conf = self.confidences(sample)
        if not conf:
            return known_prior or UNDETERMINED
        if known_prior is not None:
            conf = dict(conf)
            conf[known_prior] = conf.get(known_prior, 0.0) * self.hint_weight
            total = sum(conf.values())
            if total <= 0.0:
                return known_prior
            conf = {k: v / total for k, v in conf.items()}
        best = max(conf, key=conf.__getitem__)
        score = conf[best]
        if prior is not None and known_prior is None:
            # The feed declares a language we do not detect: only clear evidence overrides it.
            return best if score >= 0.95 and _has_letters(sample, 40) else UNDETERMINED
        return best if score >= self.min_confidence else UNDETERMINED
