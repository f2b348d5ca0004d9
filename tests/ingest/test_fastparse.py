"""The lxml fast path (``ingest.fastparse``) against feedparser (``parse_feed_feedparser``).

The corpus test is the safety net: for every corpus file the fast path accepts, the normalised Articles
(``normalise_entry`` with a fixed clock) and the ``FeedMeta`` must equal feedparser's, field by field.
Known, justified differences are listed in ``KNOWN_DIFFERENCES``, field by field.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.fastparse import Declined, _fast_parse, fast_parse
from ingest.model import Article
from ingest.normalise import normalise_entry
from ingest.parse import ParsedFeed, feed_meta, parse_feed, parse_feed_feedparser
from newswatch.errors import ParseError

FETCHED = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
URL = "https://example.test/feed"
CORPORA = (
    "feedparser-tests",
    "feedvalidator-testcases",
    "feed-rs-fixtures",
    "feedjira-sample-feeds",
    "fastfeedparser-benchmark",
    "fastfeedparser-integration",
    "lemon24-reader-testdata",
)
SKIP_NAMES = {"README.md", "LICENSE", "LICENSE-NOTE.txt"}
# "corpus/relative/path": (entry fields that may differ, why feedparser is wrong there)
KNOWN_DIFFERENCES: dict[str, tuple[tuple[str, ...], str]] = {
    "fastfeedparser-benchmark/feeds/3d13901a267083a8": (
        ("entry 22.title", "entry 22.content_hash"),
        "not well-formed (HTML5 '&colon;' in XML): feedparser's lenient parser leaves 'Re&colon; Double-entry"
        " accounting at scale' as is; repair_xml reads the reference as HTML does, 'Re: Double-entry...'",
    ),
}


def articles(parsed: ParsedFeed, url: str) -> list[Article | str]:
    out: list[Article | str] = []
    for entry in parsed.entries:
        try:
            out.append(normalise_entry(entry, parsed.meta, feed_url=url, fetched_at=FETCHED))
        except Exception as exc:  # compared like any other outcome
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def differences(data: bytes, url: str, content_type: str | None = None) -> list[str] | None:
    """``None`` if the fast path declines ``data``; else the differences from feedparser (empty: equal)."""
    quick = fast_parse(data, url=url, content_type=content_type)
    if quick is None:
        return None
    lenient = tuple(f"feed read leniently: {w}" for w in quick.warnings)
    fast = ParsedFeed(meta=feed_meta(quick.feed, quick.version), entries=quick.entries, warnings=lenient)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = parse_feed_feedparser(data, url=url, content_type=content_type)
        except ParseError as exc:
            return [f"feedparser raises ParseError ({exc.reason}), the fast path accepts"]
    diffs = []
    if fast.meta != ref.meta:
        diffs.append(f"meta: fast={fast.meta} feedparser={ref.meta}")
    if bool(ref.warnings) != bool(fast.warnings):  # not well-formed: feedparser's lenient parser, our repair
        diffs.append(f"warnings: fast={fast.warnings} feedparser={ref.warnings}")
    elif fast.warnings and "repaired" not in fast.warnings[-1] and fast.warnings != ref.warnings:
        diffs.append(f"warnings: fast={fast.warnings} feedparser={ref.warnings}")  # the same complaint
        diffs.append(f"warnings: fast={fast.warnings} feedparser={ref.warnings}")
    ours, theirs = articles(fast, url), articles(ref, url)
    if len(ours) != len(theirs):
        diffs.append(f"{len(ours)} entries, feedparser {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                diffs.append(f"entry {i}: fast={a!r} feedparser={b!r}")
            continue
        for field in dataclasses.fields(a):
            x, y = getattr(a, field.name), getattr(b, field.name)
            if x != y:
                diffs.append(f"entry {i}.{field.name}: fast={str(x)[:200]!r} feedparser={str(y)[:200]!r}")
    return diffs


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPORA)
def test_fast_path_equals_feedparser_on_corpus(corpora: Path, name: str) -> None:
    root = corpora / name
    if not root.is_dir():
        pytest.skip(f"{root} missing")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)
    accepted = 0
    report = []
    for path in files:
        diffs = differences(path.read_bytes(), path.as_uri())
        if diffs is None:
            continue
        accepted += 1
        allowed = KNOWN_DIFFERENCES.get(str(path.relative_to(corpora)), ((), ""))[0]
        diffs = [d for d in diffs if not d.startswith(tuple(f"{field}:" for field in allowed))]
        if diffs:
            report.append(f"{path}:\n    " + "\n    ".join(diffs[:8]))
    print(f"{name}: fast path took {accepted} of {len(files)} files")
    assert not report, f"{len(report)} files differ from feedparser:\n" + "\n".join(report[:20])
    if name == "fastfeedparser-benchmark":  # real-world feeds: nearly all should take the fast path
        assert accepted >= 0.9 * len(files), f"only {accepted} of {len(files)} took the fast path"


RSS_HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n'


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            RSS_HEAD
            + b"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
            xmlns:content="http://purl.org/rss/1.0/modules/content/"
            xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T &amp; co</title>
            <link>https://example.test/</link><language>fr</language><ttl>30</ttl>
            <image><title>Logo</title><url>https://example.test/l.png</url></image>
            <item><title>One &lt;b&gt;bold&lt;/b&gt;</title><link>/1?a=1&amp;b=2</link>
            <guid isPermaLink="false">g-1</guid><pubDate>Tue, 14 May 2024 10:00:00 +0200</pubDate>
            <description><![CDATA[<p>Summary <img src="/i.jpg"></p>]]></description>
            <content:encoded><![CDATA[<p>Full text</p>]]></content:encoded>
            <dc:creator>Ann</dc:creator><author>bob@example.test (Bob)</author>
            <category domain="d">Politics</category><category>Politics</category>
            <media:content url="https://example.test/m.jpg" medium="image"><media:title>M</media:title>
            <media:description>caption</media:description></media:content>
            <enclosure url="https://example.test/a.mp3" type="audio/mpeg" length="1"/></item>
            <item><title>Two</title><guid>https://example.test/2</guid>
            <description>plain &amp;amp; simple \xc3\x83\xc2\xa9</description></item>
            </channel></rss>""",
            id="rss20",
        ),
        pytest.param(
            RSS_HEAD
            + b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en" xml:base="https://b.test/x/">
            <title type="html">A &lt;i&gt;feed&lt;/i&gt;</title><id>tag:b.test,2024:feed</id>
            <link rel="self" href="https://b.test/atom"/><link href="/home"/>
            <entry xml:base="/y/"><title>E</title><id>tag:b.test,2024:1</id><link href="e1"/>
            <updated>2024-05-01T10:00:00Z</updated><published>2024-04-30T10:00:00+02:00</published>
            <author><name>Zoe</name><email>z@b.test</email><uri>/z</uri></author>
            <summary>S</summary><content type="html">&lt;p&gt;C&lt;/p&gt;</content>
            <category term="t1" label="Tag one"/></entry></feed>""",
            id="atom10-xml-base",
        ),
        pytest.param(
            RSS_HEAD
            + b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <channel rdf:about="https://r.test/"><title>R</title><link>https://r.test/</link></channel>
            <item rdf:about="https://r.test/1"><title>One</title><link>https://r.test/1</link>
            <dc:date>2024-05-01T10:00:00Z</dc:date><dc:subject>x</dc:subject></item></rdf:RDF>""",
            id="rss10",
        ),
        pytest.param(
            RSS_HEAD
            + b"""<rss version="2.0"><channel><title>G</title><link>https://g.test/</link>
            <item><title>Sonic &amp; All-Stars</title><description>Racing</description></item>
            <item><title>s&amp;box &#38; more</title></item>
            <item><title>Might &amp;amp; Magic</title><link>https://g.test/m</link></item></channel></rss>""",
            id="no-guid-ampersand-titles",
        ),
        pytest.param(
            RSS_HEAD
            + b"""<rss version="2.0"><channel><title>G</title><link>https://g.test/</link>
            <item><title></title><description>was newly added</description></item>
            <item><title>&amp;nbsp;</title><description>&lt;b&gt;x&lt;/b&gt;</description>
            <content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">Full text
            </content:encoded>
            </item></channel></rss>""",
            id="no-guid-empty-title-plain-summary-or-content",
        ),
        pytest.param(
            RSS_HEAD
            + b"""<!-- generated --><!DOCTYPE html><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
            <entry><id>tag:t,2024:1</id><title>E &amp; F</title><summary>S</summary></entry></feed>""",
            id="bare-doctype-name",
        ),
        pytest.param(
            RSS_HEAD
            + b"""<rss version="2.0"><channel><title>C</title><image><url>https://c.test/l.png</url></image>
            <item><title>First</title><image>https://c.test/i.jpg</image><title>Second</title>
            <guid isPermaLink="false">c1</guid></item>
            <item><image>https://c.test/j.jpg</image><title>Third</title><guid>c2</guid></item></channel></rss>""",
            id="text-only-image-in-items",
        ),
    ],
)
def test_fast_path_accepts_and_equals_feedparser(data: bytes) -> None:
    assert differences(data, URL) == []


RSS_ITEM = RSS_HEAD + b"<rss version='2.0'><channel><title>G</title><item><guid>g1</guid><title>%s</title>"
RSS_ITEM += b"<description>%s</description></item></channel></rss>"


@pytest.mark.parametrize(
    ("data", "repaired"),
    [
        (RSS_ITEM % (b"caf&eacute; &nbsp;&hellip;", b"x"), "&eacute;, &nbsp;, &hellip; read as HTML"),
        (RSS_ITEM % (b"x &bogus; y", b"x"), "&bogus; unknown, kept as text"),
        (RSS_ITEM % (b"Tom & Jerry", b"a && b"), "3 bare '&' read as '&amp;'"),
        (  # a CDATA section's "&" is text: left alone
            RSS_ITEM % (b"<![CDATA[Tom & Jerry &amp; co]]> &nbsp;", b"<![CDATA[a & b]]> & c"),
            "&nbsp; read as HTML, 1 bare '&' read as '&amp;'",
        ),
        (  # a DOCTYPE inside content is text: only one before the root element stops the repair
            RSS_ITEM % (b"x &nbsp;", b"<![CDATA[<!DOCTYPE html><p>page</p>]]>"),
            "&nbsp; read as HTML",
        ),
        (RSS_ITEM % (b"bell\x07 here", b"nul\x00\x1f"), "3 control characters dropped"),
        (RSS_ITEM % (b"x", b"y") + b"\n<script src='/cdn-cgi/e.js'></script>\n", "39 bytes after the root"),
    ],
    ids=[
        "html-entities",
        "unknown-entity",
        "bare-ampersand",
        "cdata",
        "doctype-in-content",
        "control-characters",
        "trailing-script",
    ],
)
def test_not_well_formed_documents_are_repaired_and_equal_feedparser(data: bytes, repaired: str) -> None:
    """Real feeds' common XML faults are mended (``repair_xml``) and the document takes the fast path,
    with a warning naming the repair, instead of feedparser's lenient parser (x10 slower); the Articles
    are feedparser's, which reads these documents leniently (and warns)."""
    quick = fast_parse(data, url=URL, content_type=None)
    assert quick is not None
    assert len(quick.warnings) == 1 and repaired in quick.warnings[0]
    diffs = differences(data, URL)
    if "control characters" in repaired:  # feedparser keeps them; nothing else differs
        controls = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
        reference = parse_feed_feedparser(data, url=URL).entries[0]
        assert quick.entries[0]["title"] == controls.sub("", reference["title"]) != reference["title"]
        diffs = [
            d
            for d in diffs
            if not d.startswith(("entry 0.title:", "entry 0.summary:", "entry 0.content_hash:"))
        ]
    assert diffs == []
    assert parse_feed(data, url=URL).warnings == (f"feed read leniently: {quick.warnings[0]}",)


def test_html5_references_feedparser_leaves_as_written_are_read() -> None:
    """feedparser's lenient parser knows HTML 4's references only; ``&colon;`` (HTML5) stayed as written."""
    parsed = parse_feed(RSS_ITEM % (b"Re&colon; budget", b"x"), url=URL)
    assert parsed.entries[0]["title"] == "Re: budget"
    reference = parse_feed_feedparser(RSS_ITEM % (b"Re&colon; budget", b"x"), url=URL)
    assert reference.entries[0]["title"] == "Re&colon; budget"


@pytest.mark.parametrize(
    "data",
    [
        RSS_ITEM % (b"<b>unclosed", b"x"),  # mismatched tags are not a fault repair_xml mends
        RSS_ITEM % (b"x", b"y") + RSS_ITEM[len(RSS_HEAD) :] % (b"z", b"w"),  # entries after the root
        RSS_HEAD + b"<!DOCTYPE rss [<!ENTITY a 'b'>]><rss version='2.0'><channel><title>&c;</title>"
        b"</channel></rss>",  # a DOCTYPE's entities are its own
    ],
    ids=["mismatched-tags", "second-document", "doctype"],
)
def test_faults_repair_xml_does_not_mend_go_to_feedparser(data: bytes) -> None:
    assert fast_parse(data, url=URL, content_type=None) is None
    parsed = parse_feed(data, url=URL)
    assert parsed.warnings and parsed.warnings[0].startswith("feed read leniently: SAXParseException")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<opml><body/></opml>", "root"),
        (
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel>'
            b"<title>&x;</title></channel></rss>",
            None,
        ),
        (
            b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>1</id><content type='xhtml'>"
            b"<div xmlns='http://www.w3.org/1999/xhtml'><p>x</p></div></content></entry></feed>",
            "markup",
        ),
        (
            b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>1</id>"
            b"<content type='image/png'>aGk=</content></entry></feed>",
            "base64",
        ),
        (
            b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel>'
            b"<title>T&nbsp;</title></channel></rss>",
            "doctype",
        ),
    ],
    ids=["opml", "doctype", "inline-xhtml", "base64", "netscape-doctype"],
)
def test_fast_path_declines(data: bytes, reason: str | None) -> None:
    _assert_declines(data, reason)


@pytest.mark.parametrize(
    "title",
    [b"&lt;img src=x&gt;", b"&amp;nbsp;", b"&#160;", b"&amp;lt;b&amp;gt;", b"<![CDATA[<b>x</b>]]>", b""],
)
def test_fast_path_declines_entries_that_may_have_no_text(title: bytes) -> None:
    """No guid, no summary and a title that may normalise to nothing: normalise would identify the entry
    by the whole entry dict, which is feedparser's own."""
    data = RSS_HEAD + b"<rss version='2.0'><channel><title>G</title><item><title>" + title
    data += b"</title></item></channel></rss>"
    _assert_declines(data, "guid")


def _assert_declines(data: bytes, reason: str | None) -> None:
    assert fast_parse(data, url=URL, content_type=None) is None
    if reason is not None:
        with pytest.raises(Declined, match=reason):
            _fast_parse(data, URL, None)


def test_hostile_entities_are_never_expanded() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&xxe;</title><item><title>i</title></item></channel></rss>'
    )
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b']><rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
    )
    for data in (xxe, laughs):
        assert fast_parse(data, url=URL, content_type=None) is None
        try:
            parsed = parse_feed(data, url=URL)
        except ParseError:
            continue
        assert "root:" not in parsed.meta.title
        assert len(parsed.meta.title) < 1000


def test_charset_conflict_is_read_with_feedparser_warning() -> None:
    data = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Été</title>'
    data += "<item><title>x</title><guid>1</guid></item></channel></rss>"
    raw = data.encode("cp1252")
    # text/xml without charset: us-ascii declared, windows-1252 read; feedparser reads on, and warns
    assert differences(raw, URL, "text/xml") == []
    ours = parse_feed(raw, url=URL, content_type="text/xml")
    assert ours.warnings == parse_feed_feedparser(raw, url=URL, content_type="text/xml").warnings
    assert ours.warnings == (
        "feed read leniently: CharacterEncodingOverride: document declared as us-ascii, "
        "but parsed as windows-1252",
    )
    assert fast_parse(raw, url=URL, content_type="application/xml; charset=windows-1252") is not None
    assert differences(raw, URL, "application/xml; charset=windows-1252") == []
