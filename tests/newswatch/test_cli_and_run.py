"""CLI (feeds, fetch --once, run --once), `newswatch run` under SIGTERM, and /healthz + /metrics over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from ingest.feeds import FeedConfig, dump_feeds_yaml, parse_opml
from newswatch.api import create_app, serve_in_loop
from newswatch.cli import main
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss_feed
from tests.newswatch.conftest import ServiceFactory

pytestmark = pytest.mark.es


@pytest.fixture
def cli_env(es_url: str, unique_prefix: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").mkdir()
    for name in ("topics.yaml", "entities.yaml"):  # the project's rules, for the enricher
        if (ROOT / "config" / name).is_file():
            (tmp_path / "config" / name).symlink_to(ROOT / "config" / name)
    return {
        "NEWSWATCH_ELASTICSEARCH_URL": es_url,
        "NEWSWATCH_INDEX_PREFIX": unique_prefix,
        "NEWSWATCH_CONFIG_DIR": str(tmp_path / "config"),
        "NEWSWATCH_SPOOL_DIR": str(tmp_path / "spool"),
        "NEWSWATCH_PER_HOST_DELAY_S": "0",
        "NEWSWATCH_LOG_JSON": "true",
        "NEWSWATCH_LOG_LEVEL": "WARNING",
    }


def invoke(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def write_feeds(env: dict[str, str], feeds: list[FeedConfig]) -> None:
    Path(env["NEWSWATCH_CONFIG_DIR"], "feeds.yaml").write_text(dump_feeds_yaml(feeds), encoding="utf-8")


def test_feeds_commands(cli_env: dict[str, str], feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.route("/cfg.xml", body=rss_feed(2))
    write_feeds(cli_env, [FeedConfig(url=feed_server.url("/cfg.xml"), name="Configured", tags=("a",))])
    # a private address is refused by default
    r = invoke(cli_env, "feeds", "add", feed_server.url("/x.xml"))
    assert r.exit_code == 2 and "loopback" in r.output and "ALLOW_PRIVATE" in r.output
    env = {**cli_env, "NEWSWATCH_ALLOW_PRIVATE_FEEDS": "true"}
    r = invoke(
        env,
        "feeds",
        "add",
        feed_server.url("/x.xml"),
        "--name",
        "X",
        "--interval",
        "15m",
        "--lang",
        "fr",
        "--tag",
        "nato",
        "--tag",
        "eu",
        "--full-text",
    )
    assert r.exit_code == 0, r.output
    r = invoke(env, "feeds", "add", feed_server.url("/x.xml"))
    assert r.exit_code == 2 and "already a feed" in r.output
    r = invoke(env, "feeds", "list", "--json")
    rows = {json.loads(line)["url"]: json.loads(line) for line in r.output.splitlines()}
    x = rows[feed_server.url("/x.xml")]
    assert (x["interval_s"], x["language"], x["tags"], x["full_text"], x["origin"]) == (
        900,
        "fr",
        ["nato", "eu"],
        True,
        "runtime",
    )
    assert rows[feed_server.url("/cfg.xml")]["origin"] == "config"

    out = tmp_path / "out.opml"
    assert invoke(env, "feeds", "export-opml", str(out)).exit_code == 0
    exported = {f.url: f for f in parse_opml(out.read_text(encoding="utf-8")).feeds}
    assert exported[feed_server.url("/x.xml")].tags == ("nato", "eu")
    assert exported[feed_server.url("/x.xml")].interval_s == 900

    r = invoke(env, "feeds", "remove", feed_server.url("/cfg.xml"))
    assert r.exit_code == 2 and "feeds.yaml" in r.output
    assert invoke(env, "feeds", "remove", feed_server.url("/x.xml")).exit_code == 0
    r = invoke(env, "feeds", "import-opml", str(out))
    assert r.exit_code == 0 and "imported 1 feed(s)" in r.output and "1 already known" in r.output

    r = invoke(env, "fetch", "--once", "--json")
    assert r.exit_code == 1  # /x.xml answers 404
    lines = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert sorted(u["status"] for u in lines) == ["error", "ok"], lines
    r = invoke(env, "fetch", "--once", "--feed", feed_server.url("/cfg.xml"))
    assert r.exit_code == 0 and "feeds=1" in r.output
    r = invoke(env, "feeds", "status", "--json")
    status = {json.loads(line)["url"]: json.loads(line) for line in r.output.splitlines()}
    assert status[feed_server.url("/x.xml")]["error_streak"] == 1
    assert status[feed_server.url("/cfg.xml")]["last_status"] == 200


def test_invalid_feeds_yaml_names_file_entry_and_field(cli_env: dict[str, str]) -> None:
    path = Path(cli_env["NEWSWATCH_CONFIG_DIR"], "feeds.yaml")
    path.write_text(
        "feeds:\n  - url: https://ok.example/feed\n  - url: https://bad.example/feed\n    interval: soon\n",
        encoding="utf-8",
    )
    r = invoke(cli_env, "feeds", "list")
    assert r.exit_code == 2
    assert f"{path}:3: feeds[1] (https://bad.example/feed): interval:" in r.output


def test_run_once_prints_summary(cli_env: dict[str, str], feed_server: FeedServer) -> None:
    feed_server.route("/r.xml", body=rss_feed(3))
    write_feeds(
        cli_env, [FeedConfig(url=feed_server.url("/r.xml")), FeedConfig(url="http://127.0.0.1:9/dead")]
    )
    r = invoke(cli_env, "run", "--once")
    assert r.exit_code == 0, r.output
    assert "feeds=2 error=1 ok=1 new=3" in r.output


def test_run_exits_0_on_sigterm(cli_env: dict[str, str], feed_server: FeedServer) -> None:
    feed_server.route("/slow.xml", body=rss_feed(2), delay=30)  # in flight when SIGTERM comes
    feed_server.route("/fast.xml", body=rss_feed(2))
    write_feeds(cli_env, [FeedConfig(url=feed_server.url(p)) for p in ("/slow.xml", "/fast.xml")])
    env = {
        **os.environ,
        **cli_env,
        "NEWSWATCH_POLL_INTERVAL_S": "0.5",
        "NEWSWATCH_SHUTDOWN_GRACE_S": "1",
        "NEWSWATCH_LOG_LEVEL": "INFO",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from newswatch.cli import main; main()", "run", "--no-http"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not feed_server.requests_for("/slow.xml"):
            time.sleep(0.1)
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "service.stopping" in names and "service.stop" in names
    assert "service.leases_released" in names  # the slow feed was cancelled and given back
    fast = [e for e in events if e["event"] == "feed.update" and e["feed"].endswith("/fast.xml")]
    assert len(fast) == 1 and fast[0]["status"] == "ok" and fast[0]["new"] == 2


async def test_healthz_and_metrics_over_http(
    feed_server: FeedServer, make_service: ServiceFactory, es_url: str
) -> None:
    feed_server.route("/h.xml", body=rss_feed(2), etag='"e"')
    service = make_service([FeedConfig(url=feed_server.url("/h.xml"))])
    await service.start()
    server = await serve_in_loop(create_app(registry=service.registry, health=service.health), "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(100):
                if service.last_poll_at is not None and feed_server.requests_for("/h.xml"):
                    break
                await asyncio.sleep(0.05)
            r = await client.get("/healthz")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "ok" and body["elasticsearch"]["reachable"] is True
            assert body["scheduler"]["running"] is True and body["last_successful_poll"]["fresh"] is True
            r = await client.get("/metrics")
            assert r.status_code == 200
            assert 'newswatch_fetches_total{outcome="ok"} 1.0' in r.text
            assert 'newswatch_articles_total{result="new"} 2.0' in r.text
            assert "newswatch_fetch_seconds_bucket" in r.text and "newswatch_unhealthy_feeds 0.0" in r.text
            # Elasticsearch unreachable: 503 with the reason
            dead = Elasticsearch("http://127.0.0.1:9", request_timeout=1, max_retries=0)
            real, service.es = service.es, dead
            r = await client.get("/healthz")
            service.es = real
            dead.close()
            assert r.status_code == 503 and r.json()["elasticsearch"]["reachable"] is False
    finally:
        await server.stop()
