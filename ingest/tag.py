"""Multilingual topic tagging from an analyst-readable YAML rule file (``config/topics.yaml``).

The rule language follows the spirit of the Europe Media Monitor category definitions: a topic is a
weighted vocabulary per language, a threshold on the summed weight, a few boolean groups, vetoes and
proximity clauses. Everything is matched on the folded token stream of ``ingest.text`` (the same
folding search uses), so case, accents and punctuation never matter and terms only match whole words.

Grammar (YAML)::

    version: 1
    defaults:                         # optional; every key can be overridden per topic
      threshold: 2                    # a topic is assigned when its score >= threshold
      max_hits: 3                     # per term and field, repeated mentions count up to this many
      within: 6                       # default distance (in words) for `near` and contextual `not`
      field_weights: {title: 3, summary: 2, content: 1}
    topics:
      - id: air-defence               # [a-z0-9-], unique
        labels: {en: Air defence, fr: Défense antiaérienne}      # per language, display only
        description: Free text for the analyst.
        threshold: 3                  # optional override (also max_hits, field_weights)
        terms:                        # TERMSET: the scored vocabulary
          any: [Patriot, IRIS-T, {term: PVO, case: true, weight: 3}]   # language-neutral
          en: ["air defen*": 3, interceptor*]
          uk: [ППО: 3, протиповітрян*: 3]
        all:                          # optional: every group must have a hit (its terms also score)
          - TERMSET
        any:                          # optional: at least one of these groups must have a hit
          - TERMSET
        near:                         # optional proximity clauses, scored like terms
          - {near: [TERMS, TERMS], within: 4, weight: 3}
          - {near: [TERMS, TERMS], within: 6, weight: 3, requires: TERMSET}  # counts only in an
                                      # article that has one of `requires` anywhere (not scored)
        conditional:                  # optional: terms that score only in an article that also has
          - {terms: TERMSET, requires: TERMSET}   # one of `requires` anywhere (not scored)
        not:                          # optional vetoes
          - {terms: TERMSET}                # anywhere in the article: the topic is vetoed
          - {terms: TERMSET, within: 12}    # contextual: topic hits within 12 words are discarded

    TERMSET = mapping {LANG: [TERM, ...]} with LANG in en, fr, de, pl, ru, uk or `any`
              (language-neutral), or a plain list [TERM, ...] (language-neutral), or a list of such
              mappings, their union ([*russia_named, {en: ["european union"]}]: one anchor widened
              without copying it).
    TERMS   = a TERMSET, a list of terms, or a single term.
    TERM    = "word" | "a phrase" | "prefix*" | "multi* word*"   (weight 1)
            | {"air defence": 3}                                   (weight 3)
            | {term: "PVO", weight: 3, case: true}                 (case: match capitals as written)

A trailing ``*`` on a word matches any continuation of that word (inflections: ``санкці*`` matches
санкції, санкціями, санкційний); the stem must keep at least 3 characters. A phrase matches
consecutive tokens. ``case: true`` terms are matched with accents folded but case kept, for acronyms
that are ordinary words in lower case.

Score: for every term, ``weight × Σ_field field_weight × min(count_in_field, max_hits)``; a near
clause scores the same way per field with the number of close pairs. Vetoed hits do not count. All
languages' vocabularies apply to every article (the declared language is not trusted to restrict
them: short texts are often mis-detected, and word-boundary matching keeps false friends rare).

Implementation: every term's leading words (up to and including the first ``*``) become one pattern
``" w1 w2"`` (plus a trailing space for an exact end) in one Aho-Corasick automaton built once per
rule file; the automaton runs over ``" " + " ".join(tokens) + " "`` for each field, and any words
after the first ``*`` are verified on the following tokens. Case-sensitive terms are found the same
way and then checked against the case-kept tokens of that field (computed only when such a term hit),
so every field is folded and scanned exactly once whatever the rules. The stream is
``ingest.text.token_stream`` (whole-string and numpy operations; tests check it against ``tokens``).
Evaluation looks only at each topic's own found terms (grouped once per document), not at every term
of its clauses, and token positions are counted from the nearest position already known.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick_rs
import structlog
import yaml

from ingest.automaton import ByteAutomaton
from ingest.model import TermHit, TextInput, TopicMatch
from ingest.text import plain_speedups, token_stream
from newswatch.errors import RuleError

LANGUAGES = ("en", "fr", "de", "pl", "ru", "uk")
TERM_LANGUAGES = (*LANGUAGES, "any")
FIELDS = ("title", "summary", "content")
WEIGHTED_FIELDS = ("title", "summary", "lede", "content")  # lede: the first `lede_chars` of content
DEFAULT_FIELD_WEIGHTS = {"title": 3.0, "summary": 2.0, "lede": 2.0, "content": 1.0}
MIN_STEM = 3

_OPTIONS = ("threshold", "max_hits", "within", "field_weights", "decay", "lede_chars", "length_ref")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# A decimal comma between digits ("1,5 mln", "2,5 млрд", en "1,500") becomes a dot before tokenising, so a
# number is one word as "1.5" is: split in two it pushed the noun after it out of a `near` window in the
# languages that write decimal commas ("dostarczyła 1,5 mln pocisków" vs "delivered 1.5 million shells").
# Same length, so character offsets (lede) do not move. The literal ',' first keeps the scan ~1 µs per 2 KB.
_DECIMAL_COMMA = re.compile(r",(?<=\d,)(?=\d)")
# Runs of characters that are not part of a token (see ingest.text._WORD_RE: a dot is kept only
# between two word characters). Replacing them by one space gives exactly " ".join(tokens(text)).

log = structlog.get_logger(__name__)


# --------------------------------------------------------------------------------------------
# Rule model


@dataclass(frozen=True, slots=True)
class Term:
    """One vocabulary entry as the analyst wrote it, and its folded word units."""

    text: str
    units: tuple[tuple[str, bool], ...]  # (folded word, is_prefix)
    weight: float
    case: bool
    language: str
    line: int


@dataclass(frozen=True, slots=True)
class NearClause:
    left: tuple[Term, ...]
    right: tuple[Term, ...]
    within: int
    weight: float
    line: int
    requires: tuple[Term, ...] = ()  # the clause counts only if one of these is in the article


@dataclass(frozen=True, slots=True)
class NotClause:
    terms: tuple[Term, ...]
    within: int | None  # None: veto the topic anywhere; else discard topic hits this close
    line: int


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    labels: dict[str, str]
    description: str
    threshold: float
    max_hits: int
    field_weights: dict[str, float]
    terms: tuple[Term, ...]
    all_groups: tuple[tuple[Term, ...], ...]
    any_groups: tuple[tuple[Term, ...], ...]
    near: tuple[NearClause, ...]
    not_clauses: tuple[NotClause, ...]
    line: int
    decay: float = 1.0
    lede_chars: int = 0
    length_ref: int = 0
    # (terms, requires): the terms score only when one of ``requires`` is found in the article
    conditional: tuple[tuple[tuple[Term, ...], tuple[Term, ...]], ...] = ()

    def all_terms(self) -> Iterator[Term]:
        yield from self.terms
        for scored, requires in self.conditional:
            yield from scored
            yield from requires
        for g in (*self.all_groups, *self.any_groups):
            yield from g
        for n in self.near:
            yield from n.left
            yield from n.right
            yield from n.requires
        for c in self.not_clauses:
            yield from c.terms


# --------------------------------------------------------------------------------------------
# Folding helpers (ingest.text does the folding)


class _FoldTable:
    """Which folding a stream uses: case folded (the default) or kept (case-sensitive acronyms)."""

    def __init__(self, keep_case: bool) -> None:
        self.keep_case = keep_case


_FOLDED = _FoldTable(keep_case=False)


def _stream(text: str, table: _FoldTable) -> str:
    """``" " + " ".join(tokens(text)) + " "`` (case kept if the table says so): ``ingest.text`` does
    the folding (``token_stream``), so tagging and search can never disagree on a token."""
    return token_stream(text, keep_case=table.keep_case)


def _units(text: str, keep_case: bool) -> tuple[tuple[str, bool], ...]:
    table = _FoldTable(keep_case)
    out: list[tuple[str, bool]] = []
    for raw in text.split():
        prefix = raw.endswith("*")
        words = _stream(raw.rstrip("*"), table).split()
        for i, w in enumerate(words):
            out.append((w, prefix and i == len(words) - 1))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Loading: YAML nodes -> Topic, with line numbers


class _Loader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.current = ""
        self._ctor = yaml.constructor.SafeConstructor()

    def err(self, node: yaml.Node | None, reason: str) -> RuleError:
        line = node.start_mark.line + 1 if node is not None else 0
        where = f"{self.source}:{line}"
        return RuleError(
            f"{where}: topic {self.current!r}: {reason}" if self.current else f"{where}: {reason}"
        )

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.err(node, f"{what} must be a single value")
        return self._ctor.construct_object(node)

    def string(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if isinstance(value, bool) or value is None:
            raise self.err(node, f"{what} must be text, got {value!r}")
        return str(value)

    def number(self, node: yaml.Node, what: str, minimum: float = 0.0) -> float:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.err(node, f"{what} must be a number, got {value!r}")
        if value < minimum:
            raise self.err(node, f"{what} must be >= {minimum:g}, got {value!r}")
        return float(value)

    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.err(node, f"{what} must be a mapping")
        allowed = tuple(allowed)
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = self.string(k, f"key in {what}")
            if key not in allowed:
                raise self.err(k, f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})")
            if key in out:
                raise self.err(k, f"duplicate key {key!r} in {what}")
            out[key] = v
        return out

    def seq(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.err(node, f"{what} must be a list")
        return list(node.value)

    # -- terms

    def term(self, node: yaml.Node, language: str) -> Term:
        weight, case, text_node = 1.0, False, node
        if isinstance(node, yaml.MappingNode):
            keys = [self.string(k, "term key") for k, _ in node.value]
            if "term" in keys:
                m = self.mapping(node, "term", ("term", "weight", "case"))
                text_node = m["term"]
                if "weight" in m:
                    weight = self.number(m["weight"], "term weight")
                if "case" in m:
                    flag = self.scalar(m["case"], "case")
                    if not isinstance(flag, bool):
                        raise self.err(m["case"], f"case must be true or false, got {flag!r}")
                    case = flag
            elif len(node.value) == 1:
                text_node = node.value[0][0]
                weight = self.number(node.value[0][1], f"weight of {keys[0]!r}")
            else:
                raise self.err(node, 'a term is a string, {"text": weight} or {term: .., weight: ..}')
        text = self.string(text_node, "term").strip()
        if not text:
            raise self.err(text_node, "empty term")
        for raw in text.split():
            if "*" in raw.rstrip("*") or raw.endswith("**"):
                raise self.err(text_node, f"term {text!r}: '*' is only allowed once, at the end of a word")
        units = _units(text, keep_case=case)
        if not units:
            raise self.err(text_node, f"term {text!r} has no word characters")
        for word, prefix in units:
            if prefix and len(word) < MIN_STEM:
                raise self.err(
                    text_node, f"term {text!r}: prefix {word!r}* is shorter than {MIN_STEM} characters"
                )
        return Term(text, units, weight, case, language, text_node.start_mark.line + 1)

    def term_list(self, node: yaml.Node, language: str) -> list[Term]:
        if isinstance(node, yaml.ScalarNode):
            return [self.term(node, language)]
        return [self.term(n, language) for n in self.seq(node, f"{language} terms")]

    def termset(self, node: yaml.Node, what: str) -> tuple[Term, ...]:
        """A mapping of language -> terms, a list of such mappings (their union), a list of terms, or a
        single term (language-neutral)."""
        out: list[Term]
        if (
            isinstance(node, yaml.SequenceNode)
            and node.value
            and all(isinstance(n, yaml.MappingNode) and not self._looks_like_term(n) for n in node.value)
        ):
            out = [t for n in node.value for t in self.termset(n, what)]
        elif isinstance(node, yaml.MappingNode) and not self._looks_like_term(node):
            out = []
            for lang, terms in self.mapping(node, what, TERM_LANGUAGES).items():
                out.extend(self.term_list(terms, lang))
        else:
            out = self.term_list(node if not isinstance(node, yaml.MappingNode) else _as_seq(node), "any")
        if not out:
            raise self.err(node, f"{what} has no terms")
        # The same word in two languages (en/fr "sanctions") is one term: keep the heaviest.
        unique: dict[tuple[tuple[tuple[str, bool], ...], bool], Term] = {}
        for term in out:
            key = (term.units, term.case)
            if key not in unique or term.weight > unique[key].weight:
                unique[key] = term
        return tuple(unique.values())

    def _looks_like_term(self, node: yaml.MappingNode) -> bool:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if "term" in keys:
            return True
        # {"air defence": 3} is a term; {xx: [..]} is a (mistyped) language mapping.
        return (
            len(node.value) == 1
            and keys[0] not in TERM_LANGUAGES
            and isinstance(node.value[0][1], yaml.ScalarNode)
        )

    # -- topics

    def defaults(self, node: yaml.Node | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "threshold": 2.0,
            "max_hits": 3,
            "within": 6,
            "field_weights": dict(DEFAULT_FIELD_WEIGHTS),
            "decay": 1.0,
            "lede_chars": 0,
            "length_ref": 0,
        }
        if node is None:
            return out
        m = self.mapping(node, "defaults", _OPTIONS)
        self.overrides(m, out)
        return out

    def overrides(self, m: dict[str, yaml.Node], out: dict[str, Any]) -> None:
        if "threshold" in m:
            out["threshold"] = self.number(m["threshold"], "threshold", minimum=0.000001)
        if "max_hits" in m:
            out["max_hits"] = int(self.number(m["max_hits"], "max_hits", minimum=1))
        if "within" in m:
            out["within"] = int(self.number(m["within"], "within", minimum=1))
        if "decay" in m:
            out["decay"] = self.number(m["decay"], "decay", minimum=0.000001)
            if out["decay"] > 1:
                raise self.err(m["decay"], f"decay must be <= 1, got {out['decay']:g}")
        if "lede_chars" in m:
            out["lede_chars"] = int(self.number(m["lede_chars"], "lede_chars"))
        if "length_ref" in m:
            out["length_ref"] = int(self.number(m["length_ref"], "length_ref"))
        if "field_weights" in m:
            fw = dict(out["field_weights"])
            for k, v in self.mapping(m["field_weights"], "field_weights", WEIGHTED_FIELDS).items():
                fw[k] = self.number(v, f"field weight {k}")
            out["field_weights"] = fw

    def topic(self, node: yaml.Node, defaults: dict[str, Any]) -> Topic:
        self.current = ""
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "id" and isinstance(v, yaml.ScalarNode):
                    self.current = str(v.value)
        allowed = (
            "id",
            "labels",
            "description",
            *_OPTIONS,
            "terms",
            "all",
            "any",
            "near",
            "not",
            "conditional",
        )
        m = self.mapping(node, "topic", allowed)
        if "id" not in m:
            raise self.err(node, "topic without id")
        tid = self.string(m["id"], "id")
        if not _ID_RE.match(tid):
            raise self.err(m["id"], f"id {tid!r} must be lower-case letters, digits and '-'")
        opts = dict(defaults)
        self.overrides(m, opts)
        labels = {}
        if "labels" in m:
            for k, v in self.mapping(m["labels"], "labels", LANGUAGES).items():
                labels[k] = self.string(v, f"label {k}")
        description = self.string(m["description"], "description") if "description" in m else ""
        terms = self.termset(m["terms"], "terms") if "terms" in m else ()
        all_groups = (
            tuple(self.termset(g, "all group") for g in self.seq(m["all"], "all")) if "all" in m else ()
        )
        any_groups = (
            tuple(self.termset(g, "any group") for g in self.seq(m["any"], "any")) if "any" in m else ()
        )
        near = tuple(self.near(n, opts["within"]) for n in self.seq(m["near"], "near")) if "near" in m else ()
        nots = self.nots(m["not"]) if "not" in m else ()
        conditional = (
            tuple(self.conditional(c) for c in self.seq(m["conditional"], "conditional"))
            if "conditional" in m
            else ()
        )
        if not (terms or all_groups or any_groups or near or conditional):
            raise self.err(
                node, "topic has no terms, all, any, near or conditional clauses: it could never match"
            )
        return Topic(
            tid,
            labels,
            description,
            opts["threshold"],
            opts["max_hits"],
            opts["field_weights"],
            terms,
            all_groups,
            any_groups,
            near,
            nots,
            node.start_mark.line + 1,
            opts["decay"],
            opts["lede_chars"],
            opts["length_ref"],
            conditional,
        )

    def conditional(self, node: yaml.Node) -> tuple[tuple[Term, ...], tuple[Term, ...]]:
        m = self.mapping(node, "conditional clause", ("terms", "requires"))
        if "terms" not in m or "requires" not in m:
            raise self.err(node, "conditional clause needs `terms:` and `requires:`")
        return self.termset(m["terms"], "conditional terms"), self.termset(m["requires"], "requires")

    def near(self, node: yaml.Node, default_within: int) -> NearClause:
        m = self.mapping(node, "near clause", ("near", "within", "weight", "requires"))
        if "near" not in m:
            raise self.err(node, "near clause needs `near: [A, B]`")
        sides = self.seq(m["near"], "near")
        if len(sides) != 2:
            raise self.err(m["near"], f"near needs exactly two term lists, got {len(sides)}")
        within = int(self.number(m["within"], "within", minimum=1)) if "within" in m else default_within
        weight = self.number(m["weight"], "near weight") if "weight" in m else 1.0
        return NearClause(
            self.termset(sides[0], "near"),
            self.termset(sides[1], "near"),
            within,
            weight,
            node.start_mark.line + 1,
            self.termset(m["requires"], "requires") if "requires" in m else (),
        )

    def nots(self, node: yaml.Node) -> tuple[NotClause, ...]:
        if isinstance(node, yaml.MappingNode) and not any(
            isinstance(k, yaml.ScalarNode) and k.value == "terms" for k, _ in node.value
        ):
            return (NotClause(self.termset(node, "not"), None, node.start_mark.line + 1),)
        items = [node] if isinstance(node, yaml.MappingNode) else self.seq(node, "not")
        out = []
        for item in items:
            m = self.mapping(item, "not clause", ("terms", "within"))
            if "terms" not in m:
                raise self.err(item, "not clause needs `terms:`")
            within = int(self.number(m["within"], "within", minimum=1)) if "within" in m else None
            out.append(NotClause(self.termset(m["terms"], "not terms"), within, item.start_mark.line + 1))
        return tuple(out)

    def document(self, text: str) -> tuple[dict[str, Any], list[Topic]]:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            raise RuleError(f"{self.source}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
        if root is None:
            raise RuleError(f"{self.source}:1: empty rule file")
        m = self.mapping(root, "rule file", ("version", "defaults", "topics"))
        if "version" in m and self.scalar(m["version"], "version") != 1:
            raise self.err(m["version"], "only version 1 is supported")
        defaults = self.defaults(m.get("defaults"))
        if "topics" not in m:
            raise self.err(root, "no `topics:` list")
        topics: list[Topic] = []
        seen: dict[str, int] = {}
        for tnode in self.seq(m["topics"], "topics"):
            t = self.topic(tnode, defaults)
            if t.id in seen:
                raise self.err(tnode, f"duplicate topic id (first defined at line {seen[t.id]})")
            seen[t.id] = t.line
            topics.append(t)
        self.current = ""
        return defaults, topics


def _as_seq(node: yaml.MappingNode) -> yaml.SequenceNode:
    return yaml.SequenceNode("tag:yaml.org,2002:seq", [node], node.start_mark, node.end_mark)


# --------------------------------------------------------------------------------------------
# Compiled matcher

# One automaton pattern stands for one or more entries:
# (term index, anchor ends with a prefix word, words left to verify, case-kept words to verify).
_Entry = tuple[int, bool, tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]
# A hit while scanning: field index (0 title, 1 summary, 2 content) and character offset in the stream.
_Occ = list[tuple[int, int]]


@dataclass(slots=True)
class _Automaton:
    patterns: list[str] = field(default_factory=list)
    entries: list[list[_Entry]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    ac: ByteAutomaton | None = None

    def add(
        self, term_id: int, units: tuple[tuple[str, bool], ...], cased: tuple[tuple[str, bool], ...] = ()
    ) -> None:
        n = 0
        for n, (_w, prefix) in enumerate(units, start=1):  # noqa: B007
            if prefix:
                break
        anchor = units[:n]
        prefix_end = anchor[-1][1]
        pattern = " " + " ".join(w for w, _ in anchor) + ("" if prefix_end else " ")
        if pattern not in self.index:
            self.index[pattern] = len(self.patterns)
            self.patterns.append(pattern)
            self.entries.append([])
        self.entries[self.index[pattern]].append((term_id, prefix_end, units[n:], cased))

    def build(self) -> None:
        if self.patterns:
            standard = ahocorasick_rs.MatchKind.Standard
            self.ac = ByteAutomaton(self.patterns, matchkind=standard, overlapping=True)

    def find(self, hay: str) -> list[tuple[int, int, int]]:
        """(pattern index, start, end) of every pattern occurrence in ``hay``, in character offsets."""
        return [] if self.ac is None else self.ac.find(hay)


def _words_at(toks: list[str], position: int, words: tuple[tuple[str, bool], ...]) -> bool:
    if position + len(words) > len(toks):
        return False
    for tok, (word, prefix) in zip(toks[position:], words, strict=False):
        if not (tok.startswith(word) if prefix else tok == word):
            return False
    return True


def _words_from(stream: str, pos: int, words: tuple[tuple[str, bool], ...]) -> bool:
    """Whether the tokens after the space at ``pos`` of a token stream are ``words`` (word, prefix)."""
    for word, prefix in words:
        if pos < 0:
            return False
        nxt = stream.find(" ", pos + 1)
        if nxt < 0:
            return False
        tok = stream[pos + 1 : nxt]
        if not (tok.startswith(word) if prefix else tok == word):
            return False
        pos = nxt
    return True


def _tail_ok(hay: str, end: int, prefix_end: bool, tail: tuple[tuple[str, bool], ...]) -> bool:
    return _words_from(hay, hay.find(" ", end) if prefix_end else end - 1, tail)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A topic's clauses as term indexes, so evaluation never touches Term objects."""

    index: int
    topic: Topic
    terms: tuple[tuple[int, float], ...]  # scored: (term index, weight)
    all_groups: tuple[tuple[int, ...], ...]
    any_groups: tuple[tuple[int, ...], ...]
    # per clause: left, right, within, weight, and the terms one of which must be found (empty: none)
    near: tuple[tuple[tuple[int, ...], tuple[int, ...], int, float, frozenset[int]], ...]
    veto: frozenset[int]  # global vetoes
    context_veto: tuple[tuple[frozenset[int], int], ...]  # (veto terms, within)
    fw: tuple[float, float, float, float]  # title, summary, lede, content
    gains: tuple[float, ...]  # gains[c]: value of c mentions in one field (diminishing returns)
    # term index -> (rank in ``terms``, term index, weight), first occurrence only: evaluation walks
    # the document's few found terms in ``terms`` order instead of every term of the topic.
    term_rank: dict[int, tuple[int, int, float]]
    # The same for the clauses, which are as long as the analyst made them: evaluation only looks at
    # the topic's terms found in the document (``Tagger.tag`` groups them by topic) and puts them back
    # in clause order where the order matters (near clauses).
    near_order: tuple[tuple[dict[int, int], dict[int, int]], ...]  # per clause: tid -> index, left/right
    # the terms that can score (a topic with none of them found is not evaluated) and whose places a
    # contextual veto can discard
    scored_or_near: frozenset[int]
    # every term of the contextual vetoes: a document with none of them skips that loop (most
    # documents: one set test instead of a pass per clause)
    context_veto_terms: frozenset[int]
    # term index -> the near clauses (indexes) with it on their left side, and per clause its right
    # side's terms: only a clause with a found term on each side can fire
    near_left_of: dict[int, tuple[int, ...]]
    near_right: tuple[frozenset[int], ...]
    # conditional terms: term index -> the terms one of which must be found for it to score
    term_requires: dict[int, frozenset[int]]


# Length for ``length_ref`` is counted in characters of the folded content, in words of 5.7
# characters (English's mean: English texts scale as before). Counting words made a Ukrainian or
# Polish text (fewer, longer words) look ~20 % shorter than its English translation, so the same
# single mention weighed more in uk than in en: parallel items disagreed.
_CHARS_PER_WORD = 5.7


class _Scan:
    """The streams and hits of one document; token positions are computed only when asked for."""

    __slots__ = ("_aligned", "_cased", "_known", "_positions", "found", "hays", "texts")

    def __init__(self, texts: tuple[str, str, str]) -> None:
        self.texts = texts
        self.hays: list[str] = ["", "", ""]
        self.found: dict[int, _Occ] = {}
        self._positions: dict[tuple[int, int], int] = {}
        self._known: tuple[tuple[list[int], list[int]], ...] = (([], []), ([], []), ([], []))
        self._cased: dict[int, list[str]] = {}
        self._aligned: dict[int, str] = {}

    def position(self, fidx: int, offset: int) -> int:
        key = (fidx, offset)
        pos = self._positions.get(key)
        if pos is None:
            # Spaces before ``offset``, counted from the nearest offset already known before it (a
            # long text with many hits is then counted about once, not once per hit).
            offsets, positions = self._known[fidx]
            i = bisect.bisect_right(offsets, offset)
            start, base = (offsets[i - 1], positions[i - 1]) if i else (0, 0)
            pos = self._positions[key] = base + self.hays[fidx].count(" ", start, offset)
            offsets.insert(i, offset)
            positions.insert(i, pos)
        return pos

    def cased_ok(self, fidx: int, offset: int, words: tuple[tuple[str, bool], ...]) -> bool:
        """Whether the case-kept words at ``offset`` of field ``fidx`` are ``words`` (case-sensitive)."""
        stream = self._aligned.get(fidx)
        if stream is None:
            # The case-kept stream, once per field. If it lines up character for character with the
            # folded one (its casefold is the folded stream: nothing expanded, spaces at the same
            # offsets), the words are read at the match's offset; else (ß, İ) from its token list.
            stream = token_stream(self.texts[fidx], keep_case=True)
            hay = self.hays[fidx]
            if len(stream) != len(hay) or stream.casefold() != hay:
                self._cased[fidx] = stream.split()
                stream = ""
            self._aligned[fidx] = stream
        if stream:
            return _words_from(stream, offset, words)  # ``offset``: the space before the first word
        return _words_at(self._cased[fidx], self.position(fidx, offset), words)


class Tagger:
    """Topic rules compiled into one Aho-Corasick automaton. Immutable and thread-safe to share."""

    def __init__(self, topics: list[Topic], source: str = "<string>") -> None:
        self.source = source
        self._topics = tuple(topics)
        self._terms: list[Term] = []
        term_topics: list[set[int]] = []
        term_ids: dict[int, int] = {}
        self._auto = _Automaton()
        for ti, topic in enumerate(self._topics):
            for term in topic.all_terms():
                if id(term) in term_ids:
                    term_topics[term_ids[id(term)]].add(ti)
                    continue
                tid = len(self._terms)
                term_ids[id(term)] = tid
                self._terms.append(term)
                term_topics.append({ti})
                if term.case:
                    # Found on the folded stream like every term, then checked against the case-kept
                    # tokens of that field: one scan per field whatever the rules.
                    self._auto.add(tid, _units(term.text, keep_case=False), term.units)
                else:
                    self._auto.add(tid, term.units)
        self._auto.build()
        # The scan loop over the automaton's matches in C where ``ingest._speedups`` is built (the same
        # ``found``, in the same order: tests compare both paths), else the loop in ``_scan``.
        speedups = plain_speedups()
        self._collect: Any = getattr(speedups, "collect_hits", None)
        self._term_topics = tuple(tuple(sorted(s)) for s in term_topics)
        self._compiled = tuple(self._compile(i, t, term_ids) for i, t in enumerate(self._topics))

    @staticmethod
    def _compile(index: int, topic: Topic, ids: dict[int, int]) -> _Compiled:
        def tids(terms: Iterable[Term]) -> tuple[int, ...]:
            return tuple(ids[id(t)] for t in terms)

        scored = [
            *topic.terms,
            *(t for g in (*topic.all_groups, *topic.any_groups) for t in g),
            *(t for c, _r in topic.conditional for t in c),
        ]
        term_requires: dict[int, frozenset[int]] = {}
        for group, requires in topic.conditional:
            required = frozenset(tids(requires))  # one set per clause, shared by its terms
            term_requires.update(dict.fromkeys(tids(group), required))
        fw = topic.field_weights
        lede = fw.get("lede", DEFAULT_FIELD_WEIGHTS["lede"]) if topic.lede_chars else fw["content"]
        gains = [0.0]
        for k in range(topic.max_hits):
            gains.append(gains[-1] + topic.decay**k)
        # strongest first: where several terms match at one place, only the strongest counts
        terms = tuple(sorted(((ids[id(t)], t.weight) for t in scored), key=lambda x: -x[1]))
        term_rank: dict[int, tuple[int, int, float]] = {}
        for rank, (tid, weight) in enumerate(terms):
            term_rank.setdefault(tid, (rank, tid, weight))
        near = tuple(
            (tids(n.left), tids(n.right), n.within, n.weight, frozenset(tids(n.requires))) for n in topic.near
        )
        context_veto = tuple(
            (frozenset(tids(c.terms)), c.within) for c in topic.not_clauses if c.within is not None
        )

        clauses_of: dict[int, list[int]] = {}
        for c, n in enumerate(near):
            for tid in dict.fromkeys(n[0]):
                clauses_of.setdefault(tid, []).append(c)
        near_left_of = {tid: tuple(cs) for tid, cs in clauses_of.items()}

        def order(side: tuple[int, ...]) -> dict[int, int]:
            out: dict[int, int] = {}
            for i, tid in enumerate(side):
                out.setdefault(tid, i)
            return out

        return _Compiled(
            index,
            topic,
            terms,
            tuple(tids(g) for g in topic.all_groups),
            tuple(tids(g) for g in topic.any_groups),
            near,
            frozenset(i for c in topic.not_clauses if c.within is None for i in tids(c.terms)),
            context_veto,
            (fw["title"], fw["summary"], lede, fw["content"]),
            tuple(gains),
            term_rank,
            tuple((order(left), order(right)) for left, right, *_rest in near),
            frozenset(t for t, _w in terms) | frozenset(t for n in near for side in n[:2] for t in side),
            frozenset(t for vset, _within in context_veto for t in vset),
            near_left_of,
            tuple(frozenset(n[1]) for n in near),
            term_requires,
        )

    # -- construction

    @classmethod
    def from_yaml(cls, text: str, source: str = "<string>") -> Tagger:
        _defaults, topics = _Loader(source).document(text)
        return cls(topics, source)

    @classmethod
    def from_file(cls, path: Path) -> Tagger:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError(f"{path}:0: cannot read rule file: {exc}") from exc
        return cls.from_yaml(text, str(path))

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self._topics)

    @property
    def topics(self) -> tuple[Topic, ...]:
        return self._topics

    @property
    def term_count(self) -> int:
        return len(self._terms)

    def subset(self, topic_ids: Iterable[str]) -> Tagger:
        wanted = set(topic_ids)
        return Tagger([t for t in self._topics if t.id in wanted], self.source)

    # -- matching

    def _scan(self, doc: TextInput) -> _Scan:
        sub = _DECIMAL_COMMA.sub
        texts = (sub(".", doc.title or ""), sub(".", doc.summary or ""), sub(".", doc.content or ""))
        scan = _Scan(texts)
        auto = self._auto
        if auto.ac is None:
            return scan
        entries = auto.entries
        found = scan.found
        collect = self._collect
        for fidx, text in enumerate(texts):
            if not text:
                continue
            hay = scan.hays[fidx] = _stream(text, _FOLDED)
            if collect is not None:
                collect(auto.find(hay), entries, hay, fidx, found, scan.cased_ok)
                continue
            for pidx, start, end in auto.find(hay):
                for tid, prefix_end, tail, cased in entries[pidx]:
                    if tail and not _tail_ok(hay, end, prefix_end, tail):
                        continue
                    if cased and not scan.cased_ok(fidx, start, cased):
                        continue
                    occ = found.get(tid)
                    if occ is None:
                        found[tid] = [(fidx, start)]
                    else:
                        occ.append((fidx, start))
        return scan

    def hits(self, doc: TextInput) -> dict[int, list[tuple[str, int, int]]]:
        """Term index -> [(field, start token, end token)] for every term occurrence in ``doc``."""
        scan = self._scan(doc)
        out: dict[int, list[tuple[str, int, int]]] = {}
        for tid, occ in scan.found.items():
            n = len(self._terms[tid].units)
            out[tid] = [(FIELDS[f], p := scan.position(f, o), p + n) for f, o in occ]
        return out

    def tag(self, doc: TextInput, language: str | None = None) -> tuple[TopicMatch, ...]:
        """Topics of ``doc``, best first. ``language`` is accepted but every vocabulary applies."""
        del language
        scan = self._scan(doc)
        if not scan.found:
            return ()
        # Found terms grouped by topic (in ``found`` order): each topic then looks only at its own.
        by_topic: dict[int, list[int]] = {}
        term_topics = self._term_topics
        for tid in scan.found:
            for ti in term_topics[tid]:
                local = by_topic.get(ti)
                if local is None:
                    by_topic[ti] = [tid]
                else:
                    local.append(tid)
        compiled = self._compiled
        # A topic whose found terms are only vetoes (or other context) cannot reach its threshold: a
        # score needs a scored or near term, so it is not evaluated at all.
        out = [
            m
            for ti in sorted(by_topic)
            if not compiled[ti].scored_or_near.isdisjoint(by_topic[ti])
            and (m := self._evaluate(compiled[ti], scan, by_topic[ti])) is not None
        ]
        out.sort(key=lambda m: (-m.score, m.id))
        return tuple(out)

    def _evaluate(self, ct: _Compiled, scan: _Scan, local: list[int]) -> TopicMatch | None:
        """Score one topic; ``local``: the topic's terms found in the document (any clause)."""
        found = scan.found
        if not ct.veto.isdisjoint(local):
            return None
        dead: set[tuple[int, int]] = set()
        if not ct.context_veto_terms.isdisjoint(local):
            # Contextual vetoes need token positions of every place, the costliest part; they only
            # take evidence away. So first a bound: the score with no place vetoed and near clauses
            # using up no place (each clause then counts at least what it counts for real). Most
            # topics stop here, below their threshold.
            if self._score(ct, scan, local, dead, consume=False) is None:
                return None
            dead = self._dead(ct, scan, local)
        scored = self._score(ct, scan, local, dead, consume=True)
        if scored is None:
            return None
        score, matched, near_hits = scored
        # Passed: only now build the evidence (token positions, TermHit objects).
        hits = list(near_hits)
        for tid in matched:
            term = self._terms[tid]
            for f, o in found[tid]:
                if not (dead and (f, o) in dead):
                    hits.append(TermHit(term.text, FIELDS[f], scan.position(f, o), term.weight))
        hits.sort(key=lambda h: (FIELDS.index(h.field), h.position))
        terms: dict[str, None] = {}
        for h in hits:
            terms[h.term] = None
        return TopicMatch(ct.topic.id, round(score, 3), tuple(terms), tuple(hits))

    @staticmethod
    def _dead(ct: _Compiled, scan: _Scan, local: list[int]) -> set[tuple[int, int]]:
        """The places (field, offset) of scored or near terms that a contextual veto discards."""
        found = scan.found
        dead: set[tuple[int, int]] = set()
        for vset, within in ct.context_veto:
            vocc = [(f, scan.position(f, o)) for t in local if t in vset for f, o in found[t]]
            if not vocc:
                continue
            # (every place of a scored or near term; ``dead`` is a set, so the order is free)
            for tid in local:
                if tid not in ct.scored_or_near:
                    continue
                for f, o in found[tid]:
                    p = scan.position(f, o)
                    if any(vf == f and abs(vp - p) <= within for vf, vp in vocc):
                        dead.add((f, o))
        return dead

    def _score(
        self, ct: _Compiled, scan: _Scan, local: list[int], dead: set[tuple[int, int]], *, consume: bool
    ) -> tuple[float, dict[int, None], list[TermHit]] | None:
        """The topic's score, scored terms and near hits when it reaches the threshold, else None.
        ``dead``: vetoed places; ``consume``: a near clause's paired left place is used up (else every
        clause counts on its own, which is never less: the bound ``_evaluate`` tries first)."""
        found = scan.found
        topic = ct.topic
        lede_chars = topic.lede_chars
        fw, gains, cap = ct.fw, ct.gains, len(ct.gains) - 1
        content_words = len(scan.hays[2]) / _CHARS_PER_WORD  # language-neutral "words"
        # A long text mentions many things in passing: body evidence (content beyond the lede) is
        # divided by sqrt(words / length_ref), so its weight tracks density rather than raw counts.
        body_scale = 1.0
        if topic.length_ref and content_words > topic.length_ref:
            body_scale = math.sqrt(topic.length_ref / content_words)
        score = 0.0
        matched: dict[int, None] = {}
        group_hit: set[int] = set()
        # One place in the text is one piece of evidence, however many terms match there (a
        # phrase and its stem, two languages' stems for the same word): strongest term wins.
        used: set[tuple[int, int]] = set()
        # Only the terms found in this document, in ``ct.terms`` order (a repeated term index scores
        # nothing the second time: its places are already used, so first occurrences suffice).
        rank = ct.term_rank
        present = sorted([r for t in local if (r := rank.get(t)) is not None])
        requires_of = ct.term_requires
        for _rank, tid, weight in present:
            occ = found[tid]
            if not occ:
                continue
            if requires_of and (req := requires_of.get(tid)) is not None and req.isdisjoint(local):
                continue
            counts = [0, 0, 0, 0]
            for f, o in occ:
                if (dead and (f, o) in dead) or (f, o) in used:
                    continue
                used.add((f, o))
                if f == 2 and o >= lede_chars:
                    counts[3] += 1
                else:
                    counts[f if f < 2 else 2] += 1
            if counts[0] or counts[1] or counts[2] or counts[3]:
                matched[tid] = None
                group_hit.add(tid)
                score += weight * (
                    fw[0] * gains[min(counts[0], cap)]
                    + fw[1] * gains[min(counts[1], cap)]
                    + fw[2] * gains[min(counts[2], cap)]
                    + fw[3] * gains[min(counts[3], cap)] * body_scale
                )
        for group in ct.all_groups:
            if not any(t in group_hit for t in group):
                return None
        if ct.any_groups and not any(t in group_hit for g in ct.any_groups for t in g):
            return None
        near_hits: list[TermHit] = []
        # only the clauses with a found term on each side can fire, visited in clause order
        left_of, right = ct.near_left_of, ct.near_right
        firing = sorted({c for t in local for c in left_of.get(t, ())}) if left_of else ()
        for c in firing:
            if right[c].isdisjoint(local):
                continue
            left_order, right_order = ct.near_order[c]
            _l, _r, within, weight, requires = ct.near[c]
            if requires and requires.isdisjoint(local):
                continue
            # the clause's found terms, in clause order (which decides what is used and reported); a left
            # place is used up only when it pairs (a clause that does not fire leaves it to the next one)
            lo = []
            claimed: set[tuple[int, int]] = set()
            for t in sorted([t for t in local if t in left_order], key=left_order.__getitem__):
                for f, o in found[t]:
                    if (f, o) not in used and (f, o) not in claimed and not (dead and (f, o) in dead):
                        claimed.add((f, o))
                        lo.append((t, f, o))
            if not lo:
                continue
            right_found = sorted([t for t in local if t in right_order], key=right_order.__getitem__)
            ro = [(t, f, o) for t in right_found for f, o in found[t] if not (dead and (f, o) in dead)]
            if not ro:
                continue
            counts = [0, 0, 0, 0]
            for lt, lf, lofs in lo:
                ls = scan.position(lf, lofs)
                le = ls + len(self._terms[lt].units)
                for rt, rf, rofs in ro:
                    if lf != rf:
                        continue
                    rs = scan.position(rf, rofs)
                    re_ = rs + len(self._terms[rt].units)
                    if rs - le > within or ls - re_ > within or (lt == rt and ls == rs):
                        continue
                    if consume:
                        used.add((lf, lofs))
                    counts[3 if lf == 2 and lofs >= lede_chars else lf] += 1
                    label = f"{self._terms[lt].text} ~{within} {self._terms[rt].text}"
                    near_hits.append(TermHit(label, FIELDS[lf], min(ls, rs), weight))
                    break
            score += weight * (
                fw[0] * gains[min(counts[0], cap)]
                + fw[1] * gains[min(counts[1], cap)]
                + fw[2] * gains[min(counts[2], cap)]
                + fw[3] * gains[min(counts[3], cap)] * body_scale
            )
        if score < topic.threshold or not (matched or near_hits):
            return None
        return score, matched, near_hits


# --------------------------------------------------------------------------------------------
# Reloading


class TaggerReloader:
    """Holds the Tagger for one rule file; ``get()`` rebuilds it when the file changes.

    An invalid new file is logged and the previous Tagger kept; the first load must succeed.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp = self._stat()
        self._tagger = Tagger.from_file(self.path)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def get(self) -> Tagger:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            self._stamp = stamp
            try:
                self._tagger = Tagger.from_file(self.path)
                log.info("topics_reloaded", path=str(self.path), topics=len(self._tagger.topic_ids))
            except RuleError as exc:
                log.error("topics_reload_failed", path=str(self.path), error=str(exc))
        return self._tagger
