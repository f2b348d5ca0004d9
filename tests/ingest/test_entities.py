from __future__ import annotations

from pathlib import Path

import pytest

from ingest import entities
from ingest.entities import EntityMatcher, levenshtein, skeleton
from ingest.model import TextInput
from newswatch.errors import ConfigError
from tests.conftest import FIXTURES, ROOT


@pytest.fixture(scope="module")
def matcher() -> EntityMatcher:
    return EntityMatcher.from_file(ROOT / "config" / "entities.yaml")


def ids(matcher: EntityMatcher, title: str, content: str = "") -> set[str]:
    return {m.id for m in matcher.match(TextInput(title=title, content=content))}


def test_config_has_forty_plus_entities_of_every_kind(matcher: EntityMatcher) -> None:
    assert len(matcher.entities) >= 40
    assert {e.kind for e in matcher.entities} == {"person", "organisation", "place"}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["Whitaker", "Vitiaker", "Вітакер", "Уитакер"], "vtkr"),
        (["Shmyhal", "Chmyhal", "Шмигаль", "Шмыгаль"], "smhl"),
        (["Zelensky", "Zelenskyy", "Zelenski", "Selenskyj", "Зеленський", "Зеленский"], "slnsk"),
    ],
)
def test_skeleton_joins_transliterations(words: list[str], expected: str) -> None:
    assert {skeleton(w) for w in words} == {expected}


@pytest.mark.parametrize(
    ("a", "b", "d"), [("", "", 0), ("abc", "abc", 0), ("vtkr", "vtk", 1), ("kitten", "sitting", 3)]
)
def test_levenshtein(a: str, b: str, d: int) -> None:
    assert levenshtein(a, b) == d


def test_touchstone(matcher: EntityMatcher, touchstone_text: str) -> None:
    title, _, body = touchstone_text.partition("\n")
    found = {m.id: m.surface for m in matcher.match(TextInput(title=title, content=body))}
    for expected in ("matthew-whitaker", "nato", "denys-shmyhal", "ukraine", "russia", "donald-trump"):
        assert expected in found, (expected, found)
    assert found["matthew-whitaker"] == "Vitiaker"
    assert found["nato"] == "OTAN"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NATO-Gipfel in Den Haag", {"nato"}),
        ("Саміт НАТО у Гаазі", {"nato"}),
        ("Зеленський зустрівся зі Шмигалем у Києві", {"volodymyr-zelensky", "denys-shmyhal", "kyiv"}),
        ("Зеленский и Шмыгаль прибыли в Киев", {"volodymyr-zelensky", "denys-shmyhal", "kyiv"}),
        ("Selenskyj trifft Scholz in Kiew", {"volodymyr-zelensky", "olaf-scholz", "kyiv"}),
        ("Zełenski spotkał się z Tuskiem w Kijowie", {"volodymyr-zelensky", "donald-tusk", "kyiv"}),
        ("МАГАТЕ: ситуація на Запорізькій АЕС", {"iaea"}),
        ("Експерти МАГАТЕ на Запорізької АЕС", {"iaea", "zaporizhzhia-npp"}),
        ("L'AIEA s'inquiète pour la centrale nucléaire de Zaporijjia", {"iaea", "zaporizhzhia-npp"}),
        ("Poutine et la Russie face à l'UE", {"vladimir-putin", "russia", "eu"}),
        ("Украина и Россия в ООН", {"ukraine", "russia", "un"}),
        ("Путіна засудили в Україні", {"vladimir-putin", "ukraine"}),
        ("Ukraina prosi Unię Europejską o pomoc", {"ukraine", "eu"}),
        ("Ambassador Matthew Vitaker met officials", {"matthew-whitaker"}),
        ("Talks with Premier Chmyhal went well", {"denys-shmyhal"}),
    ],
)
def test_variants_across_scripts(matcher: EntityMatcher, text: str, expected: set[str]) -> None:
    assert ids(matcher, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Il y a un homme et une femme.",  # "un" is not the UN
        "Eu não sei.",
        "He played his trump card.",
        "The natural choice.",
        "Une nature morte au musée.",
        "Натура і культура.",
    ],
)
def test_guards(matcher: EntityMatcher, text: str) -> None:
    assert ids(matcher, text) == set()


def _common_words() -> list[str]:
    path = FIXTURES / "entities" / "common_words.txt"
    return [
        w.strip()
        for w in path.read_text(encoding="utf-8").splitlines()
        if w.strip() and not w.startswith("#")
    ]


@pytest.mark.parametrize("word", _common_words())
def test_common_words_never_match(matcher: EntityMatcher, word: str) -> None:
    for text in (f"{word} is here.", f"They said that {word} was fine.", f"Matthew {word}", f"Denys {word}"):
        assert ids(matcher, text) == set(), text


def test_bad_config_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "entities.yaml"
    bad.write_text("entities:\n  - id: x\n    kind: robot\n    variants: [X]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"entities\.yaml.*robot"):
        EntityMatcher.from_file(bad)
    bad.write_text("entities: [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"entities\.yaml"):
        EntityMatcher.from_file(bad)
    with pytest.raises(ConfigError, match="missing"):
        EntityMatcher.from_file(tmp_path / "missing.yaml")


def _capitalised_reference(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in entities._CAP_WORD.finditer(text) if m.group()[0].isupper()]


def test_capitalised_word_patterns_find_what_cap_word_finds() -> None:
    import random

    bmp, full = entities._capitalised_words()
    rng = random.Random(9)
    pool = [*"aAbBéÉ _1.\n’-ſİıǅⅫⓐ", "Ж", "ж", "\U0001d400", "\U00010400", "𝐚", "x"]
    for _ in range(20000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 16)))
        found = [(m.start(), m.group()) for m in full.finditer(text)]
        assert found == _capitalised_reference(text), repr(text)
        if not entities._ASTRAL.search(text):
            assert [(m.start(), m.group()) for m in bmp.finditer(text)] == found, repr(text)


def test_matching_is_unchanged_by_long_bodies(matcher: EntityMatcher) -> None:
    body = "Zelensky met Macron in Kyiv. " + "filler words " * 1000
    doc = TextInput(title="Talks", summary="", content=body)
    assert {e.id for e in matcher.match(doc)} >= {"volodymyr-zelensky", "emmanuel-macron"}


def test_has_astral_equals_astral_search() -> None:
    import random

    rng = random.Random(2)
    for _ in range(20000):
        codes = [
            rng.choice((rng.randrange(0x80), rng.randrange(0xD800, 0xE000), rng.randrange(0x110000)))
            for _ in range(rng.randint(0, 12))
        ]
        sample = "".join(map(chr, codes))
        assert entities._has_astral(sample) == bool(entities._ASTRAL.search(sample)), repr(sample)


def _skeleton_definition(word: str) -> str:
    """``skeleton`` as first written: every rule of ``_SKELETON_RULES`` in turn."""
    from ingest.text import fold

    out = fold(word).translate(entities._CYR_TABLE)
    out = "".join(ch for ch in out if ch.isalpha())
    for pattern, repl in entities._SKELETON_RULES:
        out = pattern.sub(repl, out)
    return out


def _text_and_fold_definition(parts: list[str], max_chars: int) -> tuple[str, str]:
    """What ``EntityMatcher.match`` looks in, as first written: joined, cut, white space collapsed."""
    from ingest.text import fold

    text = " ".join(". ".join(parts)[:max_chars].split())
    return text, fold(text)


def test_skeleton_equals_its_definition() -> None:
    import random

    # Every letter group a rule looks for, their neighbours, Cyrillic, accents, non-letters, doubles.
    pool = [
        *"whuioyaejkgcqxztsprnlmbdfvWHUIOYCZŻŹżźßæœÆ",
        *"шщчжхгґцкзсйїєюяьъЩЖХ",
        *"ñçøåłđÐþ1_-’ '.·\u0301\u00ad",
        "sch",
        "shch",
        "sz",
        "cz",
        "rz",
        "kh",
        "gh",
        "th",
        "ph",
        "ck",
        "ts",
        "tz",
        "ou",
        "\u03b1",
        "\u05d0",
        "\u4e00",
        "\U0001d400",
        "ǅ",
        "İ",
        "ﬁ",
    ]
    rng = random.Random(21)
    words = ["", "a", "Whitaker", "Вітакер", "Uitaker", "Shchukin", "Xzz", "Mississippi", "Ouest", "x" * 5000]
    words += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 14))) for _ in range(60000)]
    for word in words:
        assert skeleton.__wrapped__(word) == _skeleton_definition(word), repr(word)


def test_skeleton_equals_its_definition_on_short_words() -> None:
    import itertools

    letters = "cghkqstzwxpuoa"
    for size in range(1, 5):
        for letters_tuple in itertools.product(letters, repeat=size):
            word = "".join(letters_tuple)
            assert skeleton.__wrapped__(word) == _skeleton_definition(word), word


def test_only_a_line_break_folds_to_a_line_break() -> None:
    from ingest import text

    every = "\x00".join(map(chr, range(1, 0x110000)))
    assert text._fold_str(every, False).count("\n") == 1


@pytest.mark.parametrize("max_chars", [6000, 40])
def test_text_and_fold_equal_definition(max_chars: int) -> None:
    import random

    from ingest.text import fold

    rng = random.Random(max_chars)
    pool = [
        *"aZ é.’-_/\n\n \t\u00a0\u3000ßİſﬁ½Ωω…\u0301\u0316\u0f71\u0f72\u00ad\u200b",
        "Ж",
        "한",
        "\U0001f600",
        "Zelensky",
        "e\u0301",
        "  ",
    ]
    for _ in range(4000):
        parts = [
            "".join(rng.choice(pool) for _ in range(rng.randint(1, 30))) for _ in range(rng.randint(1, 3))
        ]
        if rng.random() < 0.5:
            for part in parts:
                fold(part)  # as the content hash does before the matcher runs
        else:
            fold.cache_clear()
        expected = _text_and_fold_definition(parts, max_chars)
        assert entities._text_and_fold(parts, max_chars) == expected, parts
        assert expected[1] == entities._text_and_fold(parts, max_chars)[1]
    long_part = "Défense anti-aérienne\nl’OTAN " * 400
    for parts in ([long_part], ["Titre", long_part, long_part], ["x" * 9000]):
        assert entities._text_and_fold(parts, max_chars) == _text_and_fold_definition(parts, max_chars)
