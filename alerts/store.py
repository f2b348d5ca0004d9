"""Alert state in Elasticsearch: rules, watermarks/throttle state, the alert log, the outbox.

Indices (``settings.index_name(kind)``):

- ``alert-rules``: one doc per rule (``_id`` = rule id): ``{rule: {...}, origin: file|api, updated_at}``.
- ``alert-state``: ``wm:<rule>`` (evaluation watermark on ``indexed_at``) and ``th:<rule>`` (throttle and
  digest bookkeeping, updated with optimistic concurrency).
- ``alert-log``: one doc per (rule, story): ``_id = log_id(rule, story)``, written with ``op_type=create``;
  a 409 means "already alerted". ``state`` goes ``held`` -> ``assigned`` (to an outbox message, with
  ``if_seq_no``) -> ``sent``.
- ``alert-outbox``: one doc per (message, channel), persisted before any send; see ``alerts.outbox``.

Every call goes through ``storage_errors`` so an unreachable node becomes ``StorageUnavailable``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError

from alerts.rules import AlertRule, rule_from_dict
from index.client import api_error_reason, api_error_type, storage_errors
from newswatch.errors import ConfigError
from newswatch.settings import Settings

log = structlog.get_logger(__name__)

_KW = {"type": "keyword"}
_DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
_OPAQUE = {"type": "object", "enabled": False}

MAPPINGS: dict[str, dict[str, Any]] = {
    "alert-rules": {
        "dynamic": "strict",
        "properties": {
            "rule": _OPAQUE,
            "rule_id": _KW,
            "origin": _KW,
            "enabled": {"type": "boolean"},
            "updated_at": _DATE,
        },
    },
    "alert-state": {
        "dynamic": "strict",
        "properties": {
            "kind": _KW,
            "rule_id": _KW,
            "watermark": _DATE,
            "updated_at": _DATE,
            "sends": _DATE,
            "last_digest_at": _DATE,
            "seq": {"type": "long"},
        },
    },
    "alert-log": {
        "dynamic": "strict",
        "properties": {
            "rule_id": _KW,
            "story_id": _KW,
            "article_id": _KW,
            "kind": _KW,
            "state": _KW,
            "outbox_message": _KW,
            "matched_at": _DATE,
            "assigned_at": _DATE,
            "indexed_at": _DATE,
            "item": _OPAQUE,
            "feed_url": _KW,
            "incident": _KW,
            "recovered": {"type": "boolean"},
        },
    },
    "alert-outbox": {
        "dynamic": "strict",
        "properties": {
            "message_id": _KW,
            "rule_id": _KW,
            "channel": _KW,
            "target": _KW,
            "status": _KW,
            "attempts": {"type": "integer"},
            "next_attempt_at": _DATE,
            "created_at": _DATE,
            "updated_at": _DATE,
            "delivered_at": _DATE,
            "claimed_by": _KW,
            "claim_until": _DATE,
            "last_error": {"type": "text", "index": False},
            "last_status": {"type": "integer"},
            "secret_env": _KW,
            "message": _OPAQUE,
            "history": _OPAQUE,
        },
    },
}


def iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def digest_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


def log_id(rule_id: str, story_key: str) -> str:
    """The alert-log id of (rule, story): the key of exactly-once."""
    return digest_id("log", rule_id, story_key)


@dataclass(frozen=True)
class Names:
    rules: str
    state: str
    log: str
    outbox: str
    articles: str
    feeds: str

    @classmethod
    def of(cls, settings: Settings) -> Names:
        n = settings.index_name
        return cls(
            n("alert-rules"), n("alert-state"), n("alert-log"), n("alert-outbox"), n("articles"), n("feeds")
        )


def ensure_alert_indices(es: Elasticsearch, settings: Settings) -> None:
    """Create the four alert indices if missing (idempotent, safe from several processes)."""
    for kind, mapping in MAPPINGS.items():
        name = settings.index_name(kind)
        with storage_errors(es, f"creating {name}"):
            try:
                es.indices.create(
                    index=name,
                    settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                    mappings=mapping,
                )
            except BadRequestError as exc:
                if api_error_type(exc) != "resource_already_exists_exception":
                    raise ConfigError(f"cannot create {name}: {api_error_reason(exc)}") from exc
                es.indices.put_mapping(index=name, **mapping)


class AlertStore:
    """Thin, synchronous access to the alert indices (run it in a thread from async code)."""

    def __init__(self, es: Elasticsearch, names: Names) -> None:
        self.es = es
        self.names = names

    # --- rules -------------------------------------------------------------------------------

    def sync_rules(self, rules: Sequence[AlertRule], now: datetime) -> dict[str, int]:
        """Upsert the file's rules (origin ``file``) and delete file rules no longer in it.

        Rules created through the API (origin ``api``) are left alone.
        """
        existing = self.rule_docs()
        wanted = {r.id for r in rules}
        ops: list[dict[str, Any]] = []
        for r in rules:
            old = existing.get(r.id)
            if old is not None and old.get("origin") == "api":
                log.warning(
                    "alerts.rules.shadowed", rule=r.id, reason="an API rule has this id; file rule skipped"
                )
                continue
            body = r.model_dump(mode="json")
            if old is not None and old.get("rule") == body:
                continue
            ops.append({"index": {"_index": self.names.rules, "_id": r.id}})
            ops.append(
                {
                    "rule": body,
                    "rule_id": r.id,
                    "origin": "file",
                    "enabled": r.enabled,
                    "updated_at": iso(now),
                }
            )
        removed = 0
        for rid, doc in existing.items():
            if doc.get("origin") == "file" and rid not in wanted:
                ops.append({"delete": {"_index": self.names.rules, "_id": rid}})
                removed += 1
        if ops:
            with storage_errors(self.es, f"syncing rules into {self.names.rules}"):
                self.es.bulk(operations=ops, refresh="wait_for")
        return {"rules": len(rules), "written": (len(ops) - removed) // 2, "removed": removed}

    def put_rule(self, rule: AlertRule, now: datetime, origin: str = "api") -> None:
        with storage_errors(self.es, f"writing rule {rule.id}"):
            self.es.index(
                index=self.names.rules,
                id=rule.id,
                refresh="wait_for",
                document={
                    "rule": rule.model_dump(mode="json"),
                    "rule_id": rule.id,
                    "origin": origin,
                    "enabled": rule.enabled,
                    "updated_at": iso(now),
                },
            )

    def delete_rule(self, rule_id: str) -> bool:
        with storage_errors(self.es, f"deleting rule {rule_id}"):
            try:
                self.es.delete(index=self.names.rules, id=rule_id, refresh="wait_for")
            except NotFoundError:
                return False
        return True

    def rule_docs(self) -> dict[str, dict[str, Any]]:
        with storage_errors(self.es, f"reading {self.names.rules}"):
            resp = self.es.search(index=self.names.rules, size=10_000, query={"match_all": {}})
        return {h["_id"]: h["_source"] for h in resp.body["hits"]["hits"]}

    def load_rules(self) -> list[AlertRule]:
        """All stored rules; an invalid stored rule is logged and skipped (the others still run)."""
        out: list[AlertRule] = []
        for rid, doc in sorted(self.rule_docs().items()):
            try:
                out.append(rule_from_dict(doc["rule"], where=f"stored rule ({doc.get('origin')})"))
            except Exception as exc:
                log.error("alerts.rule.invalid", rule=rid, error=str(exc))
        return out

    # --- watermarks --------------------------------------------------------------------------

    def watermarks(self, rule_ids: Iterable[str]) -> dict[str, datetime]:
        ids = [f"wm:{r}" for r in rule_ids]
        if not ids:
            return {}
        with storage_errors(self.es, f"reading watermarks in {self.names.state}"):
            resp = self.es.mget(index=self.names.state, ids=ids)
        out: dict[str, datetime] = {}
        for d in resp.body["docs"]:
            if d.get("found"):
                wm = parse_iso(d["_source"].get("watermark"))
                if wm is not None:
                    out[d["_source"]["rule_id"]] = wm
        return out

    def set_watermarks(self, marks: dict[str, datetime], now: datetime) -> None:
        if not marks:
            return
        ops: list[dict[str, Any]] = []
        for rid, wm in marks.items():
            ops.append({"index": {"_index": self.names.state, "_id": f"wm:{rid}"}})
            ops.append({"kind": "watermark", "rule_id": rid, "watermark": iso(wm), "updated_at": iso(now)})
        with storage_errors(self.es, f"writing watermarks in {self.names.state}"):
            self.es.bulk(operations=ops)

    # --- throttle / digest state (optimistic concurrency) -------------------------------------

    def get_throttle(self, rule_id: str) -> tuple[dict[str, Any] | None, tuple[int, int] | None]:
        with storage_errors(self.es, f"reading {self.names.state}"):
            try:
                d = self.es.get(index=self.names.state, id=f"th:{rule_id}")
            except NotFoundError:
                return None, None
        return d["_source"], (d["_seq_no"], d["_primary_term"])

    def put_throttle(self, rule_id: str, doc: dict[str, Any], version: tuple[int, int] | None) -> bool:
        """Write ``th:<rule>``; False when another worker changed it first (re-read and try again)."""
        body = {"kind": "throttle", "rule_id": rule_id, **doc}
        with storage_errors(self.es, f"writing {self.names.state}"):
            try:
                if version is None:
                    self.es.create(index=self.names.state, id=f"th:{rule_id}", document=body)
                else:
                    self.es.index(
                        index=self.names.state,
                        id=f"th:{rule_id}",
                        document=body,
                        if_seq_no=version[0],
                        if_primary_term=version[1],
                    )
            except ConflictError:
                return False
        return True

    # --- alert log ---------------------------------------------------------------------------

    def create_log_entries(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> tuple[list[str], int]:
        """``op_type=create`` each (id, doc). Returns (ids created, number already there)."""
        if not entries:
            return [], 0
        ops: list[dict[str, Any]] = []
        for doc_id, doc in entries:
            ops.append({"create": {"_index": self.names.log, "_id": doc_id}})
            ops.append(doc)
        with storage_errors(self.es, f"writing {self.names.log}"):
            resp = self.es.bulk(operations=ops)
        created: list[str] = []
        dupes = 0
        for item in resp.body["items"]:
            res = item["create"]
            if res.get("status") in (200, 201):
                created.append(res["_id"])
            elif res.get("status") == 409:
                dupes += 1
            else:
                log.error("alerts.log.refused", id=res.get("_id"), error=res.get("error"))
        return created, dupes

    def refresh(self, *indices: str) -> None:
        with storage_errors(self.es, "refresh"):
            self.es.indices.refresh(index=",".join(indices))

    def pending_log(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """Log entries not yet sent (``held`` or ``assigned``), with ``_seq_no``/``_primary_term``."""
        with storage_errors(self.es, f"reading {self.names.log}"):
            resp = self.es.search(
                index=self.names.log,
                size=limit,
                seq_no_primary_term=True,
                query={"terms": {"state": ["held", "assigned"]}},
                sort=[{"matched_at": "asc"}],
            )
        return list(resp.body["hits"]["hits"])

    def assign(self, pairs: Sequence[tuple[dict[str, Any], str]], now: datetime) -> list[dict[str, Any]]:
        """held -> assigned to a message, each only if nobody changed it since we read it (one bulk).

        ``pairs``: (log hit with ``_seq_no``/``_primary_term``, message id). Returns the hits this worker
        got; the others were taken by another worker (409) and are left to it.
        """
        if not pairs:
            return []
        ops: list[dict[str, Any]] = []
        for h, message_id in pairs:
            ops.append(
                {
                    "update": {
                        "_index": self.names.log,
                        "_id": h["_id"],
                        "if_seq_no": h["_seq_no"],
                        "if_primary_term": h["_primary_term"],
                    }
                }
            )
            ops.append({"doc": {"state": "assigned", "outbox_message": message_id, "assigned_at": iso(now)}})
        with storage_errors(self.es, f"updating {self.names.log}"):
            resp = self.es.bulk(operations=ops)
        won: list[dict[str, Any]] = []
        for (h, _mid), item in zip(pairs, resp.body["items"], strict=True):
            status = item["update"].get("status")
            if status in (200, 201):
                won.append(h)
            elif status != 409:
                log.error("alerts.log.assign_failed", id=h["_id"], error=item["update"].get("error"))
        return won

    def mark_sent(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        ops: list[dict[str, Any]] = []
        for i in ids:
            ops.append({"update": {"_index": self.names.log, "_id": i}})
            ops.append({"doc": {"state": "sent"}})
        with storage_errors(self.es, f"updating {self.names.log}"):
            self.es.bulk(operations=ops)

    def open_incidents(self) -> list[dict[str, Any]]:
        """Feed-health ``down`` entries without a recovery yet."""
        with storage_errors(self.es, f"reading {self.names.log}"):
            resp = self.es.search(
                index=self.names.log,
                size=10_000,
                seq_no_primary_term=True,
                query={"bool": {"filter": [{"term": {"kind": "feed-down"}}, {"term": {"recovered": False}}]}},
            )
        return list(resp.body["hits"]["hits"])

    def close_incident(self, log_doc_id: str) -> None:
        with storage_errors(self.es, f"updating {self.names.log}"):
            self.es.update(index=self.names.log, id=log_doc_id, doc={"recovered": True})

    # --- outbox ------------------------------------------------------------------------------

    def create_outbox(self, docs: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """``op_type=create`` (an existing id is the same message: fine). Returns how many were new."""
        if not docs:
            return 0
        ops: list[dict[str, Any]] = []
        for doc_id, doc in docs:
            ops.append({"create": {"_index": self.names.outbox, "_id": doc_id}})
            ops.append(doc)
        with storage_errors(self.es, f"writing {self.names.outbox}"):
            resp = self.es.bulk(operations=ops)
        new = 0
        for item in resp.body["items"]:
            res = item["create"]
            if res.get("status") in (200, 201):
                new += 1
            elif res.get("status") != 409:
                raise ConfigError(f"outbox refused {res.get('_id')}: {res.get('error')}")
        return new

    def outbox_exists(self, message_id: str) -> bool:
        with storage_errors(self.es, f"reading {self.names.outbox}"):
            resp = self.es.count(index=self.names.outbox, query={"term": {"message_id": message_id}})
        return int(resp.body["count"]) > 0

    def due_outbox(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Pending deliveries due now, and ``sending`` ones whose claim expired (a worker died)."""
        self.refresh(self.names.outbox)
        with storage_errors(self.es, f"reading {self.names.outbox}"):
            resp = self.es.search(
                index=self.names.outbox,
                size=limit,
                seq_no_primary_term=True,
                query={
                    "bool": {
                        "should": [
                            {
                                "bool": {
                                    "filter": [
                                        {"term": {"status": "pending"}},
                                        {"range": {"next_attempt_at": {"lte": iso(now)}}},
                                    ]
                                }
                            },
                            {
                                "bool": {
                                    "filter": [
                                        {"term": {"status": "sending"}},
                                        {"range": {"claim_until": {"lte": iso(now)}}},
                                    ]
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                },
                sort=[{"next_attempt_at": "asc"}],
            )
        return list(resp.body["hits"]["hits"])

    def update_outbox(
        self, doc_id: str, fields: dict[str, Any], version: tuple[int, int]
    ) -> tuple[int, int] | None:
        """Conditional update; returns the new (seq_no, primary_term) or None on conflict."""
        with storage_errors(self.es, f"updating {self.names.outbox}"):
            try:
                resp = self.es.update(
                    index=self.names.outbox,
                    id=doc_id,
                    doc=fields,
                    if_seq_no=version[0],
                    if_primary_term=version[1],
                )
            except ConflictError:
                return None
        return int(resp.body["_seq_no"]), int(resp.body["_primary_term"])

    def outbox_counts(self) -> dict[str, int]:
        """Deliveries by status, as of now (the small outbox index is refreshed first)."""
        self.refresh(self.names.outbox)
        with storage_errors(self.es, f"reading {self.names.outbox}"):
            resp = self.es.search(
                index=self.names.outbox, size=0, aggs={"s": {"terms": {"field": "status", "size": 10}}}
            )
        return {b["key"]: int(b["doc_count"]) for b in resp.body["aggregations"]["s"]["buckets"]}

    def outbox_docs(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"term": {"status": status}} if status else {"match_all": {}}
        with storage_errors(self.es, f"reading {self.names.outbox}"):
            resp = self.es.search(
                index=self.names.outbox, size=limit, query=query, sort=[{"created_at": "desc"}]
            )
        return [{"_id": h["_id"], **h["_source"]} for h in resp.body["hits"]["hits"]]
