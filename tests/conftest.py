"""Shared fixtures.

Elasticsearch: tests marked ``es`` talk to the real node at ``NEWSWATCH_ELASTICSEARCH_URL`` (started by
``scripts/elasticsearch start``, which ``scripts/test`` runs). Every test session uses its own index
prefix, so sessions and developers sharing one node never see each other's data. With CI=true a
missing node fails the run; elsewhere ES tests are skipped with the reason.

Corpora: ``NEWSWATCH_CORPORA`` (default ``../shared/corpora``), read in place; tests that need them
skip with a clear reason only when the folder does not exist.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.feedserver import feed_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("NEWSWATCH_CORPORA", ROOT.parent / "shared" / "corpora")).resolve()
EXAMPLES = CORPORA.parent / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _es_url() -> str | None:
    url = os.environ.get("NEWSWATCH_ELASTICSEARCH_URL")
    if not url:
        return None
    import httpx

    try:
        r = httpx.get(f"{url.rstrip('/')}/_cluster/health", timeout=5)
        if r.status_code == 200:
            return url.rstrip("/")
    except httpx.HTTPError:
        pass
    return None


def require_speedups() -> Any:
    """``ingest._speedups`` with its tables installed. A missing build fails in CI (pip install -e . must
    have compiled it there) and skips elsewhere (no C compiler at install, or NEWSWATCH_SPEEDUPS=0)."""
    from ingest.text import _speedups

    module = _speedups()
    if module is None:
        if IN_CI:
            pytest.fail("ingest._speedups is not built (CI=true): pip install -e . needs a C compiler")
        pytest.skip("ingest._speedups not built (no C compiler at install) or NEWSWATCH_SPEEDUPS=0")
    return module


@pytest.fixture(scope="session")
def es_url() -> str:
    url = _es_url()
    if url is None:
        msg = (
            "Elasticsearch not reachable at NEWSWATCH_ELASTICSEARCH_URL="
            f"{os.environ.get('NEWSWATCH_ELASTICSEARCH_URL')!r}; start it with scripts/elasticsearch start"
        )
        if IN_CI:
            pytest.fail(msg + " (CI=true: Elasticsearch tests must run)")
        pytest.skip(msg)
    return url


@pytest.fixture(scope="session")
def es_prefix() -> str:
    """An index prefix unique to this test session."""
    return f"nwtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unique_prefix(es_prefix: str) -> str:
    """An index prefix unique to one test."""
    return f"{es_prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session", autouse=True)
def _cleanup_test_indices(es_prefix: str) -> Iterator[None]:
    """Delete this session's indices and templates by name (ES 8 refuses wildcard deletes)."""
    yield
    url = _es_url()
    if url is None:
        return
    import httpx

    try:
        r = httpx.get(f"{url}/_cat/indices/{es_prefix}*?format=json&h=index&expand_wildcards=all", timeout=30)
        names = [row["index"] for row in r.json()] if r.status_code == 200 else []
        for i in range(0, len(names), 50):
            httpx.delete(f"{url}/{','.join(names[i : i + 50])}", timeout=60)
        r = httpx.get(f"{url}/_index_template/{es_prefix}*", timeout=30)
        if r.status_code == 200:
            for tpl in r.json().get("index_templates", []):
                httpx.delete(f"{url}/_index_template/{tpl['name']}", timeout=30)
    except httpx.HTTPError:
        pass


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora folder {CORPORA} does not exist (set NEWSWATCH_CORPORA)")
    return CORPORA


@pytest.fixture(scope="session")
def touchstone_text() -> str:
    path = EXAMPLES / "touchstone-article-fr.txt"
    if not path.is_file():
        pytest.skip(f"{path} does not exist")
    return path.read_text(encoding="utf-8")
