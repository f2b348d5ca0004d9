"""The search query language and its translation to Elasticsearch (pure; no I/O).

Grammar (default operator AND; AND binds tighter than OR)::

    query   := or_expr?
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or_expr ")" | [field ":"] (word | word"*" | "\"phrase\"")

Operators are upper-case only (``or`` is a French word). Fields: ``title:``, ``text:`` (summary and
content), and the keyword fields ``topic:``, ``lang:``, ``source:``, ``entity:``; any other ``x:`` is
just text. Every term is folded with ``ingest.text.fold``, exactly like the documents' ``*_folded`` fields.

``build_es_query`` is what the alerts engine runs too: what you search is what you are alerted on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from ingest.text import tokens
from newswatch.errors import QueryError

MAX_QUERY_CHARS = 2000
MAX_DEPTH = 20
MAX_CLAUSES = 64
MAX_PREFIXES = 8
MIN_PREFIX_CHARS = 2
MAX_LIMIT = 500
MAX_FILTER_VALUES = 100
TITLE_BOOST = 3

TEXT_FIELDS = {
    None: ("title_folded", "text_folded", "tags_folded"),
    "title": ("title_folded",),
    "text": ("text_folded",),
}
COMPOUND_FIELDS = {
    None: ("title_compounds", "text_compounds"),
    "title": ("title_compounds",),
    "text": ("text_compounds",),
}
KEYWORD_FIELDS = {
    "topic": "topics.id",
    "lang": "language",
    "language": "language",
    "source": "source",
    "entity": "entities.id",
    "story": "story_id",
}
FIELD_NAMES = frozenset({"title", "text", *KEYWORD_FIELDS})


class QuerySyntaxError(QueryError):
    """A query that cannot be parsed; ``position`` is the 1-based character position of the culprit."""

    def __init__(self, message: str, position: int, query: str = "") -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position
        self.query = query


# --- AST -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    text: str  # folded
    field: str | None = None
    prefix: bool = False
    position: int = 0


@dataclass(frozen=True)
class Phrase:
    text: str  # folded
    field: str | None = None
    position: int = 0


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class MatchAll:
    pass


Node = Term | Phrase | And | Or | Not | MatchAll


# --- Tokenizer -------------------------------------------------------------------------------------

_TokKind = Literal["(", ")", "AND", "OR", "NOT", "-", "WORD", "PHRASE"]


@dataclass(frozen=True)
class _Tok:
    kind: _TokKind
    value: str
    position: int  # 1-based
    field: str | None = None


_FIELD_RE = re.compile(r"([A-Za-z]+):(?=\S)")


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        pos = i + 1
        if ch in "()":
            toks.append(_Tok(ch, ch, pos))  # type: ignore[arg-type]
            i += 1
            continue
        if ch == "-" and i + 1 < n and not text[i + 1].isspace() and (i == 0 or not text[i - 1].isalnum()):
            toks.append(_Tok("-", ch, pos))
            i += 1
            continue
        fld: str | None = None
        m = _FIELD_RE.match(text, i)
        if m and m.group(1).lower() in FIELD_NAMES:
            fld = m.group(1).lower()
            i = m.end()
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError('unterminated phrase (missing closing ")', i + 1, text)
            toks.append(_Tok("PHRASE", text[i + 1 : end], pos, fld))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in '()"':
            j += 1
        word = text[i:j]
        if not word:
            raise QuerySyntaxError(f"field {fld}: has no value", pos, text)
        i = j
        if fld is None and word in ("AND", "OR", "NOT"):
            toks.append(_Tok(word, word, pos))  # type: ignore[arg-type]
        elif fld is None and word in ("&&", "||"):
            toks.append(_Tok("AND" if word == "&&" else "OR", word, pos))
        else:
            toks.append(_Tok("WORD", word, pos, fld))
    return toks


# --- Parser ----------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, toks: list[_Tok]) -> None:
        self.text = text
        self.toks = toks
        self.i = 0
        self.depth = 0
        self.clauses = 0
        self.prefixes = 0

    def error(self, message: str, position: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, position, self.text)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node:
        if not self.toks:
            return MatchAll()
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:
            if tok.kind == ")":
                raise self.error("unexpected ')' without matching '('", tok.position)
            raise self.error(f"unexpected {tok.value!r}", tok.position)  # pragma: no cover
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise self.error("OR has nothing on its right", tok.position)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in (")", "OR"):
            if tok.kind == "AND":
                self.i += 1
                nxt = self.peek()
                if nxt is None or nxt.kind in (")", "OR", "AND"):
                    raise self.error("AND has nothing on its right", tok.position)
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:  # pragma: no cover - guarded by callers
            raise self.error("unexpected end of query", len(self.text) + 1)
        if tok.kind in ("NOT", "-"):
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise self.error(f"{tok.value} has nothing on its right", tok.position)
            self._enter(tok)
            child = self.unary()
            self.depth -= 1
            return Not(child)
        return self.primary()

    def _enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"query nested too deeply (max {MAX_DEPTH} levels)", tok.position)

    def primary(self) -> Node:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "(":
            self.i += 1
            self._enter(tok)
            nxt = self.peek()
            if nxt is None:
                raise self.error("unclosed '('", tok.position)
            if nxt.kind == ")":
                raise self.error("empty parentheses", tok.position)
            if nxt.kind in ("OR", "AND"):
                raise self.error(f"{nxt.value} has nothing on its left", nxt.position)
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.error("unclosed '('", tok.position)
            self.i += 1
            self.depth -= 1
            return node
        if tok.kind == ")":
            raise self.error("unexpected ')' without matching '('", tok.position)
        if tok.kind in ("AND", "OR"):
            raise self.error(f"{tok.value} has nothing on its left", tok.position)
        self.i += 1
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self.error(f"too many terms (max {MAX_CLAUSES})", tok.position)
        if tok.kind == "PHRASE":
            folded = " ".join(tokens(tok.value))
            if not folded:
                raise self.error("empty phrase", tok.position)
            if tok.field in KEYWORD_FIELDS:
                return Term(tok.value.strip(), tok.field, False, tok.position)
            return Phrase(folded, tok.field, tok.position)
        return self._word(tok)

    def _word(self, tok: _Tok) -> Node:
        word = tok.value
        if tok.field in KEYWORD_FIELDS:
            return Term(word, tok.field, False, tok.position)
        prefix = word.endswith("*")
        if prefix:
            word = word.rstrip("*")
        folded = " ".join(tokens(word))
        if prefix:
            if "*" in word or len(folded.replace(" ", "")) < MIN_PREFIX_CHARS:
                raise self.error(
                    f"prefix {tok.value!r} is too short (at least {MIN_PREFIX_CHARS} letters before '*')",
                    tok.position,
                )
            self.prefixes += 1
            if self.prefixes > MAX_PREFIXES:
                raise self.error(f"too many prefix terms (max {MAX_PREFIXES})", tok.position)
        if not folded:
            # Pure punctuation ("&", "…"): nothing to search for; match everything in its place.
            return MatchAll()
        return Term(folded, tok.field, prefix, tok.position)


def parse_query(text: str) -> Node:
    """Parse ``text`` into a tree of ``Term``/``Phrase``/``And``/``Or``/``Not``.

    Raises ``QuerySyntaxError`` (a ``QueryError``) naming the position of the culprit.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"query too long ({len(text)} characters, max {MAX_QUERY_CHARS})", MAX_QUERY_CHARS + 1, text
        )
    return _simplify(_Parser(text, _tokenize(text)).parse())


def _simplify(node: Node) -> Node:
    if isinstance(node, And):
        kids = tuple(k for k in (_simplify(c) for c in node.children) if not isinstance(k, MatchAll))
        if not kids:
            return MatchAll()
        return kids[0] if len(kids) == 1 else And(kids)
    if isinstance(node, Or):
        alts: tuple[Node, ...] = tuple(_simplify(c) for c in node.children)
        if any(isinstance(k, MatchAll) for k in alts):
            return MatchAll()
        return alts[0] if len(alts) == 1 else Or(alts)
    if isinstance(node, Not):
        return Not(_simplify(node.child))
    return node


@dataclass(frozen=True)
class HighlightTerms:
    """The positive (not negated) text terms of a query, folded: what highlighting marks."""

    terms: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


def positive_terms(node: Node) -> HighlightTerms:
    terms: list[str] = []
    prefixes: list[str] = []

    def walk(n: Node, negated: bool) -> None:
        if isinstance(n, Not):
            walk(n.child, not negated)
        elif isinstance(n, And | Or):
            for c in n.children:
                walk(c, negated)
        elif isinstance(n, Term) and not negated and n.field not in KEYWORD_FIELDS:
            (prefixes if n.prefix else terms).append(n.text)
        elif isinstance(n, Phrase) and not negated:
            terms.append(n.text)

    walk(node, False)
    return HighlightTerms(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(prefixes)))


# --- Translation to Elasticsearch ------------------------------------------------------------------


def _boosted(fields: tuple[str, ...]) -> list[str]:
    return [f"{f}^{TITLE_BOOST}" if f.startswith("title_") else f for f in fields]


def _keyword_query(fld: str, value: str) -> dict[str, Any]:
    if fld == "source":
        return _source_filter([value])
    target = KEYWORD_FIELDS[fld]
    return {"term": {target: {"value": value, "case_insensitive": True}}}


def _term_query(node: Term) -> dict[str, Any]:
    if node.field in KEYWORD_FIELDS:
        return _keyword_query(node.field, node.text)
    text_fields = TEXT_FIELDS[node.field]
    compound_fields = COMPOUND_FIELDS[node.field]
    parts = node.text.split(" ")
    joined = "".join(parts)
    if node.prefix:
        should: list[dict[str, Any]] = []
        if len(parts) == 1:
            for f in (*text_fields, *compound_fields):
                boost = TITLE_BOOST if f.startswith("title_") else 1
                should.append({"prefix": {f: {"value": joined, "boost": boost}}})
        else:
            should.append(
                {
                    "multi_match": {
                        "query": node.text,
                        "type": "phrase_prefix",
                        "fields": _boosted(text_fields),
                        "max_expansions": 50,
                    }
                }
            )
            for f in compound_fields:
                should.append({"prefix": {f: {"value": joined}}})
        return {"bool": {"should": should, "minimum_should_match": 1}}
    if len(parts) == 1:
        return {
            "multi_match": {
                "query": node.text,
                "fields": _boosted((*text_fields, *compound_fields)),
                "operator": "and",
            }
        }
    # A word that folds into several tokens (anti-aérienne, l'OTAN, U.S.): the tokens as a phrase,
    # or glued together (so anti-aérienne also finds antiaérienne).
    return {
        "bool": {
            "should": [
                {"multi_match": {"query": node.text, "type": "phrase", "fields": _boosted(text_fields)}},
                {
                    "multi_match": {
                        "query": joined,
                        "fields": _boosted((*text_fields, *compound_fields)),
                        "operator": "and",
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def node_to_es(node: Node) -> dict[str, Any]:
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Term):
        return _term_query(node)
    if isinstance(node, Phrase):
        return {
            "multi_match": {"query": node.text, "type": "phrase", "fields": _boosted(TEXT_FIELDS[node.field])}
        }
    if isinstance(node, Not):
        return {"bool": {"must_not": [node_to_es(node.child)]}}
    if isinstance(node, Or):
        return {"bool": {"should": [node_to_es(c) for c in node.children], "minimum_should_match": 1}}
    must = [node_to_es(c) for c in node.children if not isinstance(c, Not)]
    must_not = [node_to_es(c.child) for c in node.children if isinstance(c, Not)]
    out: dict[str, Any] = {}
    if must:
        out["must"] = must
    if must_not:
        out["must_not"] = must_not
    return {"bool": out}


# --- Requests --------------------------------------------------------------------------------------

Sort = Literal["relevance", "date"]


@dataclass(frozen=True)
class SearchRequest:
    query: str = ""
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20
    sort: Sort = "relevance"
    search_after: list[Any] | None = None
    collapse_story: bool = False
    indexed_since: datetime | None = None
    indexed_until: datetime | None = None
    facets: bool = field(default=True)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _range(fld: str, gte: datetime | None, lt: datetime | None) -> dict[str, Any] | None:
    if gte is None and lt is None:
        return None
    if gte is not None and lt is not None and gte >= lt:
        raise QueryError(f"empty time range on {fld}: {_iso(gte)} is not before {_iso(lt)}")
    bounds: dict[str, str] = {}
    if gte is not None:
        bounds["gte"] = _iso(gte)
    if lt is not None:
        bounds["lt"] = _iso(lt)
    return {"range": {fld: bounds}}


def _source_filter(values: list[str] | tuple[str, ...]) -> dict[str, Any]:
    should: list[dict[str, Any]] = [{"terms": {"source.domain": [v.lower() for v in values]}}]
    should += [{"term": {"source.name": {"value": v, "case_insensitive": True}}} for v in values]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _check_values(name: str, values: tuple[str, ...]) -> None:
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(f"too many {name} ({len(values)}, max {MAX_FILTER_VALUES})")


def build_filters(req: SearchRequest) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    for name, values in (
        ("topics", req.topics),
        ("languages", req.languages),
        ("sources", req.sources),
        ("entities", req.entities),
    ):
        _check_values(name, values)
    if req.topics:
        filters.append({"terms": {"topics.id": [t.lower() for t in req.topics]}})
    if req.languages:
        filters.append({"terms": {"language": [v.lower() for v in req.languages]}})
    if req.sources:
        filters.append(_source_filter(req.sources))
    if req.entities:
        filters.append({"terms": {"entities.id": list(req.entities)}})
    for rng in (
        _range("published_at", req.since, req.until),
        _range("indexed_at", req.indexed_since, req.indexed_until),
    ):
        if rng is not None:
            filters.append(rng)
    return filters


def build_es_query(req: SearchRequest) -> dict[str, Any]:
    """The ``query`` part: the parsed text query (scored) plus filters. Raises ``QueryError``."""
    node = parse_query(req.query)
    return {"bool": {"must": [node_to_es(node)], "filter": build_filters(req)}}


def sort_clause(req: SearchRequest) -> list[dict[str, Any]]:
    if req.sort == "date":
        return [
            {"published_at": {"order": "desc", "missing": "_last", "format": "strict_date_optional_time"}},
            {"id": {"order": "asc"}},
        ]
    return [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]


FACET_SIZE = 20


def histogram_interval(req: SearchRequest, now: datetime | None = None) -> str:
    """Calendar interval of the date histogram from the requested span (``day`` when open-ended).

    (``auto_date_histogram`` lives in a module the core-only node does not have.) Empty buckets are
    not filled (``min_doc_count: 1``), so a stray date in 1970 or 2999 cannot blow up the bucket count.
    """
    until = req.until or now
    if req.since is None or until is None:
        return "day"
    since = req.since if req.since.tzinfo else req.since.replace(tzinfo=UTC)
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    span = until - since
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=120):
        return "day"
    if span <= timedelta(days=3 * 366):
        return "week"
    return "month"


def build_search_body(req: SearchRequest, now: datetime | None = None) -> dict[str, Any]:
    """Query + sort + size + aggregations (facets, date histogram) + collapse + search_after.

    Highlights are not asked of Elasticsearch (it would highlight the folded text); ``index.search``
    computes them on the original text with ``index.highlight``.
    """
    if not 1 <= req.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT} (got {req.limit})")
    if req.sort not in ("relevance", "date"):
        raise QueryError(f"sort must be 'relevance' or 'date' (got {req.sort!r})")
    from index.mapping import INTERNAL_FIELDS

    body: dict[str, Any] = {
        "query": build_es_query(req),
        "size": req.limit,
        "sort": sort_clause(req),
        "track_total_hits": True,
        "_source": {"excludes": list(INTERNAL_FIELDS)},
    }
    if req.facets:
        body["aggs"] = {
            "topics": {"terms": {"field": "topics.id", "size": FACET_SIZE}},
            "languages": {"terms": {"field": "language", "size": FACET_SIZE}},
            "sources": {"terms": {"field": "source.name", "size": FACET_SIZE}},
            "published": {
                "date_histogram": {
                    "field": "published_at",
                    "calendar_interval": histogram_interval(req, now),
                    "min_doc_count": 1,
                    "format": "strict_date_optional_time",
                }
            },
        }
    if req.collapse_story:
        if req.search_after is not None:
            raise QueryError("search_after paging is not available with collapse by story")
        body["collapse"] = {"field": "story_id"}
    if req.search_after is not None:
        if len(req.search_after) != 2:
            raise QueryError(f"search_after must have 2 values (sort key, id), got {req.search_after!r}")
        body["search_after"] = list(req.search_after)
    return body


# --- Dates -----------------------------------------------------------------------------------------

_REL_RE = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` before ``now``; or an ISO date (midnight UTC) or datetime.

    Naive datetimes are UTC. Anything else raises ``QueryError`` naming the value.
    """
    m = _REL_RE.match(value)
    if m:
        return now - timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"invalid date {value!r}: use 7d, 12h, 30m, 2w or an ISO date/datetime (2024-05-01)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_until(value: str, now: datetime) -> datetime:
    """Like ``parse_since``, but a bare date means the end of that day.

    (``--until 2024-05-01`` includes that day: the filter is ``published_at < 2024-05-02``.)
    """
    dt = parse_since(value, now)
    if len(value.strip()) == 10 and not _REL_RE.match(value):
        dt += timedelta(days=1)
    return dt
