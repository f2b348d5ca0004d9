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


def test_enrich_many_is_enrich_per_article_and_isolates_failures(tmp_path: Path) -> None:
    wire = (
        "Defence ministers of the alliance agreed on Thursday to send two more Patriot batteries and "
        "interceptor missiles to Ukraine before winter, after a night in which Russia launched 40 drones "
        "and six cruise missiles at Kyiv, Lviv and Odesa. The systems will come from German and Dutch "
        "stocks, officials said, and crews will be trained in Poland."
    )
    texts = [
        ("m1", "NATO allies pledge air defence", wire),
        ("m2", "L'UE adopte un nouveau paquet de sanctions", "Les avoirs de 40 entités sont gelés."),
        ("m3", "Сили ППО збили 40 шахедів", "Уламки впали на склад у Києві."),
        ("m4", "Allies to send two more Patriot batteries", wire + " Read more on our website."),
    ]
    articles = [article(aid, t, body, T0 + timedelta(minutes=i)) for i, (aid, t, body) in enumerate(texts)]
    hints = [None, "fr", None, "en"]
    one_by_one = build_enricher(ROOT / "config", LANGS, reload_topics=False)
    expected = [one_by_one.enrich(a, language_hint=h) for a, h in zip(articles, hints, strict=True)]
    staged = build_enricher(ROOT / "config", LANGS, reload_topics=False)
    assert staged.enrich_many(articles, hints) == expected
    assert expected[3].story_id == "m1"

    # A stage that fails for one article: that article gets the exception, the others their result,
    # and the story index still sees the others in order.
    class Picky:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def tag(self, doc, language=None):  # type: ignore[no-untyped-def]
            if doc.title.startswith("L'UE"):
                raise RuntimeError("rule file broken")
            return self.inner.tag(doc, language)  # type: ignore[attr-defined]

    picky = build_enricher(ROOT / "config", LANGS, reload_topics=False)
    picky.tagger = Picky(picky.tagger)
    results = picky.enrich_many(articles, hints)
    assert isinstance(results[1], RuntimeError)
    assert [results[i] for i in (0, 2, 3)] == [expected[i] for i in (0, 2, 3)]
    with pytest.raises(RuntimeError, match="rule file broken"):
        picky.enrich(articles[1], language_hint="fr")
