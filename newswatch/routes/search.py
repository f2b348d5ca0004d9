"""``GET /search`` and ``GET /articles/{id}``.

Search runs ``index.search.search`` (the same query language and translation as the CLI and the alerts);
this module only turns HTTP parameters into a ``SearchRequest`` and refuses bad ones naming the parameter.

Paging is ``search_after``: each page carries ``next_cursor``, an opaque URL-safe base64 of
``{"v": 1, "sort": ..., "after": [sort key, id]}``; pass it back as ``cursor`` with the same ``sort``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from elasticsearch import ApiError
from fastapi import APIRouter, Depends, Path, Query

from index.client import api_error_reason
from index.query import (
    MAX_FILTER_VALUES,
    QuerySyntaxError,
    SearchRequest,
    histogram_interval,
    parse_since,
    parse_until,
)
from index.search import SearchResult, get_article
from index.search import search as run_search
from newswatch.errors import QueryError
from newswatch.routes.deps import (
    ApiProblem,
    Deps,
    bad_param,
    check_text_param,
    guard_query_string,
    require_read,
)

MAX_LIMIT = 100
MAX_CURSOR_CHARS = 1024
CURSOR_VERSION = 1
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")

router = APIRouter(tags=["search"], dependencies=[Depends(guard_query_string), Depends(require_read)])

SortParam = Literal["relevance", "date"]
Q_HELP = (
    'Query: words, "phrases", AND/OR/NOT, -word, prefix*, field: (title, text, topic, lang, source, entity)'
)


# --- cursor ------------------------------------------------------------------------------------------


def encode_cursor(sort: str, after: Sequence[Any]) -> str:
    data = json.dumps({"v": CURSOR_VERSION, "sort": sort, "after": list(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(text: str, sort: str) -> list[Any]:
    """The ``search_after`` values of a cursor made for ``sort``; ``ApiProblem`` naming ``cursor``."""
    hint = "pass back the next_cursor of the previous page unchanged"
    if len(text) > MAX_CURSOR_CHARS:
        raise bad_param("cursor", f"too long ({len(text)} characters, max {MAX_CURSOR_CHARS})")
    if not _CURSOR_RE.match(text):
        raise bad_param("cursor", f"malformed (not URL-safe base64); {hint}")
    try:
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise bad_param("cursor", f"malformed (not a cursor of this API); {hint}") from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise bad_param("cursor", f"malformed or from another version; {hint}")
    after = data.get("after")
    if data.get("sort") not in ("relevance", "date"):
        raise bad_param("cursor", f"malformed (no sort); {hint}")
    if data["sort"] != sort:
        raise bad_param("cursor", f"was made for sort={data['sort']}, not sort={sort}")
    if not isinstance(after, list) or len(after) != 2 or not isinstance(after[1], str):
        raise bad_param("cursor", f"malformed (bad position); {hint}")
    key = after[0]
    ok_key = (
        isinstance(key, int | float) and not isinstance(key, bool)
        if sort == "relevance"
        else key is None or (isinstance(key, int | str) and not isinstance(key, bool))
    )
    if not ok_key or len(after[1]) > 512:
        raise bad_param("cursor", f"malformed (bad sort key); {hint}")
    return after


# --- parameters ----------------------------------------------------------------------------------------


def split_values(name: str, values: Sequence[str] | None) -> tuple[str, ...]:
    """``topics=a,b&topics=c`` -> ``(a, b, c)``; empty pieces dropped; at most ``MAX_FILTER_VALUES``."""
    out: list[str] = []
    for value in values or ():
        for piece in value.split(","):
            piece = piece.strip()
            if piece and piece not in out:
                out.append(piece)
    if len(out) > MAX_FILTER_VALUES:
        raise bad_param(name, f"too many values ({len(out)}, max {MAX_FILTER_VALUES})")
    for value in out:
        check_text_param(name, value, 256)
    return tuple(out)


def date_param(
    name: str, value: str | None, now: datetime, parse: Callable[[str, datetime], datetime]
) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = parse(value, now)
    except (QueryError, ValueError, OverflowError):
        raise bad_param(
            name, f"invalid date {value[:64]!r}: use 7d, 12h, 30m, 2w or an ISO date/datetime (2024-05-01)"
        ) from None
    return parsed


def _es_refusal(exc: ApiError, cursor: str | None) -> ApiProblem:
    reason = api_error_reason(exc)
    if exc.status_code == 400:
        if cursor:
            return bad_param("cursor", f"Elasticsearch refused this position: {reason}")
        return bad_param("q", f"Elasticsearch refused the search: {reason}")
    return ApiProblem(503, f"Elasticsearch failed the search ({exc.status_code}): {reason}")


def result_body(result: SearchResult, req: SearchRequest, interval: str) -> dict[str, Any]:
    next_cursor = (
        encode_cursor(req.sort, result.next_search_after) if result.next_search_after is not None else None
    )
    return {
        "total": result.total,
        "hits": [h.to_dict() for h in result.hits],
        "facets": {
            name: [{"value": value, "count": count} for value, count in buckets]
            for name, buckets in result.facets.items()
        },
        "date_histogram": {
            "interval": interval,
            "buckets": [{"date": d, "count": c} for d, c in result.date_histogram],
        },
        "next_cursor": next_cursor,
        "collapsed": req.collapse_story,
    }


@router.get("/search", summary="Search articles")
def search_articles(
    deps: Deps,
    q: Annotated[str, Query(description=Q_HELP)] = "",
    topics: Annotated[list[str] | None, Query(description="Topic ids (repeat or comma-separate)")] = None,
    languages: Annotated[list[str] | None, Query(description="Language codes, e.g. fr,en")] = None,
    sources: Annotated[list[str] | None, Query(description="Source names or domains")] = None,
    entities: Annotated[list[str] | None, Query(description="Entity ids, e.g. org:nato")] = None,
    since: Annotated[str | None, Query(description="Published since: 7d, 12h, 30m, 2w or ISO date")] = None,
    until: Annotated[str | None, Query(description="Published before (a bare date: included)")] = None,
    sort: Annotated[SortParam, Query(description="relevance (default) or date (newest first)")] = "relevance",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Hits per page (1-100)")] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    collapse: Annotated[bool, Query(description="One hit per story (no cursor paging)")] = False,
    facets: Annotated[bool, Query(description="Topic/language/source facets and date histogram")] = True,
) -> dict[str, Any]:
    """Full-text search with filters, facets (topics, languages, sources, a date histogram) and highlights
    (``<mark>``, HTML-escaped) computed on the original text."""
    now = deps.clock()
    since_dt = date_param("since", since, now, parse_since)
    until_dt = date_param("until", until, now, parse_until)
    if since_dt is not None and until_dt is not None and since_dt >= until_dt:
        raise bad_param("until", f"must be after since ({until_dt.isoformat()} <= {since_dt.isoformat()})")
    after = decode_cursor(cursor, sort) if cursor else None
    if after is not None and collapse:
        raise bad_param("cursor", "paging is not available with collapse=true")
    req = SearchRequest(
        query=q,
        topics=split_values("topics", topics),
        languages=split_values("languages", languages),
        sources=split_values("sources", sources),
        entities=split_values("entities", entities),
        since=since_dt,
        until=until_dt,
        limit=limit,
        sort=sort,
        search_after=after,
        collapse_story=collapse,
        facets=facets,
    )
    try:
        result = run_search(deps.es, deps.settings.index_name("articles"), req)
    except QuerySyntaxError as exc:
        raise bad_param("q", str(exc), position=exc.position) from None
    except QueryError as exc:
        raise bad_param("q", str(exc)) from None
    except ApiError as exc:
        raise _es_refusal(exc, cursor) from None
    return result_body(result, req, histogram_interval(req, now))


@router.get("/articles/{article_id}", summary="One article", responses={404: {"description": "No article"}})
def read_article(
    deps: Deps,
    article_id: Annotated[str, Path(min_length=1, max_length=512, description="Article id")],
) -> dict[str, Any]:
    """The stored article (without the internal search fields)."""
    check_text_param("article_id", article_id)
    doc = get_article(deps.es, deps.settings.index_name("articles"), article_id)
    if doc is None:
        raise ApiProblem(404, f"article_id: no article {article_id!r}", "article_id")
    return doc
