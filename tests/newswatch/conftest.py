"""Service-test helpers: settings on a unique prefix, services on the real node and the real feed server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from ingest.feeds import FeedConfig
from newswatch.service import PipelineProcessor, Service
from newswatch.settings import Settings, load_settings


class Clock:
    """A clock tests move forward by hand."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def make_settings(es_url: str, unique_prefix: str, tmp_path: Path) -> Callable[..., Settings]:
    def build(**kw: Any) -> Settings:
        values: dict[str, Any] = {
            "elasticsearch_url": es_url,
            "index_prefix": unique_prefix,
            "spool_dir": tmp_path / "spool",
            "config_dir": tmp_path / "config",
            "allow_private_feeds": True,
            "per_host_delay_s": 0.0,
            "per_host_concurrency": 8,
            "poll_interval_s": 0.2,
            "connect_timeout_s": 2.0,
            "read_timeout_s": 5.0,
            "request_timeout_s": 10.0,
            "es_timeout_s": 10.0,
            "jitter_fraction": 0.0,
            "shutdown_grace_s": 2.0,
        }
        values.update(kw)
        return load_settings(**values)

    return build


@pytest.fixture
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


ServiceFactory = Callable[..., Service]


@pytest.fixture
async def make_service(
    make_settings: Callable[..., Settings], es: Elasticsearch, tmp_path: Path
) -> AsyncIterator[ServiceFactory]:
    made: list[Service] = []
    counter = iter(range(1000))

    def build(feeds: list[FeedConfig], *, es_client: Elasticsearch | None = None, **kw: Any) -> Service:
        n = next(counter)
        clock = kw.pop("clock", None) or Clock()
        settings_kw = {"spool_dir": tmp_path / f"spool-{n}", **kw.pop("settings", {})}
        settings = make_settings(**settings_kw)
        service = Service(
            settings,
            es_client or es,
            processor=PipelineProcessor(settings, enrich=False),
            worker_id=kw.pop("worker_id", f"worker-{n}"),
            clock=clock,
            feeds=feeds,
            **kw,
        )
        made.append(service)
        return service

    yield build
    for service in made:
        await service.shutdown(grace_s=1)
