from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from ingest import stories
from ingest.model import Article, Source
from ingest.stories import StoryIndex, fingerprint, hamming, simhash, story_text
from ingest.text import normalise_space, tokens
from tests.conftest import FIXTURES, require_speedups

T0 = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)


def _pairs() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / "stories" / "pairs.yaml").read_text(encoding="utf-8"))
    return data


PAIRS = _pairs()


def article(aid: str, title: str, body: str, when: datetime = T0) -> Article:
    return Article(
        id=aid,
        url=f"https://example.org/{aid}",
        canonical_url=f"https://example.org/{aid}",
        feed_url="https://example.org/feed",
        source=Source(name="Example", domain="example.org"),
        title=title,
        summary="",
        content=body,
        published_at=when,
        fetched_at=when,
    )


def test_fixture_has_enough_pairs() -> None:
    pairs = PAIRS["pairs"]
    assert len(pairs) >= 30
    assert {p[3] for p in pairs} >= {"syndicated", "updated", "same_topic"}


@pytest.mark.parametrize("pair", PAIRS["pairs"], ids=lambda p: f"{p[0]}-{p[1]}-{p[3]}")
def test_pairs(pair: list[Any]) -> None:
    a, b, same, _kind = pair
    stories = PAIRS["stories"]
    index = StoryIndex()
    first = index.assign(article(a, stories[a]["title"], stories[a]["body"]))
    second = index.assign(article(b, stories[b]["title"], stories[b]["body"], T0 + timedelta(hours=3)))
    assert first == a
    assert (second == a) is same


def test_forty_outlets_and_two_updates_are_one_story() -> None:
    base = PAIRS["stories"]["nato_a"]
    index = StoryIndex()
    ids = {index.assign(article("wire", base["title"], base["body"]))}
    for i in range(40):
        body = f"CITY{i} (AFP) - {base['body']} Read more at outlet{i}.example.com/story/{i}"
        ids.add(
            index.assign(
                article(f"outlet{i}", f"{base['title']} | Outlet {i}", body, T0 + timedelta(minutes=i))
            )
        )
    for key in ("nato_a_upd1", "nato_a_upd2"):
        upd = PAIRS["stories"][key]
        ids.add(index.assign(article(key, upd["title"], upd["body"], T0 + timedelta(hours=5))))
    assert ids == {"wire"}


def test_time_window() -> None:
    s = PAIRS["stories"]["sanc_a"]
    index = StoryIndex(window=timedelta(hours=72))
    assert index.assign(article("a", s["title"], s["body"])) == "a"
    assert index.assign(article("b", s["title"], s["body"], T0 + timedelta(hours=73))) == "b"
    assert index.assign(article("c", s["title"], s["body"], T0 + timedelta(hours=100))) == "b"


def test_bounded_memory_evicts_oldest() -> None:
    index = StoryIndex(max_entries=3)
    texts = [PAIRS["stories"][k] for k in ("nato_a", "sanc_a", "znpp_a", "uk_a")]
    for i, s in enumerate(texts):
        index.assign(article(f"a{i}", s["title"], s["body"], T0 + timedelta(minutes=i)))
    assert len(index) == 3
    s = texts[0]
    assert index.assign(article("again", s["title"], s["body"], T0 + timedelta(minutes=9))) == "again"


def test_warm_from_stored_documents_and_idempotent_add() -> None:
    s = PAIRS["stories"]["de_a"]
    fp = fingerprint(s["body"], s["title"])
    index = StoryIndex()
    assert index.add("stored-2", fp, T0, story_id="stored-1") == "stored-1"
    syn = PAIRS["stories"]["de_a_synd"]
    assert index.assign(article("new", syn["title"], syn["body"], T0 + timedelta(hours=1))) == "stored-1"
    assert index.add("stored-2", fp, T0) == "stored-1"
    assert len(index) == 2


def test_fingerprint_is_stable_and_pure() -> None:
    text = "NATO defence ministers agreed on Thursday to send additional air defence systems to Ukraine."
    assert fingerprint(text) == fingerprint(text)
    # Pinned: stored fingerprints (Article.simhash) must stay comparable across releases.
    assert fingerprint(text) == 0xA05983A002330140
    assert 0 <= fingerprint(text) < 2**64
    assert fingerprint("") == 0
    assert simhash([]) == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Text here. Read more at example.com", "text here"),
        ("Text here. The post Foo appeared first on Bar.", "text here"),
        ("KYIV (Reuters) - Text here", "text here"),
        ("Text here https://t.co/x", "text here"),
        ("Текст тут. Читайте також: інше", "текст тут"),
        ("Texte ici. Lire la suite", "texte ici"),
        ("Text hier. © 2024 Verlag", "text hier"),
    ],
)
def test_boilerplate_removed(body: str, expected: str) -> None:
    words = story_text("", body + " " + " ".join(["w"] * 10))
    assert " ".join(words).startswith(expected)


def test_short_body_uses_title() -> None:
    assert story_text("Big title", "short") == ["big", "title", "short"]
    assert hamming(fingerprint("short", "Big title"), fingerprint("short", "Other words")) > 0


# ---------------------------------------------------------------------------------- speed-ups, same results


@pytest.mark.parametrize(
    ("body", "title", "expected"),
    [  # values computed by the pure-Python implementation before numpy (they must never change)
        ("", "", 0),
        ("one", "", 14489617718373642804),
        ("a b", "", 2830059752411035840),
        ("Short body", "A title for the short body", 5188936531642575880),
        (
            "KYIV (Reuters) - " + " ".join(f"word{i}" for i in range(150)) + " Read more at example.com",
            "",
            15100755010487176977,
        ),
        (
            "Défense anti-aérienne : l’OTAN livre des systèmes Patriot à l’Ukraine. " * 20,
            "OTAN",
            14945797527138845990,
        ),
    ],
)
def test_fingerprint_pinned(body: str, title: str, expected: int) -> None:
    assert fingerprint(body, title) == expected


def test_simhash_pinned() -> None:
    assert simhash(["a", "b", "c"]) == 4561591501506902532


def test_mix_arrays_equals_mix() -> None:
    import random

    import numpy as np

    rng = random.Random(7)
    values = [0, 1, 2**63, 2**64 - 1] + [rng.getrandbits(64) for _ in range(300)]
    a, b, c = (np.array(values[i:] + values[:i], dtype=np.uint64) for i in range(3))
    triples = zip(a.tolist(), b.tolist(), c.tolist(), strict=True)
    assert stories._mix_arrays(a, b, c).tolist() == [stories._mix(*t) for t in triples]
    pairs = zip(a.tolist(), b.tolist(), strict=True)
    assert stories._mix_arrays(a, b, None).tolist() == [stories._mix(x, y) for x, y in pairs]


def _story_text_reference(title: str, body: str) -> list[str]:
    """story_text without its shortcuts (no head-only tokenising, tail regex always run)."""
    cleaned = body[: stories.MAX_TOKENS * 12]
    if "http" in cleaned or "www." in cleaned:
        cleaned = stories._URL.sub(" ", cleaned)
    if "(" in cleaned[:120]:
        cleaned = stories._DATELINE.sub(" ", cleaned, count=1)
    cleaned = cleaned[: -stories._TAIL] + stories._TAIL_BOILERPLATE.sub(" ", cleaned[-stories._TAIL :])
    words = tokens(cleaned)
    if len(words) < stories.MIN_BODY_TOKENS:
        words = tokens(title) + words
    return words[: stories.MAX_TOKENS]


def test_story_text_shortcuts_change_nothing() -> None:
    import random

    rng = random.Random(11)
    vocab = ["word", "Ünïcode", "anti-aérienne", "l’OTAN", "Read", "more", "at", "ſite", "\n", "©", "x" * 30]
    vocab += ["The", "post", "appeared", "first", "on", "Читайте", "також", "...", "a.b", "İstanbul"]
    for _ in range(400):
        body = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 260)))
        title = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 6)))
        assert story_text(title, body) == _story_text_reference(title, body), body


def test_normalised_opening_is_enough() -> None:
    import random

    rng = random.Random(5)
    limit = stories.MAX_TOKENS * 12
    for _ in range(300):
        pieces = ["ab ", "c", "  ", "\n\n", "x" * 40, " " * 50, " " * 200]
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 300)))
        assert stories._normalised_opening(body)[:limit] == normalise_space(body)[:limit]
        title = "t"
        assert story_text(title, stories._normalised_opening(body)) == story_text(
            title, normalise_space(body)
        )


def test_tail_key_finds_every_case_insensitive_match() -> None:
    """A tail without a key must be one the boilerplate regex cannot match: for every character of every
    key, the code points ``re.IGNORECASE`` matches it with are exactly those ``_tail_key`` maps onto it."""
    everything = "".join(map(chr, range(0x110000)))
    key_chars = sorted(set("".join(stories._TAIL_KEYS)))
    for ch in key_chars:
        by_regex = set(re.findall(re.escape(ch), everything, re.IGNORECASE))
        assert ch in by_regex
        missing = {c for c in by_regex if stories._tail_key(c) != ch}
        assert not missing, (ch, sorted(missing))


def test_c_simhash_equals_numpy() -> None:
    """``fingerprint``'s C loop (where built) gives the numpy path's value for every length."""
    import random

    plain = require_speedups()
    rng = random.Random(11)
    for n in [*range(0, 12), 50, 99, 100, 257]:
        for _ in range(20):
            hashes: list[int | None] = [rng.getrandbits(64) for _ in range(n)]
            three = n >= 2 * stories.SHINGLE
            assert plain.simhash_words(hashes, three) == stories._fingerprint_numpy(hashes), n
    edge: list[int | None] = [2**64 - 1, 0, 2**63]
    assert plain.simhash_words(edge, False) == stories._fingerprint_numpy(edge)
