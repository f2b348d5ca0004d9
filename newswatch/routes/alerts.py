"""``/alerts``: list, read, create, replace, delete alert rules, and back-test one.

Rules live in the ``alert-rules`` index (``alerts.store.AlertStore``). Rules written here have origin
``api``; rules from ``config/alerts.yaml`` (origin ``file``) are re-synced from the file at every start, so
they are read-only here (409 naming the file): edit the file instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from alerts.evaluate import backtest
from alerts.rules import AlertRule, rule_from_dict
from alerts.store import AlertStore, Names, ensure_alert_indices
from index.client import storage_errors
from index.query import parse_since, parse_until
from newswatch.errors import QueryError, RuleError
from newswatch.routes.deps import (
    ApiDeps,
    ApiProblem,
    Deps,
    bad_param,
    guard_query_string,
    require_read,
    require_write,
)
from newswatch.routes.search import date_param

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_EXAMPLES = 50

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Depends(guard_query_string)])

RuleId = Annotated[str, Path(pattern=ID_PATTERN, description="Rule id (a-z, 0-9, '-', '_'; max 64)")]


def _store(deps: ApiDeps) -> AlertStore:
    return AlertStore(deps.es, Names.of(deps.settings))


def _rules_index_exists(store: AlertStore) -> bool:
    with storage_errors(store.es, f"checking {store.names.rules}"):
        return bool(store.es.indices.exists(index=store.names.rules).body)


def _rule_docs(store: AlertStore) -> dict[str, dict[str, Any]]:
    """Stored rule docs; no index yet means no rules (adapter: ``rule_docs`` raises on a missing index)."""
    if not _rules_index_exists(store):
        return {}
    return store.rule_docs()


def _view(rule_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rule_id,
        "origin": doc.get("origin"),
        "enabled": doc.get("enabled"),
        "updated_at": doc.get("updated_at"),
        "rule": doc.get("rule"),
    }


def _existing(store: AlertStore, rule_id: str) -> dict[str, Any]:
    doc = _rule_docs(store).get(rule_id)
    if doc is None:
        raise ApiProblem(404, f"rule_id: no alert rule {rule_id!r}", "rule_id")
    return doc


def _refuse_file_rule(rule_id: str, doc: dict[str, Any], deps: ApiDeps) -> None:
    if doc.get("origin") == "file":
        where = deps.settings.config_dir / "alerts.yaml"
        raise ApiProblem(
            409,
            f"rule_id: rule {rule_id!r} comes from {where}; edit that file (it is re-synced at start)",
            "rule_id",
        )


def _put(deps: ApiDeps, store: AlertStore, rule: AlertRule) -> dict[str, Any]:
    if not _rules_index_exists(store):
        ensure_alert_indices(deps.es, deps.settings)
    store.put_rule(rule, deps.clock(), origin="api")
    return _view(rule.id, store.rule_docs()[rule.id])


@router.get("", summary="List alert rules", dependencies=[Depends(require_read)])
def list_rules(deps: Deps) -> dict[str, Any]:
    docs = _rule_docs(_store(deps))
    return {"rules": [_view(rid, doc) for rid, doc in sorted(docs.items())]}


@router.get("/{rule_id}", summary="One alert rule", dependencies=[Depends(require_read)])
def read_rule(deps: Deps, rule_id: RuleId) -> dict[str, Any]:
    return _view(rule_id, _existing(_store(deps), rule_id))


@router.post("", summary="Create an alert rule", status_code=201, dependencies=[Depends(require_write)])
def create_rule(deps: Deps, rule: AlertRule) -> dict[str, Any]:
    store = _store(deps)
    old = _rule_docs(store).get(rule.id)
    if old is not None:
        raise ApiProblem(
            409,
            f"id: an alert rule {rule.id!r} already exists (origin {old.get('origin')}); "
            f"use PUT /alerts/{rule.id} to replace it",
            "id",
        )
    return _put(deps, store, rule)


@router.put("/{rule_id}", summary="Replace an alert rule", dependencies=[Depends(require_write)])
def replace_rule(deps: Deps, rule_id: RuleId, body: dict[str, Any]) -> dict[str, Any]:
    body_id = body.setdefault("id", rule_id)
    if body_id != rule_id:
        raise bad_param("id", f"{body_id!r} differs from the rule id in the path ({rule_id!r})", 422)
    try:
        rule = rule_from_dict(body, where="rule")
    except RuleError as exc:
        raise ApiProblem(422, str(exc), "body") from None
    store = _store(deps)
    _refuse_file_rule(rule_id, _existing(store, rule_id), deps)
    return _put(deps, store, rule)


@router.delete(
    "/{rule_id}", summary="Delete an alert rule", status_code=204, dependencies=[Depends(require_write)]
)
def delete_rule(deps: Deps, rule_id: RuleId) -> Response:
    store = _store(deps)
    _refuse_file_rule(rule_id, _existing(store, rule_id), deps)
    if not store.delete_rule(rule_id):
        raise ApiProblem(404, f"rule_id: no alert rule {rule_id!r}", "rule_id")
    return Response(status_code=204)


@router.post("/{rule_id}/test", summary="Back-test an alert rule", dependencies=[Depends(require_read)])
def test_rule(
    deps: Deps,
    rule_id: RuleId,
    since: Annotated[str, Query(description="Published since: 7d, 12h, 2w or an ISO date")] = "7d",
    until: Annotated[str | None, Query(description="Published before (default: now)")] = None,
    examples: Annotated[int, Query(ge=0, le=MAX_EXAMPLES, description="Example alerts to return")] = 5,
) -> dict[str, Any]:
    """Run the rule (enabled or not) over past articles: matches per day (articles, and stories = the
    alerts it would have sent) and example alerts as they would be sent. Changes nothing."""
    store = _store(deps)
    doc = _existing(store, rule_id)
    try:
        rule = rule_from_dict(doc["rule"], where="stored rule")
    except RuleError as exc:
        raise ApiProblem(409, f"rule_id: the stored rule is invalid: {exc}", "rule_id") from None
    now = deps.clock()
    start = date_param("since", since, now, parse_since)
    end = date_param("until", until, now, parse_until) or now
    if start is None:
        raise bad_param("since", "must not be empty")
    if start >= end:
        raise bad_param("until", f"must be after since ({end.isoformat()} <= {start.isoformat()})")
    try:
        result = backtest(store, rule, start, end, examples)
    except QueryError as exc:  # pragma: no cover - the rule's query was validated
        raise bad_param("rule_id", f"the rule cannot run: {exc}", 409) from None
    return {
        "rule": rule.id,
        "since": _iso(result.since),
        "until": _iso(result.until),
        "articles": result.articles,
        "stories": result.stories,
        "per_day": [{"day": d, "articles": a, "stories": s} for d, a, s in result.per_day],
        "examples": list(result.examples),
    }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
