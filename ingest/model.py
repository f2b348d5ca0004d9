"""The data types that flow through newswatch. All frozen; build new ones with ``dataclasses.replace``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Source:
    """Where an article came from: the feed's title and the site's domain."""

    name: str
    domain: str


@dataclass(frozen=True, slots=True)
class TermHit:
    """One matched term of a topic rule: which term, in which field, at which token position."""

    term: str
    field: str
    position: int
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """A topic assigned to an article, with the evidence for it (``newswatch tag --explain``)."""

    id: str
    score: float
    terms: tuple[str, ...]
    hits: tuple[TermHit, ...] = ()


@dataclass(frozen=True, slots=True)
class EntityMatch:
    """A known entity (person, organisation, place) found in the article, with the spelling seen."""

    id: str
    name: str
    kind: str
    surface: str


@dataclass(frozen=True, slots=True)
class Article:
    """One normalised feed entry. ``id`` is stable: the same story URL always gives the same id."""

    id: str
    url: str
    canonical_url: str
    feed_url: str
    source: Source
    title: str
    summary: str
    content: str
    published_at: datetime | None
    fetched_at: datetime
    guid: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    language: str = "und"
    content_hash: str = ""
    date_flags: tuple[str, ...] = ()  # e.g. ("missing",), ("future",) -- see ingest.normalise
    topics: tuple[TopicMatch, ...] = ()
    entities: tuple[EntityMatch, ...] = ()
    story_id: str = ""
    simhash: int = 0  # unsigned 64-bit near-duplicate fingerprint (ingest.stories.fingerprint); 0 = none

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO-8601 UTC dates), the shape printed by ``ingest --dry-run``."""
        out = dataclasses.asdict(self)
        for key in ("published_at", "fetched_at"):
            value = getattr(self, key)
            out[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return out


@dataclass(frozen=True, slots=True)
class TextInput:
    """What the tagger and language detector read (``newswatch tag`` lines have this shape)."""

    title: str = ""
    summary: str = ""
    content: str = ""
    language: str | None = None  # declared/hinted language, if any
    extra: dict[str, Any] = field(default_factory=dict)
