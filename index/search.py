"""Running searches: body from ``index.query``, hits turned into frozen ``Hit``s with Python highlights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from index.client import storage_errors
from index.highlight import HTML, Markers, highlight
from index.mapping import INTERNAL_FIELDS
from index.query import HighlightTerms, SearchRequest, build_search_body, parse_query, positive_terms
from ingest.model import EntityMatch, TermHit, TopicMatch

MAX_HIGHLIGHT_CHARS = 100_000


@dataclass(frozen=True)
class Hit:
    id: str
    score: float | None
    title: str
    url: str
    source_name: str
    source_domain: str
    published_at: datetime | None
    language: str
    topics: tuple[TopicMatch, ...]
    entities: tuple[EntityMatch, ...]
    story_id: str
    summary: str
    highlights: dict[str, list[str]]
    indexed_at: datetime | None = None
    sort: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json`` and the HTTP API)."""
        return {
            "id": self.id,
            "score": self.score,
            "title": self.title,
            "url": self.url,
            "source": {"name": self.source_name, "domain": self.source_domain},
            "published_at": _iso(self.published_at),
            "indexed_at": _iso(self.indexed_at),
            "language": self.language,
            "topics": [
                {
                    "id": t.id,
                    "score": t.score,
                    "terms": list(t.terms),
                    "hits": [
                        {"term": h.term, "field": h.field, "position": h.position, "weight": h.weight}
                        for h in t.hits
                    ],
                }
                for t in self.topics
            ],
            "entities": [
                {"id": e.id, "name": e.name, "kind": e.kind, "surface": e.surface} for e in self.entities
            ],
            "story_id": self.story_id,
            "summary": self.summary,
            "highlights": self.highlights,
        }


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: tuple[Hit, ...]
    facets: dict[str, list[tuple[str, int]]]
    date_histogram: list[tuple[str, int]]
    next_search_after: list[Any] | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def hit_highlights(
    source: dict[str, Any], terms: HighlightTerms, markers: Markers = HTML
) -> dict[str, list[str]]:
    """Highlights of title, summary and content computed on the original text."""
    out: dict[str, list[str]] = {}
    if not terms.terms and not terms.prefixes:
        return out
    for fld, size, count in (("title", 10_000, 1), ("summary", 160, 2), ("content", 160, 3)):
        text = str(source.get(fld) or "")[:MAX_HIGHLIGHT_CHARS]
        frags = highlight(
            text, terms.terms, terms.prefixes, fragment_size=size, max_fragments=count, markers=markers
        )
        if frags:
            out[fld] = frags
    return out


def hit_from_source(
    doc_id: str,
    score: float | None,
    source: dict[str, Any],
    highlights: dict[str, list[str]],
    sort: tuple[Any, ...] = (),
) -> Hit:
    src = source.get("source") or {}
    return Hit(
        id=doc_id,
        score=score,
        title=str(source.get("title", "")),
        url=str(source.get("url", "")),
        source_name=str(src.get("name", "")),
        source_domain=str(src.get("domain", "")),
        published_at=_date(source.get("published_at")),
        language=str(source.get("language", "und")),
        topics=tuple(
            TopicMatch(
                id=t["id"],
                score=float(t.get("score", 0.0)),
                terms=tuple(t.get("terms", ())),
                hits=tuple(
                    TermHit(h["term"], h["field"], int(h["position"]), float(h.get("weight", 1.0)))
                    for h in t.get("hits", ())
                ),
            )
            for t in source.get("topics", ())
        ),
        entities=tuple(
            EntityMatch(e["id"], e.get("name", ""), e.get("kind", ""), e.get("surface", ""))
            for e in source.get("entities", ())
        ),
        story_id=str(source.get("story_id", "")),
        summary=str(source.get("summary", "")),
        highlights=highlights,
        indexed_at=_date(source.get("indexed_at")),
        sort=sort,
    )


def parse_response(body: dict[str, Any], req: SearchRequest, markers: Markers = HTML) -> SearchResult:
    """Turn a raw search response into a ``SearchResult`` (pure)."""
    terms = positive_terms(parse_query(req.query))
    raw_hits = body.get("hits", {}).get("hits", [])
    hits = tuple(
        hit_from_source(
            h["_id"],
            h.get("_score"),
            h.get("_source", {}),
            hit_highlights(h.get("_source", {}), terms, markers),
            tuple(h.get("sort", ())),
        )
        for h in raw_hits
    )
    aggs = body.get("aggregations", {})
    facets = {
        name: [(str(b["key"]), int(b["doc_count"])) for b in aggs.get(name, {}).get("buckets", [])]
        for name in ("topics", "languages", "sources")
        if name in aggs
    }
    histogram = [
        (str(b.get("key_as_string", b["key"])), int(b["doc_count"]))
        for b in aggs.get("published", {}).get("buckets", [])
    ]
    next_after: list[Any] | None = None
    if raw_hits and len(raw_hits) >= req.limit and not req.collapse_story and "sort" in raw_hits[-1]:
        next_after = list(raw_hits[-1]["sort"])
    total = body.get("hits", {}).get("total", {})
    return SearchResult(
        total=int(total.get("value", 0)) if isinstance(total, dict) else int(total),
        hits=hits,
        facets=facets,
        date_histogram=histogram,
        next_search_after=next_after,
    )


def search(es: Elasticsearch, alias: str, req: SearchRequest, markers: Markers = HTML) -> SearchResult:
    """Run ``req`` against ``alias``. ``QueryError`` for a bad query, ``StorageUnavailable`` if ES is down."""
    body = build_search_body(req, now=datetime.now(UTC))
    with storage_errors(es, f"search on {alias}"):
        resp = es.search(index=alias, body=body)
    return parse_response(resp.body, req, markers)


def get_article(es: Elasticsearch, alias: str, article_id: str) -> dict[str, Any] | None:
    """The stored article (without internal search fields), or ``None``."""
    with storage_errors(es, f"get {article_id} from {alias}"):
        resp = es.options(ignore_status=404).get(
            index=alias, id=article_id, source_excludes=list(INTERNAL_FIELDS)
        )
    body = resp.body
    if not body.get("found"):
        if body.get("error"):
            # A missing index comes back as an error body with ignore_status=404.
            from newswatch.errors import StorageUnavailable

            raise StorageUnavailable(f"index {alias} is missing: run `newswatch index init`")
        return None
    return dict(body["_source"])


def recent_fingerprints(
    es: Elasticsearch, alias: str, since: datetime, limit: int = 200_000
) -> Iterator[tuple[str, int, datetime, str]]:
    """``(id, simhash, published_at, story_id)`` of articles published since ``since``, oldest first:
    what a restarted service needs to warm its near-duplicate story index."""
    query = {"bool": {"filter": [{"range": {"published_at": {"gte": since.isoformat()}}}]}}
    search_after: list[Any] | None = None
    seen = 0
    with storage_errors(es, f"reading fingerprints from {alias}"):
        es.indices.refresh(index=alias)  # once, at start-up: include what the last process wrote
        while seen < limit:
            resp = es.search(
                index=alias,
                size=min(5000, limit - seen),
                query=query,
                source_includes=["simhash", "published_at", "story_id"],
                sort=[{"published_at": "asc"}, {"id": "asc"}],
                search_after=search_after,
            )
            hits = resp.body["hits"]["hits"]
            if not hits:
                return
            for h in hits:
                src = h["_source"]
                if not src.get("simhash"):
                    continue  # indexed before fingerprints were stored
                published = datetime.fromisoformat(str(src["published_at"]).replace("Z", "+00:00"))
                yield h["_id"], int(src["simhash"], 16), published, str(src.get("story_id") or h["_id"])
            seen += len(hits)
            search_after = hits[-1]["sort"]
