from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from index.client import make_client
from index.writer import BulkWriter
from newswatch.cli import main
from newswatch.settings import load_settings

from .factory import make_article, nato_topic


def _run(args: list[str], url: str, prefix: str) -> tuple[int, str, str]:
    runner = CliRunner()
    env = {
        "NEWSWATCH_ELASTICSEARCH_URL": url,
        "NEWSWATCH_INDEX_PREFIX": prefix,
        "NEWSWATCH_LOG_LEVEL": "WARNING",
    }
    result = runner.invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.es
def test_index_init_status_and_search(es_url: str, index_prefix: str) -> None:
    code, out, _ = _run(["index", "init"], es_url, index_prefix)
    assert code == 0 and "created" in out
    code, out, _ = _run(["index", "init"], es_url, index_prefix)
    assert code == 0 and "found" in out and "index" in out
    settings = load_settings(elasticsearch_url=es_url, index_prefix=index_prefix)
    es = make_client(settings)
    BulkWriter(es, settings.index_name("articles")).write(
        [
            make_article(
                1, "L’OTAN et la défense anti-aérienne", "Texte.", language="fr", topics=(nato_topic(),)
            ),
            make_article(2, "Football", "Match."),
        ]
    )
    es.indices.refresh(index=settings.index_name("articles"))
    code, out, _ = _run(["index", "status"], es_url, index_prefix)
    assert code == 0 and f"{index_prefix}-articles-v1" in out and "articles: 2" in out

    code, out, _ = _run(["search", "defense", "antiaerienne", "--lang", "fr"], es_url, index_prefix)
    assert code == 0, out
    assert "1 article(s)" in out
    assert "«défense» «anti-aérienne»" in out  # not a terminal: plain markers
    assert "https://example.org/news/1" in out and "nato" in out

    code, out, _ = _run(["search", "OTAN OR football", "--json", "--sort", "date"], es_url, index_prefix)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {h["id"] for h in lines} == {"art-1", "art-2"}
    assert lines[0]["source"]["domain"] == "example.org"

    code, _, err = _run(["search", "(otan"], es_url, index_prefix)
    assert code == 2 and "position 1" in err
    code, _, err = _run(["search", "x", "--since", "yesterday"], es_url, index_prefix)
    assert code == 2 and "yesterday" in err
    es.close()


def test_unreachable_elasticsearch_exits_3(unique_prefix: str) -> None:
    code, _, err = _run(["search", "otan"], "http://127.0.0.1:1", unique_prefix)
    assert code == 3 and "127.0.0.1:1" in err
    code, _, err = _run(["index", "status"], "http://127.0.0.1:1", unique_prefix)
    assert code == 3
