from __future__ import annotations

from pathlib import Path

import pytest

from ingest.language import LanguageDetector, normalise_hint, opening

LANGS = ("en", "fr", "de", "pl", "ru", "uk")


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(LANGS)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("fr-FR", "fr"),
        ("uk_UA", "uk"),
        ("ua", "uk"),
        ("EN-us", "en"),
        ("ru", "ru"),
        ("de-DE;q=0.9", "de"),
        ("", None),
        (None, None),
        ("x", None),
        ("123", None),
        ("it", "it"),
    ],
)
def test_normalise_hint(hint: str | None, expected: str | None) -> None:
    assert normalise_hint(hint) == expected


@pytest.mark.parametrize(
    ("title", "text", "limit", "expected"),
    [
        ("Title", "", 50, "Title"),
        ("", "Body text", 50, "Body text"),
        ("Title", "one two three", 50, "Title. one two three"),
        ("T", "aaaa bbbb cccc dddd", 12, "T. aaaa bbbb"),
        ("  spaced   title ", "\n body\n", 50, "spaced title. body"),
    ],
)
def test_opening(title: str, text: str, limit: int, expected: str) -> None:
    assert opening(title, text, limit) == expected


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        (
            "Government announces new budget for schools",
            "The minister said on Tuesday that funding will rise.",
            "en",
        ),
        (
            "Le gouvernement présente son budget",
            "Le ministre a déclaré mardi que les crédits augmenteront.",
            "fr",
        ),
        (
            "Regierung stellt neuen Haushalt vor",
            "Der Minister sagte am Dienstag, die Mittel würden steigen.",
            "de",
        ),
        ("Rząd przedstawia nowy budżet", "Minister powiedział we wtorek, że finansowanie wzrośnie.", "pl"),
        (
            "Правительство представило новый бюджет",
            "Министр заявил во вторник, что финансирование вырастет.",
            "ru",
        ),
        ("Уряд представив новий бюджет", "Міністр заявив у вівторок, що фінансування зросте.", "uk"),
        ("Зеленський зустрівся з послом", "", "uk"),
        ("Зеленский встретился с послом", "", "ru"),
        ("Твiй голос важливий для громади", "", "uk"),  # Latin i homoglyph inside Cyrillic words
    ],
)
def test_detect_own_sentences(detector: LanguageDetector, title: str, text: str, expected: str) -> None:
    assert detector.detect(title, text) == expected


@pytest.mark.parametrize(
    ("title", "hint"), [("", None), ("2024 — 15:30", None), ("", "fr"), ("12345", "uk-UA")]
)
def test_nothing_to_read(detector: LanguageDetector, title: str, hint: str | None) -> None:
    expected = normalise_hint(hint) or "und"
    assert detector.detect(title, "", hint=hint) == expected


def test_hint_settles_near_tie(detector: LanguageDetector) -> None:
    # No і/ї/є and no ы/э: uk and ru both plausible; the feed's language decides.
    for text in ("Вона сама все скаже", "Она сама все скажет"):
        assert detector.detect(text, "", hint="uk-UA") == "uk"
        assert detector.detect(text, "", hint="ru_RU") == "ru"


def test_wrong_hint_does_not_override_clear_evidence(detector: LanguageDetector) -> None:
    title = "Міністр оборони України провів переговори з партнерами"
    text = "Під час зустрічі сторони обговорили постачання систем протиповітряної оборони."
    assert detector.detect(title, text, hint="en-US") == "uk"


def test_unconfigured_hint_gives_und_without_clear_evidence(detector: LanguageDetector) -> None:
    assert detector.detect("Il governo presenta la manovra", "", hint="it-IT") == "und"


def test_single_language_and_bad_codes() -> None:
    assert LanguageDetector(["fr"]).detect("anything at all", "") == "fr"
    with pytest.raises(ValueError, match="xx"):
        LanguageDetector(["en", "xx"])
    with pytest.raises(ValueError):
        LanguageDetector([])


def test_touchstone_is_french(detector: LanguageDetector, touchstone_text: str) -> None:
    title, _, body = touchstone_text.partition("\n")
    assert detector.detect(title, body) == "fr"
    assert detector.detect(title, body, hint="en") == "fr"


@pytest.mark.corpus
def test_sentence_accuracy_on_corpus_sample(detector: LanguageDetector, corpora: Path) -> None:
    # A sample of every 10th sentence; bench/language.py reports the full figures.
    for lang in LANGS:
        path = corpora / "lingua-language-testdata" / "sentences" / f"{lang}.txt"
        lines = [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()][::10]
        correct = sum(detector.detect("", s) == lang for s in lines)
        assert correct / len(lines) >= 0.97, (lang, correct, len(lines))


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        ("", 0, True),
        ("", 1, False),
        ("ab", 3, False),
        ("a1b2c", 3, True),
        ("12 Ж", 1, True),
        ("...", 1, False),
    ],
)
def test_has_letters(text: str, count: int, expected: bool) -> None:
    from ingest.language import _has_letters

    assert _has_letters(text, count) is expected
    assert (sum(ch.isalpha() for ch in text) >= count) is expected
