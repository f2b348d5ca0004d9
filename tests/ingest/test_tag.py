"""Rule language, loader errors, matcher, reloader, `newswatch tag` and `topics test`."""

from __future__ import annotations

import io
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ingest.model import TextInput
from ingest.tag import Tagger, TaggerReloader, _FoldTable, _stream
from ingest.text import tokens
from newswatch.cli import main
from newswatch.commands.tag import backtest, parse_since, tag_lines
from newswatch.errors import RuleError
from tests.conftest import FIXTURES, require_speedups

RULES = """
version: 1
defaults: {threshold: 2, field_weights: {title: 3, summary: 2, content: 1}}
topics:
  - id: nato
    terms:
      any: [{term: NATO, case: true, weight: 3}, OTAN: 3, НАТО: 3]
      en: ["North Atlantic Alliance": 3]
  - id: air-defence
    threshold: 3
    terms:
      any: [{term: PVO, case: true, weight: 3}, IRIS-T: 3]
      en: ["air defen*": 3]
      uk: [ППО: 3, "протиповітрян* оборон*": 3]
    near:
      - {near: [[close*], [sky, skies]], within: 3, weight: 3}
  - id: sanctions
    terms:
      en: [sanctions: 2]
      uk: [санкці*: 2]
    not:
      - {terms: [FIFA, UEFA, doping], within: 8}
  - id: gated
    threshold: 1
    terms: [alpha]
    all:
      - [beta]
    not:
      - {terms: [gamma]}
"""


@pytest.fixture
def tagger() -> Tagger:
    return Tagger.from_yaml(RULES, "rules.yaml")


def ids(tagger: Tagger, **fields: str) -> list[str]:
    return sorted(m.id for m in tagger.tag(TextInput(**fields)))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"title": "NATO summit opens"}, ["nato"]),
        ({"title": "Senator visits the senate"}, []),  # "senator" contains "nato": word boundaries
        ({"title": "nato in lower case is Italian for born"}, []),  # case: true
        ({"title": "L’OTAN se réunit"}, ["nato"]),
        ({"content": "Саміт НАТО у Вільнюсі. Саміт НАТО."}, ["nato"]),
        ({"title": "New air defences for Kyiv"}, ["air-defence"]),
        ({"title": "Missiles PVO livrés"}, ["air-defence"]),
        ({"title": "pvo in lower case"}, []),
        ({"title": "Посилення протиповітряної оборони"}, ["air-defence"]),  # phrase with inflections
        ({"title": "протиповітряної техніки"}, []),  # second word must follow
        ({"title": "Allies asked to close the sky"}, ["air-defence"]),  # near
        ({"content": "close the door, look at the sky"}, []),  # too far apart
        ({"title": "IRIS-T delivered"}, ["air-defence"]),
        ({"title": "Iris t"}, ["air-defence"]),
        ({"title": "Нові санкціями проти Росії"}, ["sanctions"]),
        ({"title": "UEFA imposes sanctions on club"}, []),  # contextual veto
        (
            {"title": "UEFA final tonight", "content": "Unrelated. " * 20 + "EU sanctions on Russian banks."},
            ["sanctions"],
        ),  # veto only nearby
        ({"title": "alpha"}, []),  # all-group missing
        ({"title": "alpha beta"}, ["gated"]),
        ({"title": "alpha beta gamma"}, []),  # global veto
    ],
)
def test_matching(tagger: Tagger, fields: dict[str, str], expected: list[str]) -> None:
    assert ids(tagger, **fields) == expected


def test_decimal_comma_is_one_word(tagger: Tagger) -> None:
    # "1,5" counts as one word, like "1.5": the near clause (within 3) still reaches "sky"
    assert ids(tagger, title="close 1,5 km of sky") == ["air-defence"]
    assert ids(tagger, title="close 1.5 km of sky") == ["air-defence"]
    # a comma that is punctuation (followed by a space) still separates two words
    assert ids(tagger, title="close 1, 5 km of sky") == []
    # positions count the number as one token
    hits = tagger.hits(TextInput(title="1,5 mln NATO"))
    assert [p for occ in hits.values() for _f, p, _e in occ] == [2]


def test_field_weights_and_threshold(tagger: Tagger) -> None:
    # content weight 1 x term weight 2 = 2 >= threshold 2; title counts 3x.
    (m,) = tagger.tag(TextInput(content="new sanctions"))
    assert m.score == 2.0
    (m,) = tagger.tag(TextInput(title="new sanctions"))
    assert m.score == 6.0
    # repeated mentions count up to max_hits (3)
    (m,) = tagger.tag(TextInput(content="sanctions " * 10))
    assert m.score == 6.0
    # air-defence threshold 3: "IRIS-T" in content scores 3
    assert ids(tagger, content="IRIS-T") == ["air-defence"]


def test_hits_explain_positions(tagger: Tagger) -> None:
    (m,) = tagger.tag(TextInput(title="Summit: NATO", content="One two the North Atlantic Alliance"))
    assert m.id == "nato"
    assert [(h.term, h.field, h.position) for h in m.hits] == [
        ("NATO", "title", 1),
        ("North Atlantic Alliance", "content", 3),
    ]
    assert m.terms == ("NATO", "North Atlantic Alliance")


def test_sorted_by_score(tagger: Tagger) -> None:
    out = tagger.tag(TextInput(title="Air defence", content="NATO"))
    assert [m.id for m in out] == ["air-defence", "nato"]
    assert out[0].score >= out[1].score


@pytest.mark.parametrize(
    ("yaml_text", "line", "fragment"),
    [
        ("topics:\n  - id: x\n    terms: [ab*]\n", 3, "topic 'x': term 'ab*': prefix 'ab'* is shorter"),
        ("topics:\n  - id: x\n    terms:\n      xx: [a]\n", 4, "unknown key 'xx'"),
        ("topics:\n  - id: x\n    threshold: -1\n    terms: [a]\n", 3, "threshold must be >="),
        ("topics:\n  - id: x\n    terms: [a]\n  - id: x\n    terms: [b]\n", 4, "duplicate topic id"),
        ("topics:\n  - id: Bad Id\n    terms: [a]\n", 2, "must be lower-case"),
        ("topics:\n  - id: x\n    description: nothing\n", 2, "could never match"),
        ('topics:\n  - id: x\n    terms: ["a*b"]\n', 3, "'*' is only allowed"),
        ('topics:\n  - id: x\n    terms: ["--"]\n', 3, "no word characters"),
        ("topics:\n  - id: x\n    terms: [{term: a, weight: heavy}]\n", 3, "must be a number"),
        ("topics:\n  - id: x\n    near: [{near: [[a]], within: 2}]\n", 3, "exactly two"),
        ("topics:\n  - id: x\n    conditional: [{terms: [a]}]\n", 3, "needs `terms:` and `requires:`"),
        ("topics:\n  - id: x\n    near: [{near: [[a], [b]], requires: {xx: [c]}}]\n", 3, "unknown key 'xx'"),
        ("topics:\n  - id: x\n    terms: [a\n", 0, "invalid YAML"),
    ],
)
def test_rule_errors_name_topic_and_line(yaml_text: str, line: int, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        Tagger.from_yaml(yaml_text, "topics.yaml")
    message = str(info.value)
    assert fragment in message
    if line:
        assert message.startswith(f"topics.yaml:{line}: ")


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read"):
        Tagger.from_file(tmp_path / "nope.yaml")


@given(st.text(alphabet=st.sampled_from("aZé ß-’.,:;İ\u00adÉжЇї1_/\n\t'"), max_size=60))
def test_stream_equals_tokens(text: str) -> None:
    assert _stream(text, _FoldTable(keep_case=False)).split() == tokens(text)


@given(st.text(max_size=40))
def test_stream_equals_tokens_any_text(text: str) -> None:
    assert _stream(text, _FoldTable(keep_case=False)).split() == tokens(text)


def test_reloader_rebuilds_and_keeps_old_on_error(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text("topics:\n  - id: a\n    terms: [alpha]\n", encoding="utf-8")
    reloader = TaggerReloader(path)
    first = reloader.get()
    assert first.topic_ids == ("a",)
    assert reloader.get() is first  # unchanged file: same object
    path.write_text(
        "topics:\n  - id: a\n    terms: [alpha]\n  - id: b\n    terms: [beta]\n", encoding="utf-8"
    )
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    second = reloader.get()
    assert second.topic_ids == ("a", "b")
    path.write_text("topics:\n  - id: a\n    terms: [ab*]\n", encoding="utf-8")  # invalid
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    assert reloader.get() is second


def test_tag_lines_bad_line_reported_others_processed(tagger: Tagger) -> None:
    lines = [
        json.dumps({"title": "NATO summit", "language": "en", "url": "u1"}),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"title": "Nothing here"}),
    ]
    out, err = io.StringIO(), io.StringIO()
    bad = tag_lines(lines, tagger, out, err, detect=None, explain=True)
    assert bad == 2
    assert "line 2:" in err.getvalue() and "line 3:" in err.getvalue()
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert rows[0]["url"] == "u1" and rows[0]["language"] == "en"
    assert rows[0]["topics"][0]["id"] == "nato"
    assert rows[0]["topics"][0]["hits"] == [{"term": "NATO", "field": "title", "position": 0}]
    assert rows[1]["language"] == "und" and rows[1]["topics"] == []


def test_tag_command(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    data = (
        json.dumps({"title": "Sommet de l'OTAN", "summary": "Les alliés discutent de la défense."})
        + "\nbad\n"
    )
    result = CliRunner().invoke(main, ["tag", "--rules", str(rules), "-"], input=data)
    assert result.exit_code == 1
    row = json.loads(result.stdout.splitlines()[0])
    assert [t["id"] for t in row["topics"]] == ["nato"]
    assert "hits" not in row["topics"][0]
    assert "line 2" in result.stderr


def test_parse_since() -> None:
    assert parse_since("7d").days == 7
    assert parse_since("24h").total_seconds() == 86400
    with pytest.raises(Exception, match="expected a number"):
        parse_since("soon")


def test_backtest_pure(tagger: Tagger) -> None:
    docs = [
        {"title": "NATO summit", "language": "en", "published_at": "2025-01-02T10:00:00Z"},
        {"title": "Саміт НАТО", "language": "uk", "published_at": "2025-01-02T11:00:00Z"},
        {"title": "Weather", "language": "en", "published_at": "2025-01-02T12:00:00Z"},
    ]
    report = backtest(tagger, "nato", docs)
    assert (report.scanned, report.matched) == (3, 2)
    assert report.per_day == {("2025-01-02", "en"): 1, ("2025-01-02", "uk"): 1}


@pytest.mark.es
def test_topics_test_on_real_index(es_url: str, unique_prefix: str, tmp_path: Path) -> None:
    from elasticsearch import Elasticsearch

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    es = Elasticsearch(es_url)
    index = f"{unique_prefix}-articles"
    now = datetime.now(UTC)
    docs = [
        {"title": "NATO summit opens", "summary": "", "content": "", "language": "en"},
        {"title": "Саміт НАТО", "summary": "", "content": "", "language": "uk"},
        {"title": "Senator speaks", "summary": "", "content": "", "language": "en"},
    ]
    for i, d in enumerate(docs):
        es.index(
            index=index,
            id=str(i),
            document={**d, "published_at": now.isoformat(), "indexed_at": now.isoformat()},
        )
    es.indices.refresh(index=index)
    env = {"NEWSWATCH_ELASTICSEARCH_URL": es_url, "NEWSWATCH_INDEX_PREFIX": unique_prefix}
    result = CliRunner().invoke(
        main, ["topics", "test", "nato", "--since", "1d", "--rules", str(rules), "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["scanned"], report["matched"]) == (3, 2)
    assert {r["language"] for r in report["per_day"]} == {"en", "uk"}
    bad = CliRunner().invoke(main, ["topics", "test", "nope", "--rules", str(rules)], env=env)
    assert bad.exit_code == 2 and "no topic 'nope'" in bad.stderr


LENGTH_RULES = """
defaults:
  {threshold: 2, lede_chars: 40, length_ref: 100, field_weights: {title: 3, summary: 2, lede: 2, content: 1}}
topics:
  - id: nato
    terms:
      any: [{term: NATO, case: true, weight: 3}, "nato*": 3]
"""


@pytest.mark.parametrize(
    ("content", "score"),
    [
        ("NATO met.", 6.0),  # lede: weight 2 x 3; the stem at the same place does not count twice
        ("word " * 20 + "NATO met.", 3.0),  # body, short text: unscaled
        ("word " * 396 + "NATO met.", 1.5),  # body of 400 words: x sqrt(100 / 400)
    ],
)
def test_lede_and_length_scaling(content: str, score: float) -> None:
    t = Tagger.from_yaml(LENGTH_RULES)
    got = {m.id: m.score for m in t.tag(TextInput(content=content))}
    assert got.get("nato", 0.0) == pytest.approx(score) or (score < 2 and "nato" not in got)


def test_body_length_is_counted_in_characters_not_words() -> None:
    """A long body scales its evidence by its length; the length is language-neutral: the same
    characters in fewer, longer words (Ukrainian, Polish) scale like many short ones (English)."""
    rules = """
version: 1
defaults: {threshold: 0.1, lede_chars: 0, length_ref: 100, field_weights: {title: 3, summary: 2, content: 1}}
topics:
  - id: sanctions
    terms:
      any: [sanctions: 2]
"""
    tagger = Tagger.from_yaml(rules, "rules.yaml")
    short_words = "sanctions " + "ab " * 1200  # 1,201 words, ~3,610 characters
    long_words = "sanctions " + "abcdefghijk " * 300  # 301 words, ~3,610 characters
    assert abs(len(short_words) - len(long_words)) < 20
    (a,) = tagger.tag(TextInput(content=short_words))
    (b,) = tagger.tag(TextInput(content=long_words))
    assert a.score < 2.0  # scaled down: longer than length_ref
    assert a.score == pytest.approx(b.score, rel=0.01)
    (c,) = tagger.tag(TextInput(content="sanctions " + "ab " * 50))  # short: not scaled
    assert c.score == 2.0


def test_a_near_clause_that_does_not_fire_leaves_its_place_to_the_next() -> None:
    """A left-hand place is used up only when it pairs: "prohibit" near "Russian gas" (strong) does not
    fire on "prohibiting imports", so the weaker "prohibit" near "imports" clause still scores it."""
    rules = """
version: 1
topics:
  - id: sanctions
    threshold: 1
    near:
      - near: [{en: [prohibit*]}, {en: ["russian gas"]}]
        within: 4
        weight: 3
      - near: [{en: [prohibit*]}, {en: [imports]}]
        within: 4
        weight: 0.5
"""
    tagger = Tagger.from_yaml(rules)
    (match,) = tagger.tag(TextInput(title="Order prohibiting certain imports"))
    assert match.terms == ("prohibit* ~4 imports",)
    assert match.score == 1.5
    (strong,) = tagger.tag(TextInput(title="Order prohibiting Russian gas imports"))
    assert strong.terms == ("prohibit* ~4 russian gas",)  # one place, one piece of evidence: the first clause


def test_a_termset_can_be_a_list_of_mappings_their_union() -> None:
    """One anchor widened without copying it: `[*russia_named, {en: [...]}]` is the union of the two term sets
    (here as a near clause's context); a list of plain terms is still a language-neutral term set."""
    rules = """
version: 1
topics:
  - id: sanctions
    threshold: 2
    near:
      - near: [{en: [seiz*]}, {en: [assets]}]
        within: 4
        weight: 3
        requires: &russia_named {en: [russia*, moscow]}
      - near: [{en: [freez*, frozen]}, {en: [assets]}]
        within: 4
        weight: 3
        requires: [*russia_named, {any: [{term: EU, case: true}], en: ["european union"]}]
"""
    tagger = Tagger.from_yaml(rules)
    assert tagger.tag(TextInput(title="Court freezes a developer's assets")) == ()
    assert tagger.tag(TextInput(title="EU court seizes assets")) == ()  # the seizure keeps the narrow context
    for title in ("EU freezes assets of 12", "Moscow: frozen assets", "European Union freezes assets"):
        (tag,) = tagger.tag(TextInput(title=title))
        assert tag.id == "sanctions"
    with pytest.raises(RuleError, match="requires has no terms"):  # an empty member is named, not ignored
        Tagger.from_yaml(rules.replace('{any: [{term: EU, case: true}], en: ["european union"]}', "{}"))


def test_requires_makes_a_clause_or_term_count_only_with_context() -> None:
    """`requires` on a near clause and `conditional` terms: evidence that counts only in an article that also
    has one of the required terms anywhere (a delivery with a recipient in sight); the required terms
    themselves score nothing."""
    rules = """
version: 1
topics:
  - id: military-aid
    threshold: 2
    near:
      - near: [{en: [deliver*]}, {en: [shells, ammunition]}]
        within: 4
        weight: 3
        requires: &recipients {en: [ukrain*, kyiv]}
    conditional:
      - requires: *recipients
        terms: {en: ["arms deliveries": 3]}
"""
    tagger = Tagger.from_yaml(rules)
    assert tagger.tag(TextInput(title="Rheinmetall to deliver shells to the Bundeswehr")) == ()
    assert tagger.tag(TextInput(title="Arms deliveries resume after the strike")) == ()
    (near,) = tagger.tag(TextInput(title="Rheinmetall to deliver shells", summary="Bound for Ukraine."))
    assert near.terms == ("deliver* ~4 shells",)  # the recipient is context, not evidence
    assert near.score == 9.0
    (term,) = tagger.tag(TextInput(title="Arms deliveries resume", content="Kyiv thanked its partners."))
    assert term.terms == ("arms deliveries",)
    assert tagger.tag(TextInput(title="Ukraine and Kyiv in the news")) == ()  # context alone never scores


def test_a_vetoed_place_frees_its_partner_for_the_next_clause() -> None:
    """A contextual veto only takes evidence away, but a vetoed right-hand place can leave its left-hand
    partner to a stronger clause: the tagger's bound (tried before computing vetoes) must not drop that
    topic. Without the veto the weak clause uses "prohibiting" up and the topic stays below threshold."""
    rules = """
version: 1
topics:
  - id: sanctions
    threshold: 4
    near:
      - near: [{en: [prohibit*]}, {en: [imports]}]
        within: 4
        weight: 0.5
      - near: [{en: [prohibit*]}, {en: ["russian gas"]}]
        within: 4
        weight: 2
    not:
      - terms: {en: [court]}
        within: 3
"""
    tagger = Tagger.from_yaml(rules)
    assert tagger.tag(TextInput(title="Order prohibiting Russian gas and imports seized by customs")) == ()
    (match,) = tagger.tag(TextInput(title="Order prohibiting Russian gas and imports seized by court"))
    assert match.terms == ("prohibit* ~4 russian gas",)
    assert match.score == 6.0


def test_scan_loop_in_c_finds_what_the_python_loop_finds() -> None:
    """``ingest._speedups.collect_hits`` (the scan loop over automaton matches: phrase tails, case-kept
    acronyms) gives the same topics, scores and explanations as the Python loop, on every labelled item."""
    require_speedups()
    tagger = Tagger.from_file(Path(__file__).resolve().parents[2] / "config" / "topics.yaml")
    assert tagger._collect is not None
    docs = [
        TextInput(item["title"], item.get("summary", ""), item.get("content", ""))
        for path in sorted((FIXTURES / "tagging").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
        for item in [json.loads(line)]
    ]
    with_c = [tagger.tag(doc) for doc in docs]
    tagger._collect = None
    assert [tagger.tag(doc) for doc in docs] == with_c
    assert sum(bool(tags) for tags in with_c) > len(docs) // 3
    acronyms = [term.text for topic in tagger.topics for term in topic.all_terms() if term.case]
    assert acronyms  # the shipped rules have case-sensitive terms, checked through the callback


@given(
    st.lists(
        st.sampled_from(
            ["NATO", "Nato", "nato", "NATO-Gipfel", "Straße", "İstanbul", "ﬁnal", "PVO", "Pvo", "ǅ", "и", "—"]
        ),
        max_size=12,
    )
)
def test_case_sensitive_terms_match_exactly_the_case_kept_tokens(words: list[str]) -> None:
    """A case-sensitive term is checked against the case-kept words at the match: read in place when the
    case-kept stream lines up with the folded one, from the field's token list when folding changed a
    length (ß → ss, the dotted İ): both give what the tokens say."""
    tagger = Tagger.from_yaml(
        """
version: 1
topics:
  - id: nato
    threshold: 1
    terms:
      any: [{term: NATO, case: true, weight: 1}, {term: PVO, case: true, weight: 1}]
"""
    )
    text = " ".join(words)
    kept = tokens(text, keep_case=True)
    expected = "NATO" in kept or "PVO" in kept
    for doc in (TextInput(title=text), TextInput(content=text)):
        assert bool(tagger.tag(doc)) == expected


def test_scan_loop_in_c_rejects_malformed_input() -> None:
    """``collect_hits`` is private, but a wrong shape is a TypeError naming it, never a crash."""
    speedups = require_speedups()
    with pytest.raises(TypeError, match="a match"):
        speedups.collect_hits([(0, 1)], [[]], " a ", 0, {}, None)
    with pytest.raises(TypeError, match="an entry"):
        speedups.collect_hits([(0, 1, 2)], [[(1, 2)]], " a ", 0, {}, None)
    with pytest.raises(IndexError):
        speedups.collect_hits([(5, 1, 2)], [[]], " a ", 0, {}, None)
