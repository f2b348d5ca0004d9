from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.model import Article
from ingest.parse import parse_feed
from ingest.pipeline import process_feed
from newswatch.errors import ParseError

CONFIG = Path(__file__).resolve().parents[2] / "config"
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
FETCHED = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
URL = "https://feeds.test/feed"
SEEDS = [p.read_bytes() for p in sorted(GOLDEN.iterdir()) if not p.name.endswith(".expected.json")]


def check(data: bytes) -> None:
    """process_feed raises only ParseError, and every entry the parser yields is an article or an error."""
    try:
        batch = process_feed(data, feed_url=URL, fetched_at=FETCHED)
    except ParseError as exc:
        assert exc.source == URL
        return
    entries = parse_feed(data, url=URL).entries
    assert len(batch.articles) + len(batch.errors) == len(entries)
    for error in batch.errors:
        assert URL in error
    for article in batch.articles:
        assert article.fetched_at == FETCHED
        assert article.published_at is None or article.published_at.tzinfo is not None
        json.dumps(article.to_dict(), ensure_ascii=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            chunk = draw(
                st.sampled_from(
                    [
                        b"<",
                        b"&",
                        b"&amp;",
                        b"]]>",
                        b"<item>",
                        b"</item>",
                        b"\x00",
                        b"\xff\xfe",
                        b"<![CDATA[",
                        b"&#0;",
                        b'"',
                        b"{",
                        b"<entry>",
                    ]
                )
            )
            data[pos:pos] = chunk
        else:
            del data[pos : pos + draw(st.integers(1, 50))]
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_feed())
def test_mutated_feeds(data: bytes) -> None:
    check(data)


@settings(max_examples=100, deadline=None)
@given(
    title=st.text(max_size=80),
    summary=st.text(max_size=300),
    link=st.text(max_size=60),
    date=st.text(max_size=40),
)
def test_generated_rss_items_are_never_lost(title: str, summary: str, link: str, date: str) -> None:
    from xml.sax.saxutils import escape

    def x(s: str) -> str:
        return escape(
            "".join(
                c
                for c in s
                if c == "\n"
                or c == "\t"
                or (c >= " " and c not in "\ufffe\uffff" and not "\ud800" <= c <= "\udfff")
            )
        )

    data = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<item><title>{x(title)}</title><link>{x(link)}</link><pubDate>{x(date)}</pubDate>"
        f"<description>{x(summary)}</description><guid>g</guid></item></channel></rss>"
    ).encode()
    batch = process_feed(data, feed_url=URL, fetched_at=FETCHED)
    assert len(batch.articles) == 1 and not batch.errors
    art = batch.articles[0]
    assert "<" not in art.title or ">" not in art.title or "script" not in art.title.lower()


class _Upper:
    def enrich(self, article: Article, *, language_hint: str | None) -> Article:
        return dataclasses.replace(article, title=article.title.upper(), language=language_hint or "und")


class _Broken:
    def enrich(self, article: Article, *, language_hint: str | None) -> Article:
        raise RuntimeError("model missing")


def test_enricher_is_applied_with_the_feed_language_as_hint() -> None:
    data = (GOLDEN / "latin1.xml").read_bytes()
    batch = process_feed(data, feed_url=URL, fetched_at=FETCHED, enricher=_Upper())
    assert batch.articles[0].title == batch.articles[0].title.upper()
    assert batch.articles[0].language == "fr"
    hinted = process_feed(data, feed_url=URL, fetched_at=FETCHED, enricher=_Upper(), language_hint="de")
    assert hinted.articles[0].language == "de"


def test_failing_enricher_keeps_the_article_and_warns() -> None:
    batch = process_feed(
        (GOLDEN / "rdf10.rdf").read_bytes(), feed_url=URL, fetched_at=FETCHED, enricher=_Broken()
    )
    assert len(batch.articles) == 2
    assert sum("not enriched" in w for w in batch.warnings) == 2


def test_entry_errors_name_feed_and_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.pipeline

    real = ingest.pipeline.normalise_entry

    def flaky(entry, meta, *, feed_url, fetched_at):  # type: ignore[no-untyped-def]
        if entry.get("title") == "bad":
            raise ValueError("boom")
        return real(entry, meta, feed_url=feed_url, fetched_at=fetched_at)

    monkeypatch.setattr(ingest.pipeline, "normalise_entry", flaky)
    data = b"""<rss version="2.0"><channel><title>T</title><item><title>ok</title></item>
    <item><title>bad</title></item><item><description></description></item></channel></rss>"""
    batch = process_feed(data, feed_url=URL, fetched_at=FETCHED)
    assert len(batch.articles) == 2
    (error,) = batch.errors
    assert error.startswith(f"{URL}: entry #2 (title 'bad')") and "boom" in error


# ------------------------------------------------------------------------------------ CLI


@pytest.fixture
def feed_dir(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.xml").write_bytes((GOLDEN / "rdf10.rdf").read_bytes())
    (tmp_path / "sub" / "b.json").write_bytes((GOLDEN / "jsonfeed11.json").read_bytes())
    (tmp_path / "sub" / "noext").write_bytes((GOLDEN / "latin1.xml").read_bytes())
    (tmp_path / "broken.rss").write_bytes(b"this is not a feed at all")
    (tmp_path / "notes.txt").write_text("ignored: neither a feed suffix nor feed-like")
    return tmp_path


def test_cli_ingest_dry_run(feed_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch.cli import main

    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(CONFIG))
    monkeypatch.setenv("NEWSWATCH_LOG_LEVEL", "ERROR")
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", "--dry-run", str(feed_dir)])
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    titles = {line["title"] for line in lines}
    assert "Sanktionen gegen Banken verschärft" in titles
    assert "Military aid package announced" in titles
    assert "Défense aérienne : réunion à Bruxelles" in titles
    assert len(lines) == 5
    assert "broken.rss" in result.stderr
    assert "notes.txt" not in result.stderr
    by_title = {line["title"]: line for line in lines}
    assert by_title["Sanktionen gegen Banken verschärft"]["language"] == "de"  # enriched
    assert "sanctions" in [t["id"] for t in by_title["Sanktionen gegen Banken verschärft"]["topics"]]


def test_cli_missing_source_is_named(feed_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch.cli import main

    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(CONFIG))
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", "--dry-run", str(feed_dir / "a.xml"), str(feed_dir / "nope.xml")])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2
    assert "nope.xml" in result.stderr


class _HalfBroken:
    """A batch enricher failing on the second article only."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def enrich(self, article: Article, *, language_hint: str | None) -> Article:
        raise AssertionError("enrich_many must be used when present")

    def enrich_many(self, articles: list[Article], hints: list[str | None]) -> list[Article | Exception]:
        self.calls.append(len(articles))
        return [
            RuntimeError("model missing") if i == 1 else dataclasses.replace(a, title=a.title.upper())
            for i, (a, h) in enumerate(zip(articles, hints, strict=True))
        ]


def test_batch_enricher_gets_the_feed_at_once_and_failures_stay_per_article() -> None:
    enricher = _HalfBroken()
    batch = process_feed(
        (GOLDEN / "rdf10.rdf").read_bytes(), feed_url=URL, fetched_at=FETCHED, enricher=enricher
    )
    assert enricher.calls == [2]
    assert len(batch.articles) == 2
    first, second = batch.articles
    assert first.title == first.title.upper() and second.title != second.title.upper()
    (warning,) = [w for w in batch.warnings if "not enriched" in w]
    assert "entry #2" in warning and "RuntimeError: model missing" in warning
