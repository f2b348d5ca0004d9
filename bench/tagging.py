"""Topic-tagging speed: articles/s on one core, with the shipped rules and with >= 5,000 terms.

Texts: resistinua addresses (corpora, read in place), Ukrainian and English, as articles with title
(name), summary (description) and content (full text, a few KB: realistic article length), plus the same
items as headline + summary only. If the shipped rule file has fewer than 5,000 terms, synthetic topics
(random words in the six languages' scripts, with inflection prefixes and phrases) are appended to a
temporary copy until it has 5,000. Baseline, measured in the same run: one naive ``re`` alternation of
all terms (word-bounded, ``\\w*`` for prefixes) over the folded text, finding hits only (no scoring).

Headline figure (``articles_per_s``): real feed entries from fastfeedparser-benchmark (every 4th feed,
title + summary + content after a rough HTML strip, mean ~2 KB), with >= 5,000 terms; the fold cache is
cleared on every pass. ``fulltext_articles_per_s``: the resistinua addresses (~3 KB) with the same rules.

Usage: python bench/tagging.py [--seconds 3] [--terms 5000]
Last line: articles_per_s=... terms=...
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.model import TextInput  # noqa: E402
from ingest.tag import Tagger  # noqa: E402
from ingest.text import fold, speedups_enabled  # noqa: E402

ALPHABETS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "fr": "abcdefghijklmnopqrstuvwxyzéèàç",
    "de": "abcdefghijklmnopqrstuvwxyzäöüß",
    "pl": "abcdefghijklmnopqrstuvwxyząęłńóśźż",
    "ru": "абвгдежзиклмнопрстуфхцчшщыэюя",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщюя",
}


def synthetic_rules(base: str, have: int, want: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = [base.rstrip(), ""]
    n = have
    topic = 0
    while n < want:
        lines.append(f"  - id: synthetic-{topic}")
        lines.append("    terms:")
        for lang, alphabet in ALPHABETS.items():
            terms = []
            for _ in range(20):
                words = [
                    "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 10)))
                    for _ in range(rng.choice((1, 1, 1, 2)))
                ]
                text = " ".join(words) + ("*" if rng.random() < 0.3 else "")
                terms.append(json.dumps({text: rng.choice((1, 2, 3))}, ensure_ascii=False))
            lines.append(f"      {lang}: [{', '.join(terms)}]")
            n += len(terms)
        topic += 1
    return "\n".join(lines) + "\n"


def load_docs(corpora: Path) -> list[TextInput]:
    docs = []
    for lang in ("uk", "en"):
        path = corpora / "resistinua-addresses" / f"addresses_{lang}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            docs.append(TextInput(d["name"], d["description"], d["text"].replace("**", ""), lang))
    return docs


_TAG_RE = re.compile(r"<[^>]+>")


def _strip(html_text: str) -> str:
    return " ".join(html.unescape(_TAG_RE.sub(" ", html_text or "")).split())


def load_feed_entries(corpora: Path, every: int = 4) -> list[TextInput]:
    """Entries of every ``every``-th feed of fastfeedparser-benchmark (real feeds, read in place):
    title + summary + content after a rough HTML-to-text strip (content dropped when it repeats the
    summary). This is the realistic feed-entry text the headline figure is measured on."""
    import feedparser

    out = []
    folder = corpora / "fastfeedparser-benchmark" / "feeds"
    for path in sorted(folder.iterdir())[::every]:
        for e in feedparser.parse(path.read_bytes()).entries:
            title, summary = _strip(e.get("title", "")), _strip(e.get("summary", ""))
            content = " ".join(_strip(c.get("value", "")) for c in e.get("content", []) or [])
            out.append(TextInput(title, summary, "" if content == summary else content, "und"))
    return out


def rate(fn: Callable[[TextInput], object], docs: Sequence[TextInput], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while True:
        fold.cache_clear()  # no credit for the fold cache: every pass folds every text again
        for doc in docs:
            fn(doc)
        done += len(docs)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def naive_regex(tagger: Tagger) -> re.Pattern[str]:
    alts = []
    for topic in tagger.topics:
        for term in topic.all_terms():
            parts = [re.escape(w) + (r"\w*" if p else "") for w, p in term.units]
            alts.append(r"\W+".join(parts))
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--terms", type=int, default=5000)
    ap.add_argument(
        "--corpora",
        type=Path,
        default=Path(os.environ.get("NEWSWATCH_CORPORA", ROOT.parent / "shared" / "corpora")),
    )
    args = ap.parse_args()

    rules_path = ROOT / "config" / "topics.yaml"
    shipped = Tagger.from_file(rules_path)
    docs = load_docs(args.corpora)
    heads = [TextInput(d.title, d.summary, "", d.language) for d in docs]
    avg = sum(len(d.title) + len(d.summary) + len(d.content) for d in docs) / len(docs)
    print(f"{len(docs)} articles, average {avg:,.0f} characters (title+summary+content)")
    speedups = int(speedups_enabled())
    print(f"C speed-ups (ingest/_speedups.c): {'on' if speedups else 'off'} (off: NEWSWATCH_SPEEDUPS=0)")

    base = rules_path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        big_path = Path(tmp) / "topics-5000.yaml"
        big_path.write_text(synthetic_rules(base, shipped.term_count, args.terms), encoding="utf-8")
        t0 = time.perf_counter()
        big = Tagger.from_file(big_path)
        compile_s = time.perf_counter() - t0

    r_shipped = rate(shipped.tag, docs, args.seconds)
    print(f"shipped rules   ({shipped.term_count:5} terms): {r_shipped:9,.0f} articles/s full text")
    r_big = rate(big.tag, docs, args.seconds)
    print(
        f"with synthetic  ({big.term_count:5} terms): {r_big:9,.0f} articles/s full text "
        f"(rule file loaded and compiled in {compile_s:.2f}s)"
    )
    r_big_head = rate(big.tag, heads, args.seconds)
    print(f"with synthetic  ({big.term_count:5} terms): {r_big_head:9,.0f} articles/s headline+summary")
    feeds = load_feed_entries(args.corpora)
    feed_avg = sum(len(d.title) + len(d.summary) + len(d.content) for d in feeds) / len(feeds)
    r_feed = rate(big.tag, feeds, args.seconds)
    print(
        f"with synthetic  ({big.term_count:5} terms): {r_feed:9,.0f} articles/s on {len(feeds)} real feed "
        f"entries (fastfeedparser-benchmark, title+summary+content as text, mean {feed_avg:,.0f} chars)"
    )

    pattern = naive_regex(big)
    sample = docs[:: max(1, len(docs) // 60)]

    def baseline(doc: TextInput) -> int:
        return sum(len(pattern.findall(fold(getattr(doc, f)))) for f in ("title", "summary", "content"))

    r_base = rate(baseline, sample, args.seconds)
    print(
        f"baseline naive re alternation ({big.term_count} terms, hits only): "
        f"{r_base:9,.1f} articles/s full text"
    )
    print(f"ratio Aho-Corasick tagger / naive re (full text): {r_big / r_base:,.0f}x")
    print(
        f"articles_per_s={r_feed:.0f} terms={big.term_count} feed_entry_avg_chars={feed_avg:.0f} "
        f"fulltext_articles_per_s={r_big:.0f} shipped_terms={shipped.term_count} "
        f"shipped_articles_per_s={r_shipped:.0f} headline_articles_per_s={r_big_head:.0f} "
        f"baseline_re_articles_per_s={r_base:.1f} avg_chars={avg:.0f} speedups={speedups}"
    )


if __name__ == "__main__":
    main()
