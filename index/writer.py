"""Bulk writing of articles: deterministic ids, idempotent re-ingest, every per-document error reported.

How created / updated / unchanged is known without painless (see docs/decisions.md, "## Index"):

1. For each chunk, ``mget`` the ids with ``_source_includes=doc_fingerprint,first_indexed_at`` (realtime,
   so it sees writes not yet refreshed).
2. ``doc_fingerprint`` is a hash of the document without its volatile fields (``indexed_at``,
   ``first_indexed_at``, ``fetched_at``). Same fingerprint -> ``noop``: nothing is written, so ``indexed_at``
   (the alerts' watermark) does not move. Absent -> ``create`` op. Different -> ``index`` op guarded by
   ``if_seq_no``/``if_primary_term`` from the mget, carrying ``first_indexed_at`` over.
3. A version conflict (another writer got there between mget and bulk) re-plans those documents once.

Per-document failures come back in ``BulkReport.errors`` (id, url, status, type, reason); they are
never swallowed and never stop the rest of the batch.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, islice
from typing import Any

import orjson
import structlog
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from index.client import es_url, storage_errors
from ingest.model import Article
from ingest.text import fold, plain_speedups, tokens
from newswatch.errors import StorageUnavailable

log = structlog.get_logger(__name__)

# Bump when article_to_doc derives fields differently: every document then counts as changed once.
DOC_FORMAT = 1
VOLATILE_FIELDS = frozenset({"indexed_at", "first_indexed_at", "fetched_at", "doc_fingerprint"})

# Words glued by hyphens or apostrophes: « anti-aérienne », « l’OTAN », "e-mail".
_JOINERS = "-\u2010\u2011'\u2019\u02bc\u00ad"
# A compound starts where a word starts, so the look-behind changes no match; it only stops the engine
# from retrying (and backtracking over) every position inside every word, which made this quadratic in
# the word length (CJK runs of thousands of characters).
_COMPOUND_RE = re.compile(rf"(?<!\w)\w+(?:[{_JOINERS}]\w+)+", re.UNICODE)
# Fast path, valid when the text has no U+02BC (the one joiner that is also a word character, so that
# the pieces above may have to backtrack to find it): find each joint between two word characters (the
# pattern starts with a character set, which the engine scans for in a tight loop), step back to the
# start of its word, and take the chain of words and single joiners from there without backtracking.
_JOINT_RE = re.compile(rf"[{_JOINERS}](?<=\w.)(?=\w)", re.UNICODE)
_CHAIN_RE = re.compile(rf"\w++(?:[{_JOINERS}]\w++)+", re.UNICODE)
_MAX_COMPOUND_PARTS = 4


def iso(value: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_WORD_RUN = re.compile(r"\w*", re.UNICODE)


def _compound_chains(text: str) -> list[str]:
    """The matches of ``_COMPOUND_RE`` in ``text``, in order.

    Without U+02BC: each joint between two word characters is found by a character-set-first pattern;
    the start of the word before it is found by matching ``\\w*`` forwards in the reversed text (one
    C call instead of a Python step per character), no further back than the end of the previous
    chain; the chain is then taken from there without backtracking. Tests compare it with
    ``_compound_chains_definition`` and the regex.
    """
    plain = plain_speedups()
    if plain is not None:  # one C pass (ingest/_speedups.c); None: a U+02BC, the regex decides
        found: list[str] | None = plain.compound_chains(text, _JOINERS)
        if found is not None:
            return found
    return _compound_chains_py(text)


def _compound_chains_py(text: str) -> list[str]:
    """``_compound_chains`` in Python."""
    if "\u02bc" in text:
        return _COMPOUND_RE.findall(text)
    chains: list[str] = []
    pos = 0
    size = len(text)
    reverse = ""
    for joint in _JOINT_RE.finditer(text):
        start = joint.start()
        if start < pos:
            continue  # a later joint of the chain just taken
        if not reverse:
            reverse = text[::-1]
        # text[start - 1] is a word character (the joint's look-behind); text[start - 2], ... down to
        # text[pos] are reverse[size - start + 1], ... up to reverse[size - pos - 1].
        back = _WORD_RUN.match(reverse, size - start + 1, size - pos)
        start = start - 1 - (back.end() - back.start()) if back is not None else start - 1
        taken = _CHAIN_RE.match(text, start)
        if taken is None:  # cannot happen: word, joiner, word is a chain
            continue
        chains.append(taken.group(0))
        pos = taken.end()
    return chains


@lru_cache(maxsize=16384)
def _chain_joins(chain: str) -> tuple[str, ...]:
    """The glued forms of one compound (``a-b-c`` -> ``abc ab bc``); the same ones recur (``don't``)."""
    parts = tokens(chain)
    size = len(parts)
    if size < 2:
        return ()
    if size == 2:  # most compounds (don't, e-mail): the one span
        return (parts[0] + parts[1],)
    if size > _MAX_COMPOUND_PARTS:
        return ("".join(parts),)
    return tuple(["".join(parts[i:j]) for i in range(size) for j in range(i + 2, size + 1)])


def compounds(text: str) -> list[str]:
    """Folded, glued forms of hyphen/apostrophe compounds: ``anti-aérienne`` -> ``antiaerienne``.

    Chains of up to four parts also give their contiguous sub-joins (``a-b-c`` -> ``abc ab bc``).
    """
    # (first occurrences in order, as a seen-set loop gives them)
    return list(dict.fromkeys(chain.from_iterable(map(_chain_joins, _compound_chains(text)))))


def fingerprint(doc: dict[str, Any]) -> str:
    stable = {k: v for k, v in doc.items() if k not in VOLATILE_FIELDS}
    payload = json.dumps([DOC_FORMAT, stable], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _json_float(value: object) -> bool:
    """Whether orjson writes ``value`` as ``json.dumps`` does (not ``1e-07``/``1e16``/NaN/subclasses)."""
    return type(value) is not float or orjson.dumps(value) == float.__repr__(value).encode()


def _article_doc_fingerprint(doc: dict[str, Any], floats: Iterable[object]) -> str:
    """``fingerprint(doc)`` for a document built by ``article_to_doc``, whose only non-integer numbers
    are ``floats`` (topic scores and hit weights): the same bytes hashed, serialised by orjson (a third
    of ``json.dumps``'s time) when orjson writes them identically -- sorted keys, compact, UTF-8,
    the same escapes, and numbers checked here -- else (and for anything orjson refuses) by ``json``.
    """
    if all(map(_json_float, floats)):
        stable = {k: v for k, v in doc.items() if k not in VOLATILE_FIELDS}
        try:
            payload = orjson.dumps([DOC_FORMAT, stable], option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            return fingerprint(doc)
        return hashlib.sha256(payload).hexdigest()
    return fingerprint(doc)


def article_to_doc(article: Article, indexed_at: datetime) -> dict[str, Any]:
    """The Elasticsearch document of an article (pure). Adds folded fields and the fingerprint."""
    body = "\n".join(part for part in (article.summary, article.content) if part)
    doc: dict[str, Any] = {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "feed_url": article.feed_url,
        "guid": article.guid,
        "source": {"name": article.source.name, "domain": article.source.domain},
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "title_folded": fold(article.title),
        # == fold(body): folding is per character and "\n" folds to itself, and the tagger has just
        # folded (and cached) each part.
        "text_folded": "\n".join(fold(part) for part in (article.summary, article.content) if part),
        "title_compounds": " ".join(compounds(article.title)),
        "text_compounds": " ".join(compounds(body)),
        "tags_folded": list(
            dict.fromkeys(fold(v) for v in (*(e.name for e in article.entities), *article.topic_ids) if v)
        ),
        "authors": list(article.authors),
        "categories": list(article.categories),
        "image_url": article.image_url,
        "language": article.language,
        "content_hash": article.content_hash,
        "date_flags": list(article.date_flags),
        "published_at": iso(article.published_at) if article.published_at else None,
        "fetched_at": iso(article.fetched_at),
        # Without a story, an article is its own story (collapse must not merge all story-less ones).
        "story_id": article.story_id or article.id,
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
            for t in article.topics
        ],
        "entities": [
            {"id": e.id, "name": e.name, "kind": e.kind, "surface": e.surface} for e in article.entities
        ],
    }
    floats = [x for t in article.topics for x in (t.score, *(h.weight for h in t.hits))]
    doc["doc_fingerprint"] = _article_doc_fingerprint(doc, floats)
    if article.simhash:  # derived from the text: not part of the fingerprint
        doc["simhash"] = f"{article.simhash:016x}"
    doc["indexed_at"] = doc["first_indexed_at"] = iso(indexed_at)
    return doc


def bulk_actions(
    articles: Iterable[Article], alias: str, now: Callable[[], datetime]
) -> Iterator[dict[str, Any]]:
    """Plain ``index`` actions (no change detection) -- for reindexing and the baseline benchmark."""
    for article in articles:
        yield {
            "_op_type": "index",
            "_index": alias,
            "_id": article.id,
            "_source": article_to_doc(article, now()),
        }


@dataclass(frozen=True)
class BulkReport:
    """Counts of one ``write``. Each error: ``{"id", "url", "status", "type", "reason"}``."""

    created: int
    updated: int
    noop: int
    errors: tuple[dict[str, Any], ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def __add__(self, other: BulkReport) -> BulkReport:
        return BulkReport(
            self.created + other.created,
            self.updated + other.updated,
            self.noop + other.noop,
            self.errors + other.errors,
        )


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    noop: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> BulkReport:
        return BulkReport(self.created, self.updated, self.noop, tuple(self.errors))


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class BulkWriter:
    """Writes articles (or ready-made documents) to ``alias`` with change detection. Refresh: none."""

    def __init__(
        self,
        es: Elasticsearch,
        alias: str,
        chunk_size: int = 500,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.es = es
        self.alias = alias
        self.chunk_size = chunk_size
        self._now = now or (lambda: datetime.now(UTC))

    def write(self, articles: Iterable[Article]) -> BulkReport:
        return self.write_docs(article_to_doc(a, self._now()) for a in articles)

    def write_docs(self, docs: Iterable[dict[str, Any]]) -> BulkReport:
        """Write documents shaped like ``article_to_doc``'s (``id`` and ``doc_fingerprint`` required)."""
        tally = _Tally()
        for chunk in _chunks(docs, self.chunk_size):
            self._write_chunk(chunk, tally, retry_conflicts=True)
        report = tally.report()
        log.info(
            "index.bulk",
            alias=self.alias,
            created=report.created,
            updated=report.updated,
            noop=report.noop,
            errors=len(report.errors),
        )
        for err in report.errors[:20]:
            log.warning("index.bulk.error", alias=self.alias, **err)
        return report

    def _write_chunk(self, chunk: list[dict[str, Any]], tally: _Tally, retry_conflicts: bool) -> None:
        # The same id twice in one chunk: the last one wins, earlier ones count as unchanged.
        by_id: dict[str, dict[str, Any]] = {}
        for doc in chunk:
            if doc["id"] in by_id:
                tally.noop += 1
            by_id[doc["id"]] = doc
        existing = self._existing(list(by_id))
        actions: list[dict[str, Any]] = []
        for doc_id, doc in by_id.items():
            found = existing.get(doc_id)
            if found is not None and "error" in found:
                err = found["error"]
                tally.errors.append(
                    {"id": doc_id, "url": doc.get("url", ""), "op": "mget", "status": None, **err}
                )
                continue
            if found is None:
                actions.append({"_op_type": "create", "_index": self.alias, "_id": doc_id, "_source": doc})
                continue
            source = found.get("_source", {})
            if source.get("doc_fingerprint") == doc.get("doc_fingerprint"):
                tally.noop += 1
                continue
            if source.get("first_indexed_at"):
                doc = {**doc, "first_indexed_at": source["first_indexed_at"]}
            actions.append(
                {
                    "_op_type": "index",
                    "_index": self.alias,
                    "_id": doc_id,
                    "_source": doc,
                    "if_seq_no": found["_seq_no"],
                    "if_primary_term": found["_primary_term"],
                }
            )
        tally.conflicts = []
        self._execute(actions, by_id, tally)
        if tally.conflicts:
            if retry_conflicts:
                again = [by_id[c["id"]] for c in tally.conflicts]
                tally.conflicts = []
                self._write_chunk(again, tally, retry_conflicts=False)
            else:
                tally.errors.extend(tally.conflicts)
                tally.conflicts = []

    def _existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with storage_errors(self.es, f"mget on {self.alias}"):
            resp = self.es.mget(
                index=self.alias,
                ids=list(ids),
                source_includes=["doc_fingerprint", "first_indexed_at"],
            )
        out: dict[str, dict[str, Any]] = {}
        for item in resp.body["docs"]:
            error = item.get("error")
            if error:
                etype = error.get("type", "") if isinstance(error, dict) else ""
                reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
                if etype == "index_not_found_exception":
                    raise StorageUnavailable(
                        f"index {self.alias} is missing at {es_url(self.es)}: {reason}; "
                        "run `newswatch index init`"
                    )
                out[item["_id"]] = {"error": {"type": etype, "reason": reason}}
            elif item.get("found"):
                out[item["_id"]] = item
        return out

    def execute_actions(self, actions: Iterable[dict[str, Any]]) -> BulkReport:
        """Run raw bulk actions (no change detection) and report per-document results."""
        tally = _Tally()
        acts = list(actions)
        docs = {str(a.get("_id", "")): a.get("_source", {}) for a in acts}
        self._execute(acts, docs, tally)
        tally.errors.extend(tally.conflicts)
        return tally.report()

    def _execute(self, actions: list[dict[str, Any]], docs: dict[str, dict[str, Any]], tally: _Tally) -> None:
        if not actions:
            return
        with storage_errors(self.es, f"bulk to {self.alias}"):
            for ok, item in streaming_bulk(
                self.es,
                actions,
                chunk_size=self.chunk_size,
                raise_on_error=False,
                max_retries=3,
                initial_backoff=1,
                require_alias=True,
            ):
                op, result = next(iter(item.items()))
                doc_id = str(result.get("_id", ""))
                if ok:
                    res = result.get("result")
                    if res == "created":
                        tally.created += 1
                    elif res == "updated":
                        tally.updated += 1
                    else:
                        tally.noop += 1
                    continue
                error = result.get("error", {})
                etype = error.get("type", "") if isinstance(error, dict) else ""
                reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
                if isinstance(error, dict) and error.get("caused_by"):
                    reason = f"{reason} (caused by: {error['caused_by'].get('reason', '')})"
                entry = {
                    "id": doc_id,
                    "url": docs.get(doc_id, {}).get("url", ""),
                    "op": op,
                    "status": result.get("status"),
                    "type": etype,
                    "reason": reason,
                }
                if result.get("status") == 409:
                    tally.conflicts.append(entry)
                else:
                    tally.errors.append(entry)
