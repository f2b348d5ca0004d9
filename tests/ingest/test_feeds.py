"""feeds.yaml validation and OPML import/export (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.feeds import FeedConfig, dump_feeds_yaml, parse_duration, parse_feeds_yaml, parse_opml, to_opml
from newswatch.errors import ConfigError
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(900, 900), ("900", 900), ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (" 5 M ", 300)],
)
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "-5", 0, "1w", True, 1.5, None])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "feeds:\n  - url: ftp://x.example/f\n",
            "feeds.yaml:2: feeds[0] (ftp://x.example/f): url: must be an http",
        ),
        ("feeds:\n  - name: no url\n", "feeds[0]: url: Field required"),
        (
            "feeds:\n  - url: https://a.example/f\n    colour: red\n",
            "(https://a.example/f): colour: unknown field",
        ),
        ("feeds:\n  - url: https://a.example/f\n    lang: english\n", "lang: must be a language code"),
        ("feeds:\n  - url: https://a.example/f\n    tags: [ok, '']\n", "tags: every tag must be"),
        (
            "feeds:\n  - url: https://a.example/f\n  - url: https://a.example/f\n",
            "feeds[1] (https://a.example/f): duplicate url",
        ),
        ("feeds:\n  - https://a.example/f\n", "feeds[0]: expected a mapping"),
        ("feeds: {url: x}\n", "`feeds` must be a list"),
        ("feedz: []\n", "expected a mapping with one key `feeds:`"),
        ("feeds: [\n", "feeds.yaml:2: not valid YAML"),
    ],
)
def test_feeds_yaml_errors_name_file_entry_and_field(yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_feeds_yaml(yaml_text, "feeds.yaml")
    assert message in str(info.value)


def test_all_errors_reported_at_once() -> None:
    text = (
        "feeds:\n  - url: https://ok.example/f\n  - url: nope\n"
        "  - url: https://b.example/f\n    interval: x\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_feeds_yaml(text, "f.yaml")
    assert "2 error(s) in f.yaml" in str(info.value)


def test_feeds_yaml_fields_and_round_trip() -> None:
    text = (
        "feeds:\n  - url: https://a.example/rss\n    name: A\n    interval: 15m\n    lang: FR\n"
        "    tags: [nato, nato, eu]\n    full_text: true\n    enabled: false\n  - url: https://b.example/atom\n"
    )
    a, b = parse_feeds_yaml(text)
    assert (a.url, a.name, a.interval_s, a.language, a.tags, a.full_text, a.enabled) == (
        "https://a.example/rss",
        "A",
        900,
        "fr",
        ("nato", "eu"),
        True,
        False,
    )
    assert b.display_name == "b.example" and b.interval_s is None and b.enabled
    assert parse_feeds_yaml(dump_feeds_yaml([a, b])) == (a, b)


def test_shipped_feeds_yaml_is_valid_and_multilingual() -> None:
    feeds = parse_feeds_yaml((ROOT / "config" / "feeds.yaml").read_text(encoding="utf-8"))
    assert 40 <= len(feeds) <= 80
    assert {f.language for f in feeds} == {"en", "fr", "de", "pl", "uk", "ru"}
    assert all(f.url.startswith(("https://", "http://")) for f in feeds)


OPML = """<?xml version="1.0"?>
<opml version="1.0"><head><title>subs</title></head><body>
  <outline text="News" title="News">
    <outline text="Defence">
      <outline type="rss" text="Defense News" title="Defense News" xmlUrl="https://d.example/rss" htmlUrl="https://d.example/"/>
    </outline>
    <outline type="rss" text="Le Monde" xmlurl="https://lemonde.example/rss"
             category="/france,international"/>
  </outline>
  <outline text="Europe">
    <outline type="rss" text="Defense News again" xmlUrl="https://d.example/rss"/>
    <outline type="rss" text="broken" xmlUrl="javascript:alert(1)"/>
  </outline>
  <outline type="rss" title="Top level" xmlUrl="https://top.example/feed" language="de"/>
</body></opml>"""


def test_parse_opml_nested_categories_become_tags() -> None:
    result = parse_opml(OPML, "subs.opml")
    by_url = {f.url: f for f in result.feeds}
    assert list(by_url) == [
        "https://d.example/rss",
        "https://lemonde.example/rss",
        "https://top.example/feed",
    ]
    assert by_url["https://d.example/rss"].tags == ("News", "Defence", "Europe")
    assert by_url["https://d.example/rss"].name == "Defense News"
    assert by_url["https://lemonde.example/rss"].tags == ("News", "france", "international")
    assert by_url["https://top.example/feed"].language == "de"
    [error] = result.errors
    assert "subs.opml: outline Europe/broken (javascript:alert(1))" in error


@pytest.mark.parametrize(
    ("text", "message"),
    [("<opml><body>", "not valid XML"), ("<rss/>", "expected <opml>"), ("<opml><head/></opml>", "no <body>")],
)
def test_parse_opml_document_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_opml(text, "x.opml")


def test_opml_round_trip() -> None:
    feeds = [
        FeedConfig(
            url="https://a.example/rss",
            name="A",
            tags=("nato", "eu"),
            language="fr",
            interval_s=600,
            full_text=True,
        ),
        FeedConfig(url="https://b.example/rss?x=1&y=2", name="Б «quoted»", enabled=False),
        FeedConfig(url="https://c.example/rss", tags=("nato",)),
    ]
    text = to_opml(feeds)
    assert 'type="rss"' in text and 'xmlUrl="https://b.example/rss?x=1&amp;y=2"' in text
    result = parse_opml(text)
    assert result.errors == ()
    back = {f.url: f for f in result.feeds}
    assert back["https://a.example/rss"] == feeds[0]
    assert back["https://b.example/rss?x=1&y=2"] == feeds[1]
    assert back["https://c.example/rss"].tags == ("nato",)
    assert back["https://c.example/rss"].name == "c.example"


@pytest.mark.corpus
def test_parse_real_opml_files(corpora: Path) -> None:
    folder = corpora / "awesome-rss-feeds-opml" / "countries"
    ukraine = parse_opml((folder / "Ukraine.opml").read_bytes(), "Ukraine.opml")
    assert len(ukraine.feeds) >= 10 and not ukraine.errors
    assert any(f.name == "Українська правда" for f in ukraine.feeds)
    assert all("Ukraine" in f.tags for f in ukraine.feeds)
    total = 0
    broken = []
    for path in sorted(folder.glob("*.opml")):  # most carry bare '&' in URLs: accepted like readers do
        try:
            result = parse_opml(path.read_bytes(), path.name)
        except ConfigError as exc:  # Russia.opml has unescaped quotes inside an attribute
            assert str(exc).startswith(f"{path.name}: not valid XML: ")
            broken.append(path.name)
            continue
        total += len(result.feeds)
        back = parse_opml(to_opml(result.feeds)).feeds
        assert [(f.url, f.display_name, f.tags) for f in back] == [
            (f.url, f.display_name, f.tags) for f in result.feeds
        ]
    assert total > 200 and broken == ["Russia.opml"]
