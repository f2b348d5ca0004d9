"""Golden pairs: each feed in tests/fixtures/golden/ beside its expected normalised output.

``<feed file>.expected.json`` holds ``{"meta": ..., "warnings": [...], "errors": [...], "articles": [...]}``
(articles as ``Article.to_dict()`` without ``fetched_at``), produced by ``process_feed`` without an
enricher. Regenerate after a deliberate change, then review the diff by eye:

    python -m tests.ingest.test_golden --update-golden
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import process_feed

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
FETCHED_AT = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
SUFFIX = ".expected.json"


def feed_files() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_file() and not p.name.endswith(SUFFIX))


def feed_url(path: Path) -> str:
    return f"https://feeds.golden.test/{path.name}"


def render(path: Path) -> dict[str, Any]:
    batch = process_feed(path.read_bytes(), feed_url=feed_url(path), fetched_at=FETCHED_AT)
    articles = []
    for article in batch.articles:
        d = article.to_dict()
        del d["fetched_at"]
        articles.append(d)
    return {
        "meta": dataclasses.asdict(batch.meta),
        "warnings": list(batch.warnings),
        "errors": list(batch.errors),
        "articles": articles,
    }


def dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("path", feed_files(), ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected_path = path.with_name(path.name + SUFFIX)
    assert expected_path.is_file(), (
        f"{expected_path} missing: run python -m tests.ingest.test_golden --update-golden"
    )
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    actual = json.loads(dump(render(path)))  # tuples → lists, as in the file
    assert actual == expected, f"{path.name} differs from {expected_path.name}"


def test_golden_set_covers_the_formats() -> None:
    formats = {render(p)["meta"]["format"] for p in feed_files()}
    assert {"rss20", "atom10", "rss10", "json11"} <= formats


def update() -> None:
    for path in feed_files():
        path.with_name(path.name + SUFFIX).write_text(dump(render(path)), encoding="utf-8")
        print(f"wrote {path.name}{SUFFIX}")


if __name__ == "__main__":
    if "--update-golden" in sys.argv[1:]:
        update()
    else:
        print(__doc__)
