from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.enrich import StandardEnricher, build_enricher
from ingest.model import Article, Source
from tests.conftest import ROOT

LANGS = ("en", "fr", "de", "pl", "ru", "uk")
T0 = datetime(2024, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def enricher() -> StandardEnricher:
    return build_enricher(ROOT / "config", LANGS)


def article(aid: str, title: str, content: str, when: datetime = T0, summary: str = "") -> Article:
    return Article(
        id=aid,
        url=f"https://example.org/{aid}",
        canonical_url=f"https://example.org/{aid}",
        feed_url="https://example.org/feed",
        source=Source(name="Example", domain="example.org"),
        title=title,
        summary=summary,
        content=content,
        published_at=when,
        fetched_at=when,
    )


def test_touchstone(enricher: StandardEnricher, touchstone_text: str) -> None:
    title, _, body = touchstone_text.partition("\n")
    out = enricher.enrich(article("touch", title, body), language_hint="fr-FR")
    assert out.language == "fr"
    assert {"nato", "air-defence", "sanctions", "military-aid"} <= set(out.topic_ids)
    entity_ids = {e.id for e in out.entities}
    assert {"matthew-whitaker", "nato", "denys-shmyhal", "ukraine", "russia", "donald-trump"} <= entity_ids
    assert out.story_id == "touch"
    assert out.simhash != 0
    # A syndicated copy with another title and boilerplate is the same story.
    copy = article(
        "copy",
        "OTAN : visite historique à Kyiv",
        body + "\nLire la suite sur notre site.",
        T0 + timedelta(hours=2),
    )
    again = enricher.enrich(copy, language_hint=None)
    assert again.story_id == "touch"
    assert again.language == "fr"


def test_hint_and_other_fields_kept(enricher: StandardEnricher) -> None:
    a = article("uk1", "Вона сама все скаже", "", summary="")
    out = enricher.enrich(a, language_hint="uk_UA")
    assert out.language == "uk"
    assert (out.id, out.url, out.title, out.published_at) == (a.id, a.url, a.title, a.published_at)
    assert enricher.enrich(article("ru1", "Она сама все скажет", ""), language_hint="ru").language == "ru"


def test_build_without_entities_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config" / "topics.yaml", tmp_path / "topics.yaml")
    enricher = build_enricher(tmp_path, ("en",), reload_topics=False)
    out = enricher.enrich(
        article("e1", "NATO allies pledge air defence", "Patriot systems for Ukraine."), language_hint=None
    )
    assert out.language == "en"
    assert out.entities == ()
    assert out.story_id == "e1"
