"""Accuracy of topic tagging (config/topics.yaml) on labelled data.

Data:
  * tests/fixtures/tagging/dev_*.jsonl -- short news-like items written for this project, labelled by hand
    (title, summary, language, topics). Items with ``topics: []`` are unrelated news (sports, culture,
    domestic politics) and give the false-positive rate.
  * resistinua-addresses (corpora, read in place) -- Ukrainian/English parallel addresses with manual
    per-address labels mapped to our core topics. Those labels are per address and incomplete (a speech
    that mentions sanctions in passing is often not labelled "sanctions"), so precision there is a lower
    bound; we report full-text and headline (name + description) figures separately.
  * wh-briefings-2022 (unlabelled English) -- false-positive inspection: how many items are tagged ``nato``
    without a standalone NATO / North Atlantic word (the "senator" trap), and a sample of tags to eyeball.

Usage: python bench/accuracy.py [--rules config/topics.yaml] [--corpora PATH] [--show-errors]
Last line: key=value summary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.model import TextInput  # noqa: E402
from ingest.tag import Tagger  # noqa: E402

CORE = ("nato", "air-defence", "sanctions", "military-aid")
RESISTINUA_MAP = {
    "Міжнародні санкції": "sanctions",
    "Нафтове ембарго": "sanctions",
    "Секторальні санкції": "sanctions",
    "Санкційна політика": "sanctions",
    "Санкції": "sanctions",
    "Економічна ізоляція": "sanctions",
    "Постачання зброї": "military-aid",
    "Ленд-ліз": "military-aid",
    "Закрите небо": "air-defence",
    "Саміт НАТО": "nato",
}

Item = tuple[str, str, TextInput, frozenset[str]]  # id, language, input, gold topics


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def load_dev(folder: Path) -> list[Item]:
    out: list[Item] = []
    for path in sorted(folder.glob("dev_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                doc = TextInput(d.get("title", ""), d.get("summary", ""), d.get("content", ""), d["language"])
                out.append((d["id"], d["language"], doc, frozenset(d["topics"])))
    return out


def load_resistinua(corpora: Path, headline: bool) -> list[Item]:
    out: list[Item] = []
    for lang in ("uk", "en"):
        path = corpora / "resistinua-addresses" / f"addresses_{lang}.jsonl"
        seen: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if d["id"] in seen:
                continue
            seen.add(d["id"])
            gold = frozenset(RESISTINUA_MAP[t] for t in d.get("topics") or () if t in RESISTINUA_MAP)
            content = "" if headline else d.get("text", "").replace("**", "")
            doc = TextInput(d.get("name", ""), d.get("description", ""), content, lang)
            out.append((d["id"], lang, doc, gold))
    return out


def evaluate(
    tagger: Tagger, items: Iterable[Item], topics: Iterable[str], title: str, show_errors: bool = False
) -> tuple[dict[tuple[str, str], tuple[float, float, float, int]], dict[str, frozenset[str]]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    predicted: dict[str, frozenset[str]] = {}
    topics = tuple(topics)
    for iid, lang, doc, gold in items:
        pred = frozenset(m.id for m in tagger.tag(doc, lang))
        predicted[f"{lang}:{iid}"] = pred
        for t in topics:
            c = counts[(t, lang)]
            if t in pred and t in gold:
                c[0] += 1
            elif t in pred:
                c[1] += 1
                if show_errors:
                    print(f"  FP {t:14} {lang} {iid}: {doc.title[:90]}")
            elif t in gold:
                c[2] += 1
                if show_errors:
                    print(f"  FN {t:14} {lang} {iid}: {doc.title[:90]}")
    print(f"\n== {title}")
    langs = sorted({lang for _t, lang in counts})
    print(f"{'topic':15}" + "".join(f"{lang:>22}" for lang in langs) + f"{'all':>22}")
    result: dict[tuple[str, str], tuple[float, float, float, int]] = {}
    for t in topics:
        row = f"{t:15}"
        tot = [0, 0, 0]
        for lang in langs:
            tp, fp, fn = counts[(t, lang)]
            tot = [tot[0] + tp, tot[1] + fp, tot[2] + fn]
            p, r, f = prf(tp, fp, fn)
            result[(t, lang)] = (p, r, f, tp + fn)
            row += f"   P{p:4.2f} R{r:4.2f} F{f:4.2f} n{tp + fn:<3}"
        p, r, f = prf(*tot)
        result[(t, "all")] = (p, r, f, tot[0] + tot[2])
        row += f"   P{p:4.2f} R{r:4.2f} F{f:4.2f} n{tot[0] + tot[2]:<3}"
        print(row)
    return result, predicted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=Path, default=ROOT / "config" / "topics.yaml")
    ap.add_argument(
        "--corpora",
        type=Path,
        default=Path(os.environ.get("NEWSWATCH_CORPORA", ROOT.parent / "shared" / "corpora")),
    )
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    tagger = Tagger.from_file(args.rules)

    dev = load_dev(ROOT / "tests" / "fixtures" / "tagging")
    dev_res, dev_pred = evaluate(
        tagger, dev, tagger.topic_ids, "own dev set (short items, all topics)", args.show_errors
    )
    unrelated = [f"{lang}:{iid}" for iid, lang, _d, gold in dev if not gold]
    fp_items = [k for k in unrelated if dev_pred[k]]
    fp_rate = len(fp_items) / len(unrelated) if unrelated else 0.0
    print(
        f"false positives on unrelated dev items: {len(fp_items)}/{len(unrelated)} = {fp_rate:.1%} {fp_items}"
    )
    min_core_dev = min(dev_res[(t, lang)][2] for t in CORE for lang in {x[1] for x in dev})

    summary = {"dev_min_core_f1": f"{min_core_dev:.2f}", "dev_fp_rate": f"{fp_rate:.3f}"}
    if (args.corpora / "resistinua-addresses").is_dir():
        for headline in (False, True):
            items = load_resistinua(args.corpora, headline)
            name = "headline+lede" if headline else "full text"
            res, pred = evaluate(
                tagger,
                items,
                CORE,
                f"resistinua {name} (manual labels, incomplete)",
                args.show_errors and not headline,
            )
            ids = {iid for iid, lang, _d, _g in items if lang == "uk"} & {
                iid for iid, lang, _d, _g in items if lang == "en"
            }
            same = sum(1 for i in ids if pred[f"uk:{i}"] & set(CORE) == pred[f"en:{i}"] & set(CORE))
            agree = same / len(ids) if ids else 0.0
            print(f"parallel uk/en items with identical core topics: {same}/{len(ids)} = {agree:.1%}")
            key = "headline" if headline else "full"
            summary[f"resistinua_{key}_agreement"] = f"{agree:.3f}"
            for t in CORE:
                summary[f"resistinua_{key}_f1_{t}"] = f"{res[(t, 'all')][2]:.2f}"
    wh = args.corpora / "wh-briefings-2022" / "statements-releases-2022-02_to_06.jsonl"
    if wh.is_file():
        tagged: dict[str, int] = defaultdict(int)
        nato_without_word = []
        n = 0
        word = re.compile(r"\bNATO\b|North Atlantic", re.IGNORECASE)
        for line in wh.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            n += 1
            doc = TextInput(d.get("title", ""), "", d.get("text_markdown", ""), "en")
            ids = [m.id for m in tagger.tag(doc, "en")]
            for t in ids:
                tagged[t] += 1
            if "nato" in ids and not word.search(doc.title + " " + doc.content):
                nato_without_word.append(d["title"])
        print(f"\n== wh-briefings-2022 (unlabelled, {n} items): tagged per topic {dict(tagged)}")
        print(
            "tagged nato without a standalone NATO/North Atlantic: "
            f"{len(nato_without_word)} {nato_without_word[:5]}"
        )
        summary["wh_nato_without_word"] = str(len(nato_without_word))
    print(" ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
