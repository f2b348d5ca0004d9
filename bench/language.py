"""Language detection: accuracy per language on sentences and headlines, uk↔ru confusion, speed.

Data (read in place from NEWSWATCH_CORPORA, default ../shared/corpora):
- ``lingua-language-testdata/sentences/<lang>.txt`` (1,000 sentences per language);
- ``sib-200/<lang>/{train,dev}.tsv`` (800 parallel FLORES sentences per language);
- ``tests/fixtures/language/blind_headlines.jsonl`` (project's own): 600 news headlines, 100 per language,
  written by an author who had not seen the detector (40 headlines, 40 headline + summary, 20 hard: 2-5
  words, names, acronyms, Polish without diacritics, Russian/Ukrainian without their distinctive letters).

Headlines are built from the same sentences: sentence ``i`` truncated to its first ``5 + i % 4`` words
(5, 6, 7, 8 words in turn), punctuation kept as is. No hint is given in the accuracy runs (the worst
case); a separate line shows the headline accuracy when the feed declares the right language.

Baseline measured in the same run: plain lingua, high-accuracy mode, models preloaded, same 6 languages,
``detect_language_of`` on the same texts. Articles for the speed figure: a headline + the next three
sentences, as ``detect(title, text)`` sees them (title + opening text, cut at 200 characters).

Usage: python bench/language.py [--limit N]   (N sentences per language and corpus; default all)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.language import LanguageDetector  # noqa: E402

LANGS = ("en", "fr", "de", "pl", "ru", "uk")
SIB = {
    "en": "eng_Latn",
    "fr": "fra_Latn",
    "de": "deu_Latn",
    "pl": "pol_Latn",
    "ru": "rus_Cyrl",
    "uk": "ukr_Cyrl",
}


def corpora_dir() -> Path:
    return Path(os.environ.get("NEWSWATCH_CORPORA", ROOT.parent / "shared" / "corpora")).resolve()


def sentences(corpora: Path, lang: str, limit: int | None) -> list[str]:
    path = corpora / "lingua-language-testdata" / "sentences" / f"{lang}.txt"
    out = [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
    for split in ("train.tsv", "dev.tsv"):
        rows = (corpora / "sib-200" / SIB[lang] / split).read_text(encoding="utf-8").splitlines()[1:]
        sib = [r.split("\t", 2)[2] for r in rows if r.count("\t") >= 2]
        out.extend(sib[:limit] if limit else sib)
    return out if not limit else out[: limit * 2]


def headline(sentence: str, i: int) -> str:
    return " ".join(sentence.split()[: 5 + i % 4])


def rss_only(data: dict[str, list[str]]) -> None:
    """Peak RSS of a process that built the detector and ran it on the whole data set.

    Baseline: the same process before the detector is built (corpora read, lingua imported)."""
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    det = LanguageDetector(LANGS)
    built_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = 0
    for lang, sents in data.items():
        for i, s in enumerate(sents):
            det.detect("", s)
            det.detect(headline(s, i), "")
            det.detect(headline(s, i), "", hint=lang)
            n += 3
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"before detector: {base_mb:.1f} MB, built: {built_mb:.1f} MB, after {n} detections: {peak_mb:.1f} MB"
    )
    print(
        f"rss_peak_mb={peak_mb:.1f} detector_mb={peak_mb - base_mb:.1f} baseline_mb={base_mb:.1f} "
        f"ratio={peak_mb / base_mb:.2f} detections={n}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument(
        "--rss",
        action="store_true",
        help="only build LanguageDetector, detect every sentence and headline, print peak RSS (no baseline)",
    )
    args = ap.parse_args()
    corpora = corpora_dir()
    data = {lang: sentences(corpora, lang, args.limit) for lang in LANGS}
    if args.rss:
        rss_only(data)
        return

    t0 = time.perf_counter()
    det = LanguageDetector(LANGS)
    build_s = time.perf_counter() - t0
    lingua_langs = {Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())): c for c in LANGS}
    base = LanguageDetectorBuilder.from_languages(*lingua_langs).with_preloaded_language_models().build()

    print(f"build LanguageDetector: {build_s * 1000:.0f} ms")
    print(
        f"{'lang':4} {'n':>5} {'sent':>7} {'head':>7} {'head+hint':>9} "
        f"{'base_sent':>9} {'base_head':>9}  errors(head)"
    )
    totals: dict[str, list[float]] = {"sent": [], "head": [], "hint": [], "bsent": [], "bhead": []}
    confusion: Counter[tuple[str, str]] = Counter()
    und = 0
    n_all = 0
    for lang, sents in data.items():
        heads = [headline(s, i) for i, s in enumerate(sents)]
        ps = [det.detect("", s) for s in sents]
        ph = [det.detect(h, "") for h in heads]
        phh = [det.detect(h, "", hint=lang) for h in heads]
        bs = [lingua_langs.get(base.detect_language_of(s)) for s in sents]  # type: ignore[arg-type]
        bh = [lingua_langs.get(base.detect_language_of(h)) for h in heads]  # type: ignore[arg-type]
        accs = {
            "sent": sum(p == lang for p in ps) / len(sents),
            "head": sum(p == lang for p in ph) / len(sents),
            "hint": sum(p == lang for p in phh) / len(sents),
            "bsent": sum(p == lang for p in bs) / len(sents),
            "bhead": sum(p == lang for p in bh) / len(sents),
        }
        for k, v in accs.items():
            totals[k].append(v)
        for kind, preds in (("sent", ps), ("head", ph)):
            for p in preds:
                if p != lang:
                    confusion[(f"{lang}/{kind}", p)] += 1
        und += sum(p == "und" for p in ps + ph)
        n_all += 2 * len(sents)
        errs = Counter(p for p in ph if p != lang)
        print(
            f"{lang:4} {len(sents):5} {accs['sent']:7.4f} {accs['head']:7.4f} {accs['hint']:9.4f} "
            f"{accs['bsent']:9.4f} {accs['bhead']:9.4f}  {dict(errs)}"
        )
    mean = {k: sum(v) / len(v) for k, v in totals.items()}
    print(
        f"mean      {mean['sent']:7.4f} {mean['head']:7.4f} {mean['hint']:9.4f} "
        f"{mean['bsent']:9.4f} {mean['bhead']:9.4f}"
    )
    print(f"und answers: {und}/{n_all}")
    for kind in ("sent", "head"):
        print(
            f"uk↔ru confusion ({kind}): uk→ru {confusion[(f'uk/{kind}', 'ru')]}/{len(data['uk'])}, "
            f"ru→uk {confusion[(f'ru/{kind}', 'uk')]}/{len(data['ru'])}"
        )

    articles: list[tuple[str, str]] = []
    for sents in data.values():
        for i in range(0, len(sents) - 4, 2):
            articles.append((headline(sents[i], i), " ".join(sents[i + 1 : i + 4])))
    heads_only = [headline(s, i) for sents in data.values() for i, s in enumerate(sents)]

    def timed(fn: object, items: list[tuple[str, str]]) -> float:
        t = time.perf_counter()
        for title, text in items:
            fn(title, text)  # type: ignore[operator]
        return (time.perf_counter() - t) / len(items)

    ours_art = timed(det.detect, articles)
    base_art = timed(lambda t, x: base.detect_language_of(f"{t}. {x}"), articles)
    ours_head = timed(det.detect, [(h, "") for h in heads_only])
    base_head = timed(lambda t, x: base.detect_language_of(t), [(h, "") for h in heads_only])
    print(
        f"speed per article (title + opening): {ours_art * 1e3:.3f} ms "
        f"(baseline lingua high-accuracy on title+full text: {base_art * 1e3:.3f} ms, "
        f"ratio {base_art / ours_art:.2f}x)"
    )
    print(
        f"speed per headline: {ours_head * 1e3:.3f} ms "
        f"(baseline {base_head * 1e3:.3f} ms, ratio {base_head / ours_head:.2f}x)"
    )
    blind = blind_headlines(det)
    uk_ru = sum(confusion[(f"{a}/{k}", b)] for a, b in (("uk", "ru"), ("ru", "uk")) for k in ("sent", "head"))
    print(
        f"sentence_acc={mean['sent']:.4f} headline_acc={mean['head']:.4f} "
        f"headline_hint_acc={mean['hint']:.4f} uk_ru_confusions={uk_ru} "
        f"blind_headline_acc={blind:.4f} per_s={1 / ours_art:.0f}"
    )


def blind_headlines(det: LanguageDetector) -> float:
    """Accuracy on the blind headline set, per language and kind; wrong answers listed. No hint."""
    path = ROOT / "tests" / "fixtures" / "language" / "blind_headlines.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong = []
    for d in items:
        got = det.detect(d["title"], d["summary"])
        for key in (d["language"], d["kind"]):
            total[key] += 1
            right[key] += got == d["language"]
        if got != d["language"]:
            wrong.append(f"{d['language']}→{got} {d['title']!r}")
    print(f"blind headlines ({len(items)}, own set written blind to the detector):")
    kinds = (*LANGS, "headline", "headline+summary", "hard")
    print("  " + "  ".join(f"{k} {right[k]}/{total[k]}" for k in kinds))
    for w in wrong:
        print(f"  wrong: {w}")
    return sum(right[lang] for lang in LANGS) / max(len(items), 1)


if __name__ == "__main__":
    main()
