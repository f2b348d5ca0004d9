from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from index.query import (
    MAX_DEPTH,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    And,
    MatchAll,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    SearchRequest,
    Term,
    build_es_query,
    build_search_body,
    histogram_interval,
    parse_query,
    parse_since,
    parse_until,
    positive_terms,
)
from newswatch.errors import QueryError

T = Term


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", MatchAll()),
        ("   ", MatchAll()),
        ("OTAN", T("otan", position=1)),
        ("DÉFENSE", T("defense", position=1)),
        ("defense antiaerienne", And((T("defense", position=1), T("antiaerienne", position=9)))),
        ("anti-aérienne", T("anti aerienne", position=1)),
        ("l’OTAN", T("l otan", position=1)),
        ('"Défense Anti-Aérienne"', Phrase("defense anti aerienne", position=1)),
        ("a OR b", Or((T("a", position=1), T("b", position=6)))),
        ("a AND b", And((T("a", position=1), T("b", position=7)))),
        ("a b OR c", Or((And((T("a", position=1), T("b", position=3))), T("c", position=8)))),
        ("a (b OR c)", And((T("a", position=1), Or((T("b", position=4), T("c", position=9)))))),
        ("NOT a", Not(T("a", position=5))),
        ("a -b", And((T("a", position=1), Not(T("b", position=4))))),
        ("a NOT b", And((T("a", position=1), Not(T("b", position=7))))),
        ("-(a OR b)", Not(Or((T("a", position=3), T("b", position=8))))),
        ("défen*", T("defen", prefix=True, position=1)),
        ("title:Ukraine", T("ukraine", field="title", position=1)),
        ('title:"air defence"', Phrase("air defence", field="title", position=1)),
        ("text:otan", T("otan", field="text", position=1)),
        ("topic:nato", T("nato", field="topic", position=1)),
        ("lang:fr", T("fr", field="lang", position=1)),
        ("foo:bar", T("foo bar", position=1)),  # unknown field: plain text
        ("or and", And((T("or", position=1), T("and", position=4)))),  # lower case: words
        ("a && b || c", Or((And((T("a", position=1), T("b", position=6))), T("c", position=11)))),
        ("a & b", And((T("a", position=1), T("b", position=5)))),  # bare punctuation dropped
        ("Україна ЇЖАК", And((T("украіна", position=1), T("іжак", position=9)))),
    ],
)
def test_parse_query(text: str, expected: Any) -> None:
    assert parse_query(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("(a OR b", 1, "unclosed '('"),
        ("a OR b)", 7, "unexpected ')'"),
        (")", 1, "unexpected ')'"),
        ("a OR", 3, "OR has nothing on its right"),
        ("OR a", 1, "OR has nothing on its left"),
        ("a AND", 3, "AND has nothing on its right"),
        ("a AND OR b", 3, "AND has nothing on its right"),
        ("NOT", 1, "NOT has nothing on its right"),
        ("a (NOT)", 4, "NOT has nothing on its right"),
        ("()", 1, "empty parentheses"),
        ('a "open phrase', 3, "unterminated phrase"),
        ('""', 1, "empty phrase"),
        ("d*", 1, "too short"),
        ("*", 1, "too short"),
        ("a*b*", 1, "too short"),
    ],
)
def test_parse_errors_name_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert f"at position {position}" in str(info.value)
    assert isinstance(info.value, QueryError)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + "a" + ")" * 5000,
        "NOT " * 500 + "a",
        "- " * 10 + "-" * 3000 + "a",
        "a " * (MAX_QUERY_CHARS // 2 + 1),
        " OR ".join(f"w{i}" for i in range(200)),
        " ".join(f"w{i}*" for i in range(20)),
    ],
)
def test_hostile_input_is_bounded(text: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(text)


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    assert parse_query("(" * depth + "a" + ")" * depth) == Term("a", position=depth + 1)


def test_positive_terms_skip_negated_and_keyword_fields() -> None:
    terms = positive_terms(parse_query('OTAN "défense anti-aérienne" missil* -sport NOT (foot) topic:nato'))
    assert terms.terms == ("otan", "defense anti aerienne")
    assert terms.prefixes == ("missil",)
    # NOT NOT x is positive again
    assert positive_terms(parse_query("NOT (NOT a)")).terms == ("a",)


def _must(req: SearchRequest) -> dict[str, Any]:
    query = build_es_query(req)
    must: dict[str, Any] = query["bool"]["must"][0]
    return must


def test_word_is_multi_match_on_folded_fields_title_boosted() -> None:
    assert _must(SearchRequest(query="OTAN")) == {
        "multi_match": {
            "query": "otan",
            "fields": ["title_folded^3", "text_folded", "tags_folded", "title_compounds^3", "text_compounds"],
            "operator": "and",
        }
    }


def test_hyphenated_word_is_phrase_or_glued() -> None:
    should = _must(SearchRequest(query="anti-aérienne"))["bool"]["should"]
    assert should[0]["multi_match"] == {
        "query": "anti aerienne",
        "type": "phrase",
        "fields": ["title_folded^3", "text_folded", "tags_folded"],
    }
    assert should[1]["multi_match"]["query"] == "antiaerienne"


def test_phrase_prefix_and_field_translation() -> None:
    assert _must(SearchRequest(query='title:"Air Défense"')) == {
        "multi_match": {"query": "air defense", "type": "phrase", "fields": ["title_folded^3"]}
    }
    prefix = _must(SearchRequest(query="défen*"))["bool"]["should"]
    assert {"prefix": {"text_folded": {"value": "defen", "boost": 1}}} in prefix
    assert {"prefix": {"title_folded": {"value": "defen", "boost": 3}}} in prefix
    assert _must(SearchRequest(query="topic:NATO")) == {
        "term": {"topics.id": {"value": "NATO", "case_insensitive": True}}
    }


def test_boolean_translation() -> None:
    assert _must(SearchRequest(query="a -b")) == {
        "bool": {
            "must": [_must(SearchRequest(query="a"))],
            "must_not": [_must(SearchRequest(query="b"))],
        }
    }
    ors = _must(SearchRequest(query="a OR b"))
    assert ors["bool"]["minimum_should_match"] == 1
    assert len(ors["bool"]["should"]) == 2
    assert _must(SearchRequest(query="-a")) == {"bool": {"must_not": [_must(SearchRequest(query="a"))]}}


def test_empty_query_is_match_all_with_filters() -> None:
    since = datetime(2024, 5, 1, tzinfo=UTC)
    q = build_es_query(
        SearchRequest(
            topics=("NATO",),
            languages=("FR",),
            sources=("Le Monde",),
            entities=("org:nato",),
            since=since,
            until=since + timedelta(days=1),
            indexed_since=since,
        )
    )
    assert q["bool"]["must"] == [{"match_all": {}}]
    filters = q["bool"]["filter"]
    assert {"terms": {"topics.id": ["nato"]}} in filters
    assert {"terms": {"language": ["fr"]}} in filters
    assert {"terms": {"entities.id": ["org:nato"]}} in filters
    assert {
        "range": {"published_at": {"gte": "2024-05-01T00:00:00Z", "lt": "2024-05-02T00:00:00Z"}}
    } in filters
    assert {"range": {"indexed_at": {"gte": "2024-05-01T00:00:00Z"}}} in filters
    source = next(f for f in filters if "bool" in f)
    assert {"terms": {"source.domain": ["le monde"]}} in source["bool"]["should"]
    assert {"term": {"source.name": {"value": "Le Monde", "case_insensitive": True}}} in source["bool"][
        "should"
    ]


def test_empty_time_range_is_an_error() -> None:
    t = datetime(2024, 5, 1, tzinfo=UTC)
    with pytest.raises(QueryError, match="empty time range"):
        build_es_query(SearchRequest(since=t, until=t))


def test_search_body_relevance_and_date() -> None:
    body = build_search_body(SearchRequest(query="otan", limit=5))
    assert body["size"] == 5
    assert body["sort"] == [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
    assert set(body["aggs"]) == {"topics", "languages", "sources", "published"}
    assert "title_folded" in body["_source"]["excludes"]
    assert "collapse" not in body and "search_after" not in body
    body = build_search_body(SearchRequest(sort="date", search_after=["2024-05-01T00:00:00Z", "x"]))
    assert next(iter(body["sort"][0])) == "published_at"
    assert body["search_after"] == ["2024-05-01T00:00:00Z", "x"]
    body = build_search_body(SearchRequest(collapse_story=True))
    assert body["collapse"] == {"field": "story_id"}


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (SearchRequest(limit=0), "limit"),
        (SearchRequest(limit=MAX_LIMIT + 1), "limit"),
        (SearchRequest(collapse_story=True, search_after=[1, "a"]), "collapse"),
        (SearchRequest(search_after=[1]), "search_after"),
        (SearchRequest(topics=tuple(str(i) for i in range(500))), "too many topics"),
        (SearchRequest(query="(a"), "position 1"),
    ],
)
def test_search_body_errors(req: SearchRequest, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build_search_body(req)


NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 7D ", NOW - timedelta(days=7)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("2024-05-01T10:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_since(value: str, expected: datetime) -> None:
    assert parse_since(value, NOW) == expected


@pytest.mark.parametrize("value", ["", "yesterday", "7x", "2024-13-01", "-7d"])
def test_parse_since_errors(value: str) -> None:
    with pytest.raises(QueryError, match="invalid date"):
        parse_since(value, NOW)


def test_parse_until_bare_date_includes_the_day() -> None:
    assert parse_until("2024-05-01", NOW) == datetime(2024, 5, 2, tzinfo=UTC)
    assert parse_until("1d", NOW) == NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("since", "until", "interval"),
    [
        (None, None, "day"),
        (NOW - timedelta(hours=12), None, "hour"),
        (NOW - timedelta(days=30), None, "day"),
        (NOW - timedelta(days=400), NOW, "week"),
        (NOW - timedelta(days=4000), NOW, "month"),
    ],
)
def test_histogram_interval(since: datetime | None, until: datetime | None, interval: str) -> None:
    assert histogram_interval(SearchRequest(since=since, until=until), now=NOW) == interval
