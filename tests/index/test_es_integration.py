"""Integration tests on the real Elasticsearch node (NEWSWATCH_ELASTICSEARCH_URL), unique index prefixes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from index.client import make_client
from index.query import SearchRequest
from index.search import get_article, search
from index.setup import ensure_indices, index_status, setup_indices
from index.writer import BulkWriter, article_to_doc
from ingest.model import Article, Source
from newswatch.errors import StorageUnavailable
from newswatch.settings import Settings, load_settings

from .factory import T0, entity, make_article, nato_topic

pytestmark = pytest.mark.es


@dataclass
class Env:
    es: Elasticsearch
    settings: Settings
    alias: str

    def writer(self, now: datetime = T0) -> BulkWriter:
        return BulkWriter(self.es, self.alias, chunk_size=50, now=lambda: now)

    def refresh(self) -> None:
        self.es.indices.refresh(index=self.alias)

    def search(self, query: str = "", **kw: object) -> list[str]:
        result = search(self.es, self.alias, SearchRequest(query=query, **kw))  # type: ignore[arg-type]
        return sorted(h.id.removeprefix("art-") for h in result.hits)

    def count(self) -> int:
        self.refresh()
        return int(self.es.count(index=self.alias).body["count"])


@pytest.fixture
def env(es_url: str, index_prefix: str) -> Iterator[Env]:
    settings = load_settings(elasticsearch_url=es_url, index_prefix=index_prefix)
    es = make_client(settings)
    ensure_indices(es, settings)
    yield Env(es, settings, settings.index_name("articles"))
    es.close()


def corpus(touchstone: str) -> list[Article]:
    title, body = touchstone.split("\n", 1)
    le_monde = Source("Le Monde", "lemonde.fr")
    return [
        make_article(
            "fr",
            title,
            body,
            language="fr",
            source=le_monde,
            topics=(nato_topic(),),
            entities=(entity("org:nato", "NATO"),),
            story_id="s-nato",
        ),
        make_article(
            "fr-dup",
            title + " (mise à jour)",
            body,
            language="fr",
            source=le_monde,
            topics=(nato_topic(),),
            story_id="s-nato",
            published_at=T0 + timedelta(hours=1),
        ),
        make_article(
            "en",
            "NATO air defence for Ukraine",
            "Allies send air defense systems.",
            topics=(nato_topic(),),
            story_id="s-en",
            published_at=T0 - timedelta(days=3),
        ),
        make_article(
            "defense",
            "Defense budget",
            "The defense ministry, not otan.",
            story_id="s-budget",
            published_at=T0 - timedelta(days=10),
            source=Source("Wire", "wire.example"),
        ),
        make_article(
            "sport",
            "Football: la finale",
            "Le match de football était serré.",
            language="fr",
            published_at=T0 - timedelta(days=1),
        ),
        make_article(
            "ru",
            "ПВО и НАТО",
            "Противовоздушная оборона Україна ЇЖАК.",
            language="ru",
            published_at=None,
            date_flags=("missing",),
        ),
    ]


@pytest.fixture
def loaded(env: Env, touchstone_text: str) -> Env:
    report = env.writer().write(corpus(touchstone_text))
    assert report.errors == ()
    assert report.created == 6
    env.refresh()
    return env


def test_ensure_indices_is_idempotent_and_alias_points_at_v1(es_url: str, index_prefix: str) -> None:
    settings = load_settings(elasticsearch_url=es_url, index_prefix=index_prefix)
    es = make_client(settings)
    first = setup_indices(es, settings)
    second = setup_indices(es, settings)
    ensure_indices(es, settings)
    alias = f"{index_prefix}-articles"
    assert any("created" in a for a in first.actions)
    assert all("created" not in a for a in second.actions)
    aliases = es.indices.get_alias(name=alias).body
    assert list(aliases) == [f"{alias}-v1"]
    assert aliases[f"{alias}-v1"]["aliases"][alias]["is_write_index"] is True
    mapping = es.indices.get_mapping(index=alias).body[f"{alias}-v1"]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["title_folded"]["type"] == "text"
    status = index_status(es, settings)
    assert status is not None and status.write_index == f"{alias}-v1" and status.doc_count == 0
    es.close()


def test_reingest_is_noop_and_changed_entry_is_updated(env: Env) -> None:
    arts = [make_article(i, f"Title {i}", f"Body {i}") for i in range(120)]
    first = env.writer(T0).write(arts)
    assert (first.created, first.updated, first.noop, first.errors) == (120, 0, 0, ())
    # Same feed again, later: nothing rewritten, indexed_at (alert watermark) untouched.
    later = T0 + timedelta(hours=1)
    again = env.writer(later).write(dataclasses.replace(a, fetched_at=later) for a in arts)
    assert (again.created, again.updated, again.noop, again.errors) == (0, 0, 120, ())
    assert env.count() == 120
    doc = get_article(env.es, env.alias, "art-5")
    assert doc is not None and doc["indexed_at"] == "2024-05-01T12:00:00Z"
    # One entry changes: updated, indexed_at moves, first_indexed_at is carried over.
    changed = [dataclasses.replace(arts[5], content="Body 5, corrected", content_hash="new"), *arts[6:8]]
    third = env.writer(later).write(changed)
    assert (third.created, third.updated, third.noop) == (0, 1, 2)
    doc = get_article(env.es, env.alias, "art-5")
    assert doc is not None
    assert doc["content"] == "Body 5, corrected"
    assert doc["indexed_at"] == "2024-05-01T13:00:00Z"
    assert doc["first_indexed_at"] == "2024-05-01T12:00:00Z"
    assert "title_folded" not in doc
    assert env.count() == 120
    assert get_article(env.es, env.alias, "nope") is None


def test_duplicate_ids_in_one_batch(env: Env) -> None:
    a = make_article(1, "One")
    report = env.writer().write([a, a, dataclasses.replace(a, title="One v2")])
    assert (report.created, report.noop, report.errors) == (1, 2, ())
    doc = get_article(env.es, env.alias, "art-1")
    assert doc is not None and doc["title"] == "One v2"


def test_bulk_errors_are_reported_not_swallowed(env: Env) -> None:
    good = article_to_doc(make_article(1, "good"), T0)
    bad = {**article_to_doc(make_article(2, "bad", url="https://example.org/bad"), T0), "unexpected": 1}
    worse = {**article_to_doc(make_article(3, "worse"), T0), "published_at": "not a date"}
    report = env.writer().write_docs([good, bad, worse])
    assert report.created == 1
    assert len(report.errors) == 2
    by_id = {e["id"]: e for e in report.errors}
    assert by_id["art-2"]["url"] == "https://example.org/bad"
    assert by_id["art-2"]["type"] == "strict_dynamic_mapping_exception"
    assert "unexpected" in by_id["art-2"]["reason"]
    assert by_id["art-3"]["type"] == "document_parsing_exception"
    assert by_id["art-3"]["status"] == 400
    # Raw actions too.
    raw = env.writer().execute_actions(
        [{"_op_type": "index", "_index": env.alias, "_id": "raw", "_source": {"id": "raw", "zzz": True}}]
    )
    assert raw.created == 0 and raw.errors[0]["id"] == "raw"
    assert env.count() == 1


def test_write_to_missing_alias_is_an_error_not_an_autocreated_index(es_url: str, index_prefix: str) -> None:
    es = Elasticsearch(es_url)
    alias = f"{index_prefix}-articles"
    with pytest.raises(StorageUnavailable, match="index init"):
        BulkWriter(es, alias).write([make_article(1, "x")])
    assert not es.indices.exists(index=alias).body
    with pytest.raises(StorageUnavailable, match="index init"):
        search(es, alias, SearchRequest(query="x"))
    es.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("defense antiaerienne", ["fr", "fr-dup"]),
        ("antiaérienne", ["fr", "fr-dup"]),
        ("anti-aérienne", ["fr", "fr-dup"]),
        ("OTAN", ["defense", "fr", "fr-dup"]),
        ("otan", ["defense", "fr", "fr-dup"]),
        ("l’OTAN", ["fr", "fr-dup"]),
        ("DÉFENSE", ["defense", "en", "fr", "fr-dup"]),
        ("défense", ["defense", "en", "fr", "fr-dup"]),
        ('"air defence"', ["en"]),
        ('"défense anti aerienne"', ["fr", "fr-dup"]),
        ('"defense ministry"', ["defense"]),
        ('"ministry defense"', []),
        ("otan AND budget", ["defense"]),
        ("otan OR football", ["defense", "fr", "fr-dup", "sport"]),
        ("defense -otan", ["en"]),
        ("-otan -football -ПВО", ["en"]),
        ("defense NOT (otan OR air)", []),
        ("(football OR budget) -wire", ["defense", "sport"]),
        ("foot*", ["sport"]),
        ("antiaer*", ["fr", "fr-dup"]),
        ("title:defense", ["defense", "fr", "fr-dup"]),
        ("title:ministry", []),
        ("text:ministry", ["defense"]),
        ("title:otan", ["fr", "fr-dup"]),
        ("topic:nato ukraine", ["en", "fr", "fr-dup"]),
        ("україна", ["ru"]),
        ("ЇЖАК пво", ["ru"]),
        ("нато", ["ru"]),
        ("NATO", ["en", "fr", "fr-dup"]),  # fr: entity NATO (surface OTAN) and topic nato
    ],
)
def test_folded_search(loaded: Env, query: str, expected: list[str]) -> None:
    assert loaded.search(query) == expected


def test_filters(loaded: Env) -> None:
    assert loaded.search(topics=("nato",)) == ["en", "fr", "fr-dup"]
    assert loaded.search(languages=("fr",)) == ["fr", "fr-dup", "sport"]
    assert loaded.search(languages=("ru", "en")) == ["defense", "en", "ru"]
    assert loaded.search(sources=("lemonde.fr",)) == ["fr", "fr-dup"]
    assert loaded.search(sources=("le monde",)) == ["fr", "fr-dup"]  # name, case-insensitive
    assert loaded.search(entities=("org:nato",)) == ["fr"]
    assert loaded.search("defense", since=T0 - timedelta(days=5)) == ["en", "fr", "fr-dup"]
    assert loaded.search(since=T0 - timedelta(days=2), until=T0) == ["sport"]
    assert loaded.search(indexed_since=T0, indexed_until=T0 + timedelta(seconds=1)) == sorted(
        ["fr", "fr-dup", "en", "defense", "sport", "ru"]
    )
    assert loaded.search(indexed_since=T0 + timedelta(seconds=1)) == []


def test_highlights_facets_histogram(loaded: Env) -> None:
    result = search(loaded.es, loaded.alias, SearchRequest(query="defense antiaerienne OTAN", limit=10))
    top = result.hits[0]
    assert top.id in ("art-fr", "art-fr-dup")
    assert "<mark>OTAN</mark>" in top.highlights["title"][0]
    assert any("<mark>défense</mark> <mark>anti-aérienne</mark>" in f for f in top.highlights["content"])
    assert top.topics[0].id == "nato" and top.topics[0].hits[0].term == "otan"
    assert top.source_name == "Le Monde" and top.language == "fr"
    all_docs = search(loaded.es, loaded.alias, SearchRequest(limit=10))
    assert all_docs.total == 6
    assert dict(all_docs.facets["languages"]) == {"fr": 3, "en": 2, "ru": 1}
    assert dict(all_docs.facets["topics"]) == {"nato": 3}
    assert dict(all_docs.facets["sources"])["Le Monde"] == 2
    assert sum(c for _, c in all_docs.date_histogram) == 5  # one article has no date
    assert all_docs.date_histogram[0][0].startswith("2024-04-21")


def test_collapse_by_story(loaded: Env) -> None:
    result = search(loaded.es, loaded.alias, SearchRequest(query="otan", collapse_story=True))
    ids = [h.id.removeprefix("art-") for h in result.hits]
    assert len(ids) == 2 and "defense" in ids
    assert len({"fr", "fr-dup"} & set(ids)) == 1
    assert result.next_search_after is None


@pytest.mark.parametrize("sort", ["date", "relevance"])
def test_search_after_paging(env: Env, sort: str) -> None:
    arts = [
        make_article(
            f"{i:02d}", f"Drone news {i}", "drone " * (i % 5 + 1), published_at=T0 - timedelta(hours=i % 7)
        )
        for i in range(23)
    ]
    assert env.writer().write(arts).created == 23
    env.refresh()
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        req = SearchRequest(query="drone", limit=5, sort=sort, search_after=after)  # type: ignore[arg-type]
        result = search(env.es, env.alias, req)
        seen += [h.id for h in result.hits]
        pages += 1
        after = result.next_search_after
        if after is None:
            break
    assert pages == 5
    assert len(seen) == 23 and len(set(seen)) == 23
    if sort == "date":
        dates = [get_article(env.es, env.alias, i)["published_at"] for i in seen]  # type: ignore[index]
        assert dates == sorted(dates, reverse=True)


def test_unreachable_node_is_storage_unavailable(unique_prefix: str) -> None:
    settings = load_settings(
        elasticsearch_url="http://127.0.0.1:1", index_prefix=unique_prefix, es_timeout_s=2
    )
    es = make_client(settings)
    with pytest.raises(StorageUnavailable, match=r"127\.0\.0\.1:1"):
        search(es, settings.index_name("articles"), SearchRequest(query="x"))
    with pytest.raises(StorageUnavailable, match=r"127\.0\.0\.1:1"):
        ensure_indices(es, settings)


def test_touchstone_is_found(loaded: Env, touchstone_text: str) -> None:
    for q in ("OTAN", "NATO", "defense antiaerienne", "défense anti-aérienne"):
        assert "fr" in loaded.search(q, languages=("fr",)), q


def test_ensure_indices_concurrently(es_url: str, index_prefix: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = load_settings(elasticsearch_url=es_url, index_prefix=index_prefix)

    def run(_: int) -> None:
        es = make_client(settings)
        ensure_indices(es, settings)
        es.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(run, range(4)))
    es = make_client(settings)
    assert list(es.indices.get_alias(name=settings.index_name("articles")).body) == [
        f"{index_prefix}-articles-v1"
    ]
    es.close()


def test_documents_go_through_orjson_and_come_back_unchanged(env: Env) -> None:
    from elasticsearch.serializer import OrjsonSerializer

    assert isinstance(env.es.transport.serializers.get_serializer("application/json"), OrjsonSerializer)
    title = 'Défense anti-aérienne : «ППО» et l\'OTAN – \u2028 "guillemets" / 1,5 mln'
    art = make_article("json", title, "Текст статті 🇺🇦\nligne 2 \\ fin", topics=(nato_topic(),))
    report = env.writer(T0).write([art])
    assert (report.created, report.errors) == (1, ())
    stored = env.es.get(index=env.alias, id="art-json").body["_source"]
    expected = article_to_doc(art, T0)
    for key in ("title", "content", "title_folded", "text_folded", "topics"):
        assert stored[key] == expected[key], key
