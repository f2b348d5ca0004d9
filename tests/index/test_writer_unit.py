from __future__ import annotations

import dataclasses
import random
import re
from datetime import UTC, datetime

import pytest

from index.mapping import articles_mappings
from index.writer import article_to_doc, bulk_actions, compounds, fingerprint
from ingest.model import Source
from ingest.text import tokens

from .factory import T0, entity, make_article, nato_topic

NOW = datetime(2024, 5, 2, 8, 30, tzinfo=UTC)


def test_article_to_doc_folds_and_keeps_originals() -> None:
    art = make_article(
        1,
        title="L’OTAN et la DÉFENSE",
        summary="Résumé",
        content="défense anti-aérienne",
        topics=(nato_topic(),),
        entities=(entity("org:nato", "NATO"),),
        story_id="story-1",
        date_flags=("future",),
        categories=("Monde",),
    )
    doc = article_to_doc(art, NOW)
    assert doc["title"] == "L’OTAN et la DÉFENSE"
    assert doc["title_folded"] == "l otan et la defense"
    assert doc["text_folded"] == "resume\ndefense anti aerienne"
    assert doc["text_compounds"] == "antiaerienne"
    assert doc["title_compounds"] == "lotan"
    assert doc["tags_folded"] == ["nato"]  # entity name NATO and topic id nato, deduplicated
    assert doc["published_at"] == "2024-05-01T12:00:00Z"
    assert doc["indexed_at"] == doc["first_indexed_at"] == "2024-05-02T08:30:00Z"
    assert doc["source"] == {"name": "Example News", "domain": "example.org"}
    assert doc["topics"] == [
        {
            "id": "nato",
            "score": 2.5,
            "terms": ["otan", "nato"],
            "hits": [{"term": "otan", "field": "title", "position": 8, "weight": 1.0}],
        }
    ]
    assert doc["entities"][0]["id"] == "org:nato"
    assert doc["story_id"] == "story-1"
    assert doc["date_flags"] == ["future"]


def test_every_doc_field_is_in_the_strict_mapping() -> None:
    props = articles_mappings()["properties"]
    doc = article_to_doc(make_article(1, "t", topics=(nato_topic(),), entities=(entity("e", "E"),)), NOW)
    assert set(doc) <= set(props)
    assert set(doc["topics"][0]) <= set(props["topics"]["properties"])
    assert set(doc["entities"][0]) <= set(props["entities"]["properties"])
    assert articles_mappings()["dynamic"] == "strict"


def test_missing_story_and_date() -> None:
    doc = article_to_doc(make_article(7, "t", published_at=None), NOW)
    assert doc["story_id"] == "art-7"  # an article without a story is its own story
    assert doc["published_at"] is None


def test_fingerprint_ignores_volatile_fields_only() -> None:
    art = make_article(1, "Title", "Body")
    a = article_to_doc(art, NOW)
    b = article_to_doc(dataclasses.replace(art, fetched_at=NOW), datetime(2030, 1, 1, tzinfo=UTC))
    assert a["doc_fingerprint"] == b["doc_fingerprint"] == fingerprint(b)
    changed = article_to_doc(dataclasses.replace(art, content="Body 2", content_hash="other"), NOW)
    assert changed["doc_fingerprint"] != a["doc_fingerprint"]
    retagged = article_to_doc(dataclasses.replace(art, topics=(nato_topic(),)), NOW)
    assert retagged["doc_fingerprint"] != a["doc_fingerprint"]
    moved = article_to_doc(dataclasses.replace(art, source=Source("Other", "other.org")), NOW)
    assert moved["doc_fingerprint"] != a["doc_fingerprint"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("défense anti-aérienne", ["antiaerienne"]),
        ("l’OTAN, l'Ukraine", ["lotan", "lukraine"]),
        ("sol-air-sol", ["solair", "solairsol", "airsol"]),
        ("no compounds here", []),
        ("e-mail e-mail", ["email"]),
    ],
)
def test_compounds(text: str, expected: list[str]) -> None:
    assert compounds(text) == expected


def test_bulk_actions_use_article_id() -> None:
    arts = [make_article(1, "a"), make_article(2, "b")]
    actions = list(bulk_actions(arts, "x-articles", lambda: T0))
    assert [a["_id"] for a in actions] == ["art-1", "art-2"]
    assert {a["_op_type"] for a in actions} == {"index"}
    assert actions[0]["_index"] == "x-articles"


def _compounds_reference(text: str) -> list[str]:
    """compounds() as first written: one backtracking regex over the whole text."""
    out: list[str] = []
    for match in re.finditer(r"\w+(?:[-\u2010\u2011'\u2019\u02bc\u00ad]\w+)+", text):
        parts = tokens(match.group(0))
        if len(parts) < 2:
            continue
        spans = [(0, len(parts))]
        if len(parts) <= 4:
            spans = [(i, j) for i in range(len(parts)) for j in range(i + 2, len(parts) + 1)]
        for i, j in spans:
            joined = "".join(parts[i:j])
            if joined not in out:
                out.append(joined)
    return out


@pytest.mark.parametrize("alphabet", ["ab_1é 'ʼ-\u00ad\u2010.,中\n", "ab_1é '-\u00ad\u2010.,中\n"])
def test_compounds_equal_reference_on_random_text(alphabet: str) -> None:
    rng = random.Random(3)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 18)))
        assert compounds(text) == _compounds_reference(text), repr(text)


def test_compounds_long_words_are_linear() -> None:
    # The first regex retried every position of a word: quadratic, minutes for this text.
    text = "中" * 50_000 + "-x " + "y" * 50_000
    assert compounds(text) == ["中" * 50_000 + "x"]


@pytest.mark.parametrize("score", [2.5, 1e-07, 1e16, 123456789.125, float("nan"), float("inf"), 3])
def test_doc_fingerprint_fast_path_is_the_same_hash(score: float) -> None:
    topic = dataclasses.replace(nato_topic(), score=score)
    art = make_article(3, "Défense anti-aérienne", 'l’OTAN\u2028\x00\x1f "q" \\ é', topics=(topic,))
    doc = article_to_doc(art, NOW)
    assert doc["doc_fingerprint"] == fingerprint(doc)


def test_doc_fingerprint_of_unencodable_text_fails_as_before() -> None:
    art = dataclasses.replace(make_article(4, "title", "body"), title="bad \ud800 surrogate")
    with pytest.raises(UnicodeEncodeError):
        article_to_doc(art, NOW)


@pytest.mark.parametrize("length", [18, 400])
@pytest.mark.parametrize("with_02bc", [True, False])
def test_compound_chains_equal_the_regex(length: int, with_02bc: bool) -> None:
    """Both paths (the C pass where built, and Python) give the regex's matches."""
    from index import writer

    rng = random.Random(length)
    pool = [*"ab_1é '’-\u00ad\u2010\u2011.,中\n\tЖ²", "xy-", "-z", "aa'bb", "\U0001f600", "\U00010400"]
    pool += ["ʼ"] if with_02bc else []
    for _ in range(20000 if length < 100 else 1000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, length)))
        expected = writer._COMPOUND_RE.findall(text)
        assert writer._compound_chains(text) == expected, repr(text)
        assert writer._compound_chains_py(text) == expected, repr(text)


def test_compounds_of_every_chain_length_equal_reference() -> None:
    for size in range(1, 8):
        for joiner in "-’'\u00ad":
            chain = joiner.join("Ab"[: 1 + i % 2] + str(i) for i in range(size))
            text = f"x {chain}, {chain.upper()} é-{chain}"
            assert compounds(text) == _compounds_reference(text), repr(text)
