"""Third-party corpora through ``process_feed`` (read in place): nothing crashes except with
``ParseError``, and every entry feedparser itself yields comes out as an Article — nothing is lost.

The reference is plain ``feedparser.parse`` (sanitising off, as in production), so this also checks that
``ingest.parse``'s faster feedparser driver and its lxml fast path (``ingest.fastparse``; compared
field by field in test_fastparse.py) yield as many entries as feedparser's own.
"""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from ingest.pipeline import process_feed
from newswatch.errors import ParseError

pytestmark = pytest.mark.corpus

CORPORA = (
    "feedparser-tests",
    "feedvalidator-testcases",
    "feed-rs-fixtures",
    "feedjira-sample-feeds",
    "fastfeedparser-benchmark",
    "fastfeedparser-integration",
    "lemon24-reader-testdata",
)
SKIP_NAMES = {"README.md", "LICENSE", "LICENSE-NOTE.txt"}
FETCHED = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)


def reference_entries(data: bytes, url: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = feedparser.parse(
            io.BytesIO(data),
            response_headers={"content-location": url},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    return len(result.entries)


def check_file(path: Path) -> str | None:
    """``None`` if the file behaves, else a line saying what went wrong."""
    data = path.read_bytes()
    url = path.as_uri()
    try:
        batch = process_feed(data, feed_url=url, fetched_at=FETCHED)
    except ParseError as exc:
        if exc.source != url:
            return f"{path}: ParseError names {exc.source!r}, not the file"
        if path.suffix != ".json" and (n := reference_entries(data, url)):
            return f"{path}: ParseError ({exc.reason}) but feedparser yields {n} entries"
        return None
    except Exception as exc:
        return f"{path}: crashed with {type(exc).__name__}: {exc}"
    if path.suffix == ".json" or batch.meta.format.startswith("json"):
        return None  # JSON Feed: feedparser reads none of it, nothing to compare
    expected = reference_entries(data, url)
    if len(batch.articles) != expected:
        return (
            f"{path}: feedparser yields {expected} entries, we made {len(batch.articles)} articles "
            f"(errors: {list(batch.errors)[:3]})"
        )
    return None


@pytest.mark.parametrize("name", CORPORA)
def test_corpus(corpora: Path, name: str) -> None:
    root = corpora / name
    if not root.is_dir():
        pytest.skip(f"{root} missing")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)
    assert files, f"no files in {root}"
    failures = [line for path in files if (line := check_file(path)) is not None]
    assert not failures, f"{len(failures)} of {len(files)} files in {name} failed:\n" + "\n".join(
        failures[:50]
    )
