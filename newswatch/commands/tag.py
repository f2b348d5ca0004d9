"""``newswatch tag`` (tag JSON lines) and ``newswatch topics test`` (back-test a rule on the index).

``tag`` reads JSON objects, one per line (``title``, ``summary``, ``content``, optional ``language``), and
writes the same objects with ``language`` and ``topics`` added. A line that is not a JSON object is
reported on stderr with its number; the other lines are still processed and the exit status is 1.

``topics test TOPIC --since 7d`` scans the articles indexed in that window and re-tags them in Python
with the rule file as it is now (possibly edited, not yet shipped), then prints how many articles per
day and language the topic would get, with examples.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click

from ingest.model import TextInput, TopicMatch
from ingest.tag import Tagger
from newswatch.errors import ConfigError

_SINCE_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``"7d"`` -> 7 days; units s, m, h, d, w."""
    m = _SINCE_RE.match(text)
    if not m:
        raise click.BadParameter(f"{text!r}: expected a number and a unit (s, m, h, d, w), e.g. 7d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def topic_json(match: TopicMatch, explain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": match.id, "score": match.score, "terms": list(match.terms)}
    if explain:
        out["hits"] = [{"term": h.term, "field": h.field, "position": h.position} for h in match.hits]
    return out


def _detector(languages: tuple[str, ...]) -> Callable[[str, str, str | None], str] | None:
    try:
        from ingest.language import LanguageDetector
    except ImportError:
        return None
    detector = LanguageDetector(languages)
    return lambda title, text, hint: str(detector.detect(title, text, hint))


def tag_lines(
    lines: Iterable[str],
    tagger: Tagger,
    out: IO[str],
    err: IO[str],
    detect: Callable[[str, str, str | None], str] | None = None,
    explain: bool = False,
) -> int:
    """Tag each JSON line of ``lines`` into ``out``; returns the number of bad lines (reported on ``err``)."""
    bad = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
            fields = {k: obj.get(k) or "" for k in ("title", "summary", "content")}
            for k, v in fields.items():
                if not isinstance(v, str):
                    raise ValueError(f"{k!r} must be a string")
            hint = obj.get("language")
            if hint is not None and not isinstance(hint, str):
                raise ValueError("'language' must be a string")
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            bad += 1
            err.write(f"newswatch tag: line {number}: {exc}\n")
            continue
        if detect is not None:
            language = detect(fields["title"], f"{fields['summary']}\n{fields['content']}", hint)
        else:
            language = hint or "und"
        doc = TextInput(fields["title"], fields["summary"], fields["content"], language)
        obj["language"] = language
        obj["topics"] = [topic_json(m, explain) for m in tagger.tag(doc, language)]
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return bad


@dataclass
class BacktestReport:
    topic: str
    scanned: int = 0
    matched: int = 0
    per_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # (day, language) -> count
    examples: list[dict[str, Any]] = field(default_factory=list)


def backtest(tagger: Tagger, topic: str, docs: Iterable[dict[str, Any]], examples: int = 5) -> BacktestReport:
    """Re-tag ``docs`` (ES ``_source`` dicts) with one topic of ``tagger``; pure, no I/O."""
    if topic not in tagger.topic_ids:
        raise ConfigError(f"{tagger.source}: no topic {topic!r} (topics: {', '.join(tagger.topic_ids)})")
    single = tagger.subset([topic])
    report = BacktestReport(topic)
    for src in docs:
        report.scanned += 1
        doc = TextInput(
            str(src.get("title") or ""),
            str(src.get("summary") or ""),
            str(src.get("content") or ""),
            src.get("language"),
        )
        matches = single.tag(doc, doc.language)
        if not matches:
            continue
        report.matched += 1
        when = str(src.get("published_at") or src.get("indexed_at") or "")[:10] or "unknown"
        report.per_day[(when, str(src.get("language") or "und"))] += 1
        if len(report.examples) < examples:
            report.examples.append(
                {
                    "title": doc.title,
                    "language": doc.language,
                    "score": matches[0].score,
                    "terms": list(matches[0].terms),
                    "url": src.get("url"),
                }
            )
    return report


def scan_recent(es: Any, index: str, since: datetime) -> Iterator[dict[str, Any]]:
    from elasticsearch import helpers

    query = {"query": {"range": {"indexed_at": {"gte": since.isoformat()}}}}
    fields = ["title", "summary", "content", "language", "published_at", "indexed_at", "url"]
    for hit in helpers.scan(es, index=index, query=query, _source=fields, size=500):
        yield hit["_source"]


def _rules_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--rules",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Topic rule file (default: <config_dir>/topics.yaml).",
    )(f)


def register(group: click.Group) -> None:
    from newswatch.cli import AppContext, pass_app

    @group.command("tag")
    @click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
    @click.option("--explain", is_flag=True, help="Also print each hit (term, field, position).")
    @_rules_option
    @pass_app
    def tag_cmd(app: AppContext, file: IO[str], explain: bool, rules: Path | None) -> None:
        """Tag JSON lines (title, summary, content, language) from FILE or stdin."""
        tagger = Tagger.from_file(rules or app.settings.config_dir / "topics.yaml")
        bad = tag_lines(file, tagger, sys.stdout, sys.stderr, _detector(app.settings.languages), explain)
        if bad:
            sys.exit(1)

    @group.group("topics")
    def topics() -> None:
        """Inspect and back-test topic rules."""

    @topics.command("test")
    @click.argument("topic")
    @click.option("--since", default="7d", show_default=True, help="Window on indexed_at: 30m, 24h, 7d, 2w.")
    @click.option("--examples", default=5, show_default=True, help="How many matching articles to show.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @_rules_option
    @pass_app
    def topics_test(
        app: AppContext, topic: str, since: str, examples: int, as_json: bool, rules: Path | None
    ) -> None:
        """Back-test TOPIC: how many recent indexed articles it would tag, per day and language."""
        from index.client import make_client, storage_errors

        window = parse_since(since)
        tagger = Tagger.from_file(rules or app.settings.config_dir / "topics.yaml")
        if topic not in tagger.topic_ids:
            raise ConfigError(f"{tagger.source}: no topic {topic!r} (topics: {', '.join(tagger.topic_ids)})")
        es = make_client(app.settings)
        index = app.settings.index_name("articles")
        cutoff = datetime.now(UTC) - window
        with storage_errors(es, f"scanning {index}"):
            report = backtest(tagger, topic, scan_recent(es, index, cutoff), examples)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "topic": topic,
                        "since": cutoff.isoformat(),
                        "scanned": report.scanned,
                        "matched": report.matched,
                        "per_day": [
                            {"day": d, "language": lang, "count": n}
                            for (d, lang), n in sorted(report.per_day.items())
                        ],
                        "examples": report.examples,
                    },
                    ensure_ascii=False,
                )
            )
            return
        click.echo(
            f"topic {topic}: {report.matched} of {report.scanned} articles indexed since "
            f"{cutoff:%Y-%m-%d %H:%M}Z"
        )
        for (day, lang), n in sorted(report.per_day.items()):
            click.echo(f"  {day}  {lang:4} {n:6}")
        for ex in report.examples:
            click.echo(
                f"  e.g. [{ex['language']}] {ex['title'][:100]}  (score {ex['score']}: "
                f"{', '.join(ex['terms'][:6])})"
            )
