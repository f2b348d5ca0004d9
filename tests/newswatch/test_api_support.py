"""Shared pieces of the HTTP API tests: an app on the real node under a unique prefix, a small corpus.

(Imported by the other ``test_api_*`` modules; it holds no tests itself.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from index.client import make_client
from index.setup import ensure_indices
from index.writer import BulkWriter
from ingest.model import Article, EntityMatch, Source, TopicMatch
from newswatch.routes import build_app
from newswatch.settings import Settings, load_settings
from tests.index.factory import make_article

with warnings.catch_warnings():  # starlette warns that it prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as TestClient

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKET_COUNT = 12

LE_MONDE = Source("Le Monde", "lemonde.fr")
REUTERS = Source("Reuters", "reuters.com")


def topic(tid: str) -> TopicMatch:
    return TopicMatch(tid, 2.0, (tid,))


def corpus() -> list[Article]:
    arts = [
        make_article(
            "fr",
            "L'OTAN renforce la défense anti-aérienne de l'Ukraine",
            "Les alliés de l'OTAN livrent des systèmes de défense antiaérienne.",
            language="fr",
            source=LE_MONDE,
            topics=(topic("nato"), topic("air-defence")),
            entities=(EntityMatch("org:nato", "NATO", "org", "OTAN"),),
            story_id="s-nato",
            published_at=T0,
        ),
        make_article(
            "fr-dup",
            "L'OTAN renforce la défense anti-aérienne de l'Ukraine (mise à jour)",
            "Les alliés de l'OTAN livrent des systèmes de défense antiaérienne.",
            language="fr",
            source=LE_MONDE,
            topics=(topic("nato"),),
            story_id="s-nato",
            published_at=T0 + timedelta(hours=1),
        ),
        make_article(
            "en",
            "NATO allies pledge more air defence systems",
            "NATO allies said on Tuesday they would send more air defence systems.",
            language="en",
            source=REUTERS,
            topics=(topic("nato"), topic("air-defence")),
            story_id="s-en",
            published_at=T0 - timedelta(days=1),
        ),
        make_article(
            "de",
            "Sanktionen gegen Russland verschärft",
            "Die EU hat neue Sanktionen beschlossen.",
            language="de",
            source=Source("Tagesschau", "tagesschau.de"),
            topics=(topic("sanctions"),),
            story_id="s-de",
            published_at=T0 - timedelta(days=2),
        ),
    ]
    arts += [
        make_article(
            f"m{i:02d}",
            f"Market report {i}",
            f"The market moved today, report number {i}.",
            story_id=f"s-m{i:02d}",
            published_at=T0 - timedelta(hours=3 + i),
        )
        for i in range(MARKET_COUNT)
    ]
    return arts


def api_settings(es_url: str, prefix: str, **kw: Any) -> Settings:
    return load_settings(elasticsearch_url=es_url, index_prefix=prefix, **kw)


def delete_prefix(es: Elasticsearch, prefix: str) -> None:
    """Delete this prefix's indices and template by name (the node refuses wildcard deletes)."""
    names = es.options(ignore_status=404).indices.get(index=f"{prefix}-*", expand_wildcards="all").body
    for name in names if isinstance(names, dict) else {}:
        if name.startswith(prefix + "-"):
            es.options(ignore_status=404).indices.delete(index=name)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-articles")


@dataclass
class Api:
    client: TestClient
    es: Elasticsearch
    settings: Settings

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)


def make_api(
    es_url: str,
    prefix: str,
    articles: Sequence[Article] = (),
    clock: Callable[[], datetime] = lambda: NOW,
    resolver: Any = None,
    **settings_kw: Any,
) -> tuple[Api, Elasticsearch]:
    settings = api_settings(es_url, prefix, **settings_kw)
    es = make_client(settings)
    ensure_indices(es, settings)
    if articles:
        report = BulkWriter(es, settings.index_name("articles"), now=lambda: T0).write(articles)
        assert report.ok, report.errors
        es.indices.refresh(index=settings.index_name("articles"))
    app = build_app(es, settings, clock=clock, resolver=resolver)
    return Api(TestClient(app), es, settings), es


@pytest.fixture(scope="module")
def search_api(es_url: str, es_prefix: str) -> Iterator[Api]:
    """One corpus for the whole module (read-only tests)."""
    prefix = f"{es_prefix}-apisearch"
    api, es = make_api(es_url, prefix, corpus(), api_token=TOKEN)
    yield api
    delete_prefix(es, prefix)
    es.close()


@pytest.fixture
def fresh_api(es_url: str, unique_prefix: str) -> Iterator[Callable[..., Api]]:
    """Factory: an app with its own prefix and settings (alerts, feeds, auth tests)."""
    clients: list[Elasticsearch] = []

    def factory(articles: Sequence[Article] = (), **kw: Any) -> Api:
        api, es = make_api(es_url, unique_prefix, articles, **kw)
        clients.append(es)
        return api

    yield factory
    for es in clients[:1]:
        delete_prefix(es, unique_prefix)
    for es in clients:
        es.close()
