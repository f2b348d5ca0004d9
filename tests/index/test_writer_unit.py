from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from index.mapping import articles_mappings
from index.writer import article_to_doc, bulk_actions, compounds, fingerprint
from ingest.model import Source

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
