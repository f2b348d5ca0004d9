"""Near-duplicate stories: pair precision/recall and speed of fingerprint + StoryIndex.

Pairs:
- ``tests/fixtures/stories/pairs.yaml``: hand-written syndicated copies (other title, dateline,
  "Read more at", "The post ... appeared first on", copyright), updates (sentence added, figure
  changed) and different stories on the same topic.
- Derived in memory from ``wh-briefings-2022`` (read in place; never copied): for a sample of statements
  (first 220 words), a positive is (a) the text with a wire dateline and a "Read more at" tail,
  (b) the text with its last word replaced by the opening of another statement (an update),
  (c) the text with one early word changed and the last 10% cut (an edited, shorter copy);
  negatives are pairs of different statements that both mention Ukraine (same topic, same house style).

A pair is predicted "same" when the second text, indexed after the first in a fresh StoryIndex, gets the
first one's story id. Baseline in the same run: exact duplicates of the folded text (a content hash).
Speed: fingerprint + assign over all statements and variants through one StoryIndex.

Usage: python bench/stories.py
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.stories import StoryIndex, fingerprint, hamming  # noqa: E402
from ingest.text import fold  # noqa: E402

T0 = datetime(2024, 11, 20, tzinfo=UTC)
Pair = tuple[tuple[str, str], tuple[str, str], bool, str]


def corpora_dir() -> Path:
    return Path(os.environ.get("NEWSWATCH_CORPORA", ROOT.parent / "shared" / "corpora")).resolve()


def fixture_pairs() -> list[Pair]:
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "tests/fixtures/stories/pairs.yaml").read_text(encoding="utf-8")
    )
    st = data["stories"]
    return [
        ((st[a]["title"], st[a]["body"]), (st[b]["title"], st[b]["body"]), bool(same), f"fixture/{kind}")
        for a, b, same, kind in data["pairs"]
    ]


def corpus_pairs(corpora: Path, n: int = 150) -> tuple[list[Pair], list[str]]:
    path = corpora / "wh-briefings-2022" / "statements-releases-2022-02_to_06.jsonl"
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = [d for d in docs if len(d["text_markdown"].split()) > 150]
    rnd = random.Random(7)

    def body(d: dict[str, Any]) -> str:
        return " ".join(d["text_markdown"].split()[:220])

    pairs: list[Pair] = []
    for i, d in enumerate(rnd.sample(docs, n)):
        b = body(d)
        w = b.split()
        title = d["title"]
        if i % 3 == 0:
            v, kind = f"WASHINGTON (AP) - {b} Read more at example-news.com", "derived/syndicated"
        elif i % 3 == 1:
            extra = " ".join(rnd.choice(docs)["text_markdown"].split()[:15])
            v, kind = " ".join(w[:-1]) + " " + extra, "derived/updated"
        else:
            w2 = list(w)
            w2[rnd.randrange(len(w2) // 2)] = "eleven"
            v, kind = " ".join(w2[: int(len(w2) * 0.9)]), "derived/edited"
        pairs.append(((title, b), (title + " - Example News", v), True, kind))
    ukr = [d for d in docs if "Ukrain" in d["text_markdown"]][:60]
    for a, b2 in itertools.islice(itertools.combinations(ukr, 2), 300):
        pairs.append(((a["title"], body(a)), (b2["title"], body(b2)), False, "derived/same_topic"))
    return pairs, [body(d) for d in docs]


def predict(pair: Pair) -> bool:
    index = StoryIndex()
    (t1, b1), (t2, b2), _, _ = pair
    first = index.add("a", fingerprint(b1, t1), T0)
    return index.add("b", fingerprint(b2, t2), T0 + timedelta(hours=2)) == first


def baseline(pair: Pair) -> bool:
    (_, b1), (_, b2), _, _ = pair
    return " ".join(fold(b1).split()) == " ".join(fold(b2).split())


def scores(pairs: list[Pair], fn: Any) -> tuple[float, float, int, int]:
    tp = fp = fn_ = 0
    for p in pairs:
        got = fn(p)
        tp += got and p[2]
        fp += got and not p[2]
        fn_ += (not got) and p[2]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn_) if tp + fn_ else 1.0
    return precision, recall, fp, fn_


def main() -> None:
    pairs = fixture_pairs()
    derived, bodies = corpus_pairs(corpora_dir())
    pairs += derived
    print(
        f"pairs: {len(pairs)} ({sum(p[2] for p in pairs)} same-story, "
        f"{sum(not p[2] for p in pairs)} different)"
    )
    for kind in sorted({p[3] for p in pairs}):
        sub = [p for p in pairs if p[3] == kind]
        ok = sum(predict(p) == p[2] for p in sub)
        dists = sorted(hamming(fingerprint(p[0][1], p[0][0]), fingerprint(p[1][1], p[1][0])) for p in sub)
        print(
            f"  {kind:22} {ok}/{len(sub)} correct  "
            f"hamming min/median/max {dists[0]}/{dists[len(dists) // 2]}/{dists[-1]}"
        )
    p, r, fp, fn_ = scores(pairs, predict)
    bp, br, _, _ = scores(pairs, baseline)
    print(f"SimHash StoryIndex: precision {p:.4f} recall {r:.4f} (false merges {fp}, missed {fn_})")
    print(f"baseline exact folded-text hash: precision {bp:.4f} recall {br:.4f}")

    texts = bodies + [p[1][1] for p in derived if p[2]]
    index = StoryIndex()
    t = time.perf_counter()
    for i, text in enumerate(texts):
        index.add(str(i), fingerprint(text), T0 + timedelta(seconds=i))
    ours = (time.perf_counter() - t) / len(texts)
    t = time.perf_counter()
    seen: dict[str, str] = {}
    for i, text in enumerate(texts):
        seen.setdefault(hashlib.sha1(" ".join(fold(text).split()).encode()).hexdigest(), str(i))
    base = (time.perf_counter() - t) / len(texts)
    print(
        f"speed: {ours * 1e3:.3f} ms per article (fingerprint + assign, {len(texts)} texts of <= 220 words); "
        f"exact-hash baseline {base * 1e3:.3f} ms (ratio {ours / base:.1f}x slower)"
    )
    print(f"pair_precision={p:.4f} pair_recall={r:.4f} baseline_recall={br:.4f} per_s={1 / ours:.0f}")


if __name__ == "__main__":
    main()
