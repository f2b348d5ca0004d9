"""What an alert says (pure): item snapshots, email bodies (text + HTML), the webhook JSON (schema v1).

An *item* is a JSON-ready snapshot taken when the match is logged (so a later edit or deletion of the
article does not change an alert already decided). A *message* groups the items of one rule that go out
together: one story for an instant alert, several when throttling folded them, a digest's period.
See ``docs/webhook.md`` for the schema.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alerts.rules import AlertRule
from index.highlight import HTML, PLAIN, find_matches, highlight
from index.query import And, Node, Not, Or, Term, parse_query, positive_terms

SCHEMA = "newswatch.alert/v1"
SNIPPET_CHARS = 240


def _query_topics(node: Node) -> list[str]:
    out: list[str] = []
    if isinstance(node, Term) and node.field == "topic":
        out.append(node.text.lower())
    elif isinstance(node, And | Or):
        for c in node.children:
            out.extend(_query_topics(c))
    elif isinstance(node, Not):
        pass
    return out


def article_item(src: dict[str, Any], rule: AlertRule) -> dict[str, Any]:
    """Snapshot of an article hit (``_source``) for ``rule``: snippets with the matched words, and why."""
    node = parse_query(rule.query)
    hl = positive_terms(node)
    title = str(src.get("title") or "")
    body = " ".join(str(src.get(k) or "") for k in ("summary", "content")).strip()
    topics = [t.get("id", "") for t in src.get("topics") or [] if isinstance(t, dict)]
    text = f"{title}\n{body}"
    matched_terms = [t for t in hl.terms if find_matches(text, [t])]
    matched_terms += [f"{p}*" for p in hl.prefixes if find_matches(text, [], [p])]
    wanted_topics = {t.lower() for t in rule.topics} | set(_query_topics(node))
    source = src.get("source") or {}
    plain = highlight(body, hl.terms, hl.prefixes, SNIPPET_CHARS, 2, PLAIN) or (
        [body[:SNIPPET_CHARS]] if body else []
    )
    rich = highlight(body, hl.terms, hl.prefixes, SNIPPET_CHARS, 2, HTML) or (
        [html.escape(body[:SNIPPET_CHARS])] if body else []
    )
    title_html = (highlight(title, hl.terms, hl.prefixes, 10_000, 1, HTML) or [html.escape(title)])[0]
    return {
        "type": "article",
        "article_id": src.get("id", ""),
        "story_id": src.get("story_id") or src.get("id", ""),
        "title": title,
        "title_html": title_html,
        "url": src.get("url", ""),
        "source": {"name": source.get("name", ""), "domain": source.get("domain", "")},
        "language": src.get("language", "und"),
        "published_at": src.get("published_at"),
        "indexed_at": src.get("indexed_at"),
        "topics": topics,
        "snippet": " ".join(plain),
        "snippet_html": " ".join(rich),
        "why": {
            "rule": rule.id,
            "query": rule.query,
            "terms": matched_terms,
            "topics": [t for t in topics if t in wanted_topics],
        },
    }


def feed_item(feed: dict[str, Any], status: str, since: str | None, now: datetime) -> dict[str, Any]:
    """A feed-health item: ``status`` is ``failing`` or ``recovered``."""
    return {
        "type": "feed",
        "feed_url": feed.get("url", ""),
        "feed_title": feed.get("title") or feed.get("name") or "",
        "status": status,
        "failing_since": since,
        "error_streak": int(feed.get("error_streak") or 0),
        "last_error": feed.get("last_error"),
        "last_success_at": feed.get("last_success_at"),
        "observed_at": now.isoformat().replace("+00:00", "Z"),
    }


def rule_summary(rule: AlertRule | None, rule_id: str, name: str = "") -> dict[str, Any]:
    if rule is None:
        return {"id": rule_id, "name": name or rule_id, "query": "", "topics": [], "mode": "instant"}
    return {
        "id": rule.id,
        "name": rule.display_name,
        "query": rule.query,
        "topics": list(rule.topics),
        "languages": list(rule.languages),
        "sources": list(rule.sources),
        "entities": list(rule.entities),
        "mode": rule.mode,
    }


def build_message(
    message_id: str,
    kind: str,
    rule: dict[str, Any],
    items: Sequence[dict[str, Any]],
    folded: int,
    now: datetime,
) -> dict[str, Any]:
    """``kind``: ``instant``, ``digest`` or ``feed-health``. ``folded``: items held back by the throttle."""
    ordered = sorted(items, key=lambda i: (str(i.get("story_id", "")), str(i.get("published_at") or "")))
    return {
        "message_id": message_id,
        "kind": kind,
        "rule": rule,
        "items": list(ordered),
        "folded": folded,
        "created_at": now.isoformat().replace("+00:00", "Z"),
    }


# --- email -----------------------------------------------------------------------------------------


def email_subject(msg: dict[str, Any]) -> str:
    items = msg["items"]
    name = msg["rule"]["name"]
    if msg["kind"] == "feed-health":
        if len(items) == 1:
            it = items[0]
            word = "is failing" if it["status"] == "failing" else "recovered"
            return f"[newswatch] feed {word}: {it['feed_title'] or it['feed_url']}"
        return f"[newswatch] feed health: {len(items)} changes"
    if msg["kind"] == "digest":
        return f"[newswatch] {name}: digest, {len(items)} stor{'y' if len(items) == 1 else 'ies'}"
    if len(items) == 1:
        return f"[newswatch] {name}: {items[0]['title']}"
    return f"[newswatch] {name}: {len(items)} new stories"


def _article_text(it: dict[str, Any]) -> str:
    why = it["why"]
    lines = [
        it["title"],
        f"  {it['source']['name'] or it['source']['domain']} · {it.get('published_at') or 'no date'}"
        f" · {it['language']}",
    ]
    if it["snippet"]:
        lines.append(f"  {it['snippet']}")
    if it["topics"]:
        lines.append(f"  Topics: {', '.join(it['topics'])}")
    reasons = [f"rule {why['rule']}"]
    if why["terms"]:
        reasons.append("terms " + ", ".join(why["terms"]))
    if why["topics"]:
        reasons.append("topics " + ", ".join(why["topics"]))
    lines.append(f"  Why: {'; '.join(reasons)}")
    lines.append(f"  {it['url']}")
    return "\n".join(lines)


def _feed_text(it: dict[str, Any]) -> str:
    if it["status"] == "failing":
        head = f"FAILING since {it['failing_since']}: {it['feed_title'] or it['feed_url']}"
        tail = f"  {it['error_streak']} failures in a row; last error: {it['last_error']}"
    else:
        head = f"RECOVERED: {it['feed_title'] or it['feed_url']} (was failing since {it['failing_since']})"
        tail = f"  last success: {it['last_success_at']}"
    return f"{head}\n  {it['feed_url']}\n{tail}"


def email_text(msg: dict[str, Any]) -> str:
    parts = [f"newswatch alert: {msg['rule']['name']} ({msg['kind']})"]
    if msg["rule"].get("query"):
        parts.append(f"Query: {msg['rule']['query']}")
    parts.append("")
    for it in msg["items"]:
        parts.append(_article_text(it) if it["type"] == "article" else _feed_text(it))
        parts.append("")
    if msg["folded"]:
        parts.append(f"({msg['folded']} of these were held back by the rule's throttle and folded in here.)")
    return "\n".join(parts).rstrip() + "\n"


def _article_html(it: dict[str, Any]) -> str:
    esc = html.escape
    why = it["why"]
    topics = ", ".join(esc(t) for t in it["topics"])
    reasons = [f"rule <b>{esc(why['rule'])}</b>"]
    if why["terms"]:
        reasons.append("terms " + ", ".join(f"<mark>{esc(t)}</mark>" for t in why["terms"]))
    if why["topics"]:
        reasons.append("topics " + ", ".join(esc(t) for t in why["topics"]))
    return (
        f'<div class="item"><h3><a href="{esc(it["url"], quote=True)}">{it["title_html"]}</a></h3>'
        f'<p class="meta">{esc(it["source"]["name"] or it["source"]["domain"])} · '
        f"{esc(str(it.get('published_at') or 'no date'))} · {esc(it['language'])}</p>"
        f"<p>{it['snippet_html']}</p>"
        + (f"<p>Topics: {topics}</p>" if topics else "")
        + f"<p><small>Why: {'; '.join(reasons)}</small></p></div>"
    )


def _feed_html(it: dict[str, Any]) -> str:
    return f'<div class="item"><pre>{html.escape(_feed_text(it))}</pre></div>'


def email_html(msg: dict[str, Any]) -> str:
    esc = html.escape
    items = "\n".join(_article_html(i) if i["type"] == "article" else _feed_html(i) for i in msg["items"])
    query = f"<p>Query: <code>{esc(msg['rule']['query'])}</code></p>" if msg["rule"].get("query") else ""
    folded = (
        f"<p><small>{msg['folded']} of these were held back by the throttle and folded in here.</small></p>"
        if msg["folded"]
        else ""
    )
    return (
        "<!doctype html><html><body>"
        f"<h2>newswatch alert: {esc(msg['rule']['name'])} ({esc(msg['kind'])})</h2>{query}{items}{folded}"
        "</body></html>"
    )


# --- webhook ---------------------------------------------------------------------------------------

_WEBHOOK_ITEM_DROP = ("title_html", "snippet_html")


def webhook_payload(msg: dict[str, Any], delivery_id: str, sent_at: datetime) -> dict[str, Any]:
    """The documented JSON (``docs/webhook.md``): ``schema`` = ``newswatch.alert/v1``."""
    return {
        "schema": SCHEMA,
        "delivery_id": delivery_id,
        "message_id": msg["message_id"],
        "kind": msg["kind"],
        "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
        "rule": msg["rule"],
        "folded": msg["folded"],
        "items": [{k: v for k, v in it.items() if k not in _WEBHOOK_ITEM_DROP} for it in msg["items"]],
    }


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
