"""``newswatch alerts`` commands against the real node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from newswatch.cli import main
from newswatch.settings import Settings
from tests.alerts.conftest import article, index_articles

pytestmark = pytest.mark.es

ALERTS = """
rules:
  - id: nato
    query: NATO OR OTAN OR НАТО
    channels: {email: [a@example.org]}
    enabled: false
"""


def _env(settings: Settings, config_dir: Path) -> dict[str, str]:
    return {
        "NEWSWATCH_ELASTICSEARCH_URL": settings.elasticsearch_url,
        "NEWSWATCH_INDEX_PREFIX": settings.index_prefix,
        "NEWSWATCH_CONFIG_DIR": str(config_dir),
        "NEWSWATCH_SMTP_PORT": str(settings.smtp_port),
    }


def test_alerts_test_backtests_a_disabled_rule(es: Elasticsearch, settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(ALERTS, encoding="utf-8")
    env = _env(settings, tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["alerts", "run", "--once"], env=env).exit_code == 0
    index_articles(
        es,
        settings,
        article(1, "NATO summit", story_id="s1"),
        article(2, "NATO summit, again", story_id="s1"),
        article(3, "Sommet de l'OTAN", language="fr"),
        article(4, "Cooking pasta"),
    )
    res = runner.invoke(main, ["alerts", "test", "nato", "--since", "7d", "--json"], env=env)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["articles"] == 3 and out["stories"] == 2
    assert sum(d["stories"] for d in out["per_day"]) == 2
    assert {e["article_id"] for e in out["examples"]} <= {"art-1", "art-2", "art-3"}
    res = runner.invoke(main, ["alerts", "test", "nope"], env=env)
    assert res.exit_code == 2 and "no alert rule 'nope'" in res.output
    res = runner.invoke(main, ["alerts", "status"], env=env)
    assert res.exit_code == 0 and "rule nato: disabled" in res.output
    res = runner.invoke(main, ["alerts", "list"], env=env)
    assert "nato (disabled)" in res.output


def test_invalid_alerts_file_exits_2_naming_line(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(
        "rules:\n  - id: a\n    query: NATO\n    channels: {}\n", encoding="utf-8"
    )
    res = CliRunner().invoke(main, ["alerts", "list"], env=_env(settings, tmp_path))
    assert res.exit_code == 2
    assert "alerts.yaml:4: rule 'a': channels" in res.output
