"""Alert rules: typed models, and loading/validation of ``config/alerts.yaml``.

A rule is a saved search (``index.query`` syntax plus topic/language/source/entity filters) with
channels (email recipients, webhooks), a mode (``instant`` or ``digest`` hourly/daily at a time in a
time zone), a throttle (at most N messages per hour; the rest is folded into the next message) and
``enabled``. An invalid rule is refused with ``RuleError`` naming the file and line, the rule, the field
and the reason; the other rules of the file are not loaded either (a half-loaded alert config is worse
than a clear refusal at start-up).

File layout::

    feed_health:            # the built-in feed-health rule (optional)
      enabled: true
      failing_for: 6h
      channels: {email: [ops@example.org]}
    rules:
      - id: nato
        query: NATO OR OTAN OR НАТО
        ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from index.query import SearchRequest, parse_query
from newswatch.errors import QueryError, RuleError

FEED_HEALTH_RULE_ID = "feed-health"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | int | float) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``2d`` or a number of seconds."""
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    m = _DURATION_RE.match(value)
    if not m:
        raise ValueError(f"invalid duration {value!r}: use e.g. 90s, 15m, 6h, 2d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookTarget(_Model):
    """A webhook: POST of the ``newswatch.alert/v1`` JSON to ``url``, signed with a secret.

    The secret is never written in the file: ``secret_env`` names an environment variable holding it;
    without it the global ``NEWSWATCH_WEBHOOK_SECRET`` is used.
    """

    url: str
    secret_env: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"webhook url must be http:// or https:// (got {value!r})")
        return value

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_RE.match(value):
            raise ValueError(f"secret_env must be an environment variable name (got {value!r})")
        return value


class Channels(_Model):
    email: tuple[str, ...] = ()
    webhooks: tuple[WebhookTarget, ...] = ()

    @field_validator("email", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("email")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for addr in value:
            if not _EMAIL_RE.match(addr):
                raise ValueError(f"not an email address: {addr!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Channels:
        if not self.email and not self.webhooks:
            raise ValueError("at least one email recipient or webhook is needed")
        return self


class DigestSchedule(_Model):
    """``hourly`` (at minute 0 of the time zone), or ``daily`` at ``at`` (HH:MM) in ``timezone``."""

    every: Literal["hourly", "daily"] = "daily"
    at: str = "08:00"
    timezone: str = "UTC"

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"at must be a time HH:MM (got {value!r})") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def at_time(self) -> time:
        return time.fromisoformat(self.at)


class Throttle(_Model):
    max_per_hour: int = Field(ge=1, le=10_000)


class AlertRule(_Model):
    id: str
    name: str = ""
    query: str = ""
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    channels: Channels
    mode: Literal["instant", "digest"] = "instant"
    digest: DigestSchedule | None = None
    throttle: Throttle | None = None
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(
                "id must be 1-64 characters a-z, 0-9, '-' or '_', starting with a letter or digit"
            )
        if value == FEED_HEALTH_RULE_ID:
            raise ValueError(f"id {FEED_HEALTH_RULE_ID!r} is reserved for the built-in feed-health rule")
        return value

    @field_validator("topics", "languages", "sources", "entities", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        try:
            parse_query(value)
        except QueryError as exc:
            raise ValueError(f"invalid query: {exc}") from None
        return value

    @model_validator(mode="after")
    def _check(self) -> AlertRule:
        if not self.query.strip() and not (self.topics or self.sources or self.entities):
            raise ValueError(
                "a rule needs a query or a topic/source/entity filter (it would match everything)"
            )
        if self.mode == "instant" and self.digest is not None:
            raise ValueError("digest: only with mode: digest")
        return self

    @property
    def schedule(self) -> DigestSchedule:
        return self.digest or DigestSchedule()

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def search_request(self, **kwargs: Any) -> SearchRequest:
        """The rule as a search: what you search is what you are alerted on."""
        return SearchRequest(
            query=self.query,
            topics=self.topics,
            languages=self.languages,
            sources=self.sources,
            entities=self.entities,
            facets=False,
            **kwargs,
        )


class FeedHealthRule(_Model):
    """The built-in rule: a feed failing for longer than ``failing_for``, and its recovery (once each)."""

    enabled: bool = True
    failing_for: str = "6h"
    channels: Channels

    @field_validator("failing_for")
    @classmethod
    def _dur(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def threshold(self) -> timedelta:
        return parse_duration(self.failing_for)


class AlertConfig(_Model):
    rules: tuple[AlertRule, ...] = ()
    feed_health: FeedHealthRule | None = None

    def rule(self, rule_id: str) -> AlertRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        known = ", ".join(r.id for r in self.rules) or "none"
        raise RuleError(f"no alert rule {rule_id!r} (known: {known})")


# --- Loading ---------------------------------------------------------------------------------------


def _describe(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _node_at(node: yaml.Node | None, loc: Sequence[str | int]) -> yaml.Node | None:
    """The deepest YAML node along ``loc`` (for the line number of the culprit)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    found = value if part != loc[-1] else key
                    break
            if found is None:
                return node
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def rule_from_dict(data: Mapping[str, Any], where: str = "rule") -> AlertRule:
    """Validate one rule (from the API or ES); ``RuleError`` names the rule, the field and the reason."""
    try:
        return AlertRule.model_validate(dict(data))
    except ValidationError as exc:
        rid = data.get("id", "?") if isinstance(data, Mapping) else "?"
        lines = [
            f"{where} {rid!r}: {'.'.join(str(p) for p in e['loc']) or 'rule'}: {_describe(e)}"
            for e in exc.errors()
        ]
        raise RuleError("; ".join(lines)) from None


def load_alert_config(path: Path) -> AlertConfig:
    """Read and validate ``alerts.yaml``. Missing file: no rules. Errors: ``RuleError`` with file:line."""
    if not path.is_file():
        return AlertConfig()
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise RuleError(f"{path}{where}: not valid YAML: {exc}") from None
    if data is None:
        return AlertConfig()
    if not isinstance(data, dict):
        raise RuleError(f"{path}:1: expected a mapping with 'rules:' (and optionally 'feed_health:')")
    try:
        config = AlertConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            node = _node_at(root, loc)
            line = node.start_mark.line + 1 if node is not None else 1
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                rules = data.get("rules") or []
                entry = rules[loc[1]] if loc[1] < len(rules) else {}
                rid = entry.get("id", f"#{loc[1] + 1}") if isinstance(entry, dict) else f"#{loc[1] + 1}"
                field = ".".join(str(p) for p in loc[2:]) or "rule"
                problems.append(f"{path}:{line}: rule {rid!r}: {field}: {_describe(err)}")
            else:
                field = ".".join(str(p) for p in loc) or "file"
                problems.append(f"{path}:{line}: {field}: {_describe(err)}")
        raise RuleError("invalid alert rules:\n  " + "\n  ".join(problems)) from None
    seen: set[str] = set()
    for i, rule in enumerate(config.rules):
        if rule.id in seen:
            dup = _node_at(root, ["rules", i])
            dup_line: int = dup.start_mark.line + 1 if dup is not None else 1
            raise RuleError(f"{path}:{dup_line}: rule {rule.id!r}: id: duplicate id")
        seen.add(rule.id)
    return config
