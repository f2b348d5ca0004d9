"""Elasticsearch really stops mid-run and really comes back: nothing is lost, nothing is indexed twice.

This test starts a throwaway node of its own with ``scripts/elasticsearch`` (a second instance beside
the session's node, on its own port), stops it after the service has claimed its feeds, lets the
service fetch while the node is down (articles go to the disk spool), starts the node again on the
same port and data directory, and checks the replay.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from ingest.feeds import FeedConfig
from tests.feedserver import FeedServer, rss_feed
from tests.newswatch.conftest import Clock, ServiceFactory

pytestmark = pytest.mark.es

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "elasticsearch"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayNode:
    """One more node, run by the project's own script under an instance name of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.node_dir: Path | None = None
        self.env = {k: v for k, v in os.environ.items() if k != "NEWSWATCH_ELASTICSEARCH_URL"}
        self.env.update(
            {
                "NEWSWATCH_ES_INSTANCE": f"outage-test-{uuid.uuid4().hex[:8]}",
                "NEWSWATCH_ES_PORT": str(self.port),
                "NEWSWATCH_ES_MODE": "local",
                "NEWSWATCH_ES_HEAP": "-Xms256m -Xmx512m",
            }
        )

    def _run(self, *args: str) -> str:
        r = subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if r.returncode != 0:
            what = f"scripts/elasticsearch {' '.join(args)}"
            pytest.fail(f"{what} failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        return r.stdout.strip()

    def start(self) -> str:
        url = self._run("start")
        # The same port means the same data directory (nodes/<port>): the restarted node has the data.
        assert url == f"http://127.0.0.1:{self.port}", url
        status = self._run("status")
        self.node_dir = next(
            (Path(w.split("=", 1)[1]) for w in status.split() if w.startswith("node_dir=")), None
        )
        return url

    def stop(self, *, purge: bool = False) -> None:
        self._run("stop", *(["--purge"] if purge else []))


@pytest.fixture
def node(es_url: str) -> Iterator[ThrowawayNode]:
    # es_url: only where the session's node runs (so the distribution and a JDK are there; in CI a
    # failure to provision fails the run instead of skipping).
    n = ThrowawayNode()
    try:
        yield n
    finally:
        n.stop(purge=True)  # stops it if still running, deleting its data
        if n.node_dir is not None and n.node_dir.name == str(n.port):
            shutil.rmtree(n.node_dir, ignore_errors=True)  # the test itself left it stopped


def _count(es: Elasticsearch, alias: str) -> int:
    es.indices.refresh(index=alias)
    return int(es.count(index=alias).body["count"])


async def test_node_stopped_mid_run_then_restarted_loses_nothing(
    node: ThrowawayNode, feed_server: FeedServer, make_service: ServiceFactory
) -> None:
    url = node.start()
    es = Elasticsearch(url, request_timeout=5, max_retries=0)
    feed_server.route("/o1.xml", body=rss_feed(["a", "b", "c"], link="https://one.example/"))
    feed_server.route("/o2.xml", body=rss_feed(["d", "e"], link="https://two.example/"))
    clock = Clock()
    service = make_service(
        [FeedConfig(url=feed_server.url("/o1.xml")), FeedConfig(url=feed_server.url("/o2.xml"))],
        es_client=es,
        clock=clock,
        settings={"elasticsearch_url": url, "lease_s": 60},
    )
    alias = service.settings.index_name("articles")
    try:
        await service.start(schedule=False)
        claimed = service.store.claim_due(service.worker_id, clock(), service.lease_s, 10)
        assert len(claimed) == 2

        node.stop()  # the real node goes away, mid-run: the feeds are claimed, not yet fetched
        updates = [await service.update_feed(rec) for rec in claimed]
        assert sorted(u.spooled for u in updates) == [2, 3]
        assert all(u.status == "ok" and not u.saved for u in updates)
        assert service.spool.depth_records == 5 and service.spool.segments()
        assert service.registry.get_sample_value("newswatch_spool_records") == 5.0
        # The scheduled poll while the node is down: counted as a failed poll, logged, the spool kept.
        clock.offset = timedelta(seconds=service.lease_s + 1)
        await service._poll_job()
        assert service.registry.get_sample_value("newswatch_polls_total", {"result": "error"}) == 1.0
        assert service.spool.depth_records == 5

        assert node.start() == url  # the same node, same data directory, back
        clock.offset = timedelta(seconds=2 * service.lease_s + 2)
        service.store.refresh()
        report = await service.poll_once()
        assert service.spool.depth_records == 0 and not service.spool.segments()
        assert service.registry.get_sample_value("newswatch_spool_records") == 0.0
        assert _count(es, alias) == 5
        # The feeds were fetched again (their state was never saved while the node was down): the
        # replayed articles are already there, so the fresh copies are duplicates, not new documents.
        assert sorted((u.new, u.duplicate) for u in report.updates) == [(0, 2), (0, 3)]
        ids = {h["_id"] for h in es.search(index=alias, size=100, source=False).body["hits"]["hits"]}
        assert len(ids) == 5
        # Now the state is saved: nothing is due, nothing more is indexed.
        service.store.refresh()
        assert (await service.poll_once()).updates == ()
        assert _count(es, alias) == 5
    finally:
        await service.shutdown(grace_s=1)
        es.close()
