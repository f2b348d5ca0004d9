"""Index-test fixtures.

``index_prefix``: a ``unique_prefix`` whose articles index and template are deleted by name after the test.
(The session-wide clean-up in tests/conftest.py deletes ``{prefix}*`` by wildcard, which the node refuses:
``action.destructive_requires_name`` defaults to true in Elasticsearch 8.)
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def index_prefix(es_url: str, unique_prefix: str) -> Iterator[str]:
    yield unique_prefix
    alias = f"{unique_prefix}-articles"
    try:
        httpx.delete(f"{es_url}/{alias}-v1", timeout=30)
        httpx.delete(f"{es_url}/_index_template/{alias}", timeout=30)
    except httpx.HTTPError:
        pass
