"""Building ``Article``s directly for index tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from ingest.model import Article, EntityMatch, Source, TermHit, TopicMatch

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_article(n: int | str, title: str = "", content: str = "", **kw: Any) -> Article:
    url = kw.pop("url", f"https://example.org/news/{n}")
    source = kw.pop("source", Source("Example News", "example.org"))
    summary = kw.pop("summary", "")
    body = title + summary + content
    defaults: dict[str, Any] = {
        "id": f"art-{n}",
        "url": url,
        "canonical_url": url,
        "feed_url": "https://example.org/feed.xml",
        "source": source,
        "title": title,
        "summary": summary,
        "content": content,
        "published_at": T0,
        "fetched_at": T0,
        "language": "en",
        "content_hash": hashlib.sha256(body.encode()).hexdigest()[:16],
    }
    defaults.update(kw)
    return Article(**defaults)


def nato_topic() -> TopicMatch:
    return TopicMatch("nato", 2.5, ("otan", "nato"), (TermHit("otan", "title", 8, 1.0),))


def entity(eid: str, name: str) -> EntityMatch:
    return EntityMatch(eid, name, "org", name)
