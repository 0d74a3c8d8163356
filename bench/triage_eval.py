"""Triage quality on ../shared/data and on posts we wrote, beside VADER and the previous
engine (bench/previous_engine.py: main before issue 20) on the same posts.

    python bench/triage_eval.py              # everything
    python bench/triage_eval.py stress       # one part: complaints | domains | sentiment | stress | urgent

complaints: time-ordered split of complaints_dev (oldest 80% trains the needs-reply
  model, newest 20% is ranked); AP, ROC-AUC and precision@50.
domains: cross-domain: for each brand domain of complaints_dev, the model is trained on
  every other domain (and the random tweets) and ranks the posts of the unseen one.
sentiment: macro-F1 per language on the UMSAB val sets, Romanian accuracy on the
  held-back 20% of RoSent.
stress: bench/stress_set.jsonl, posts we wrote per failure kind of issue 20 in seven
  languages, labelled urgent / needs_reply; never trained on. Half of each kind is
  `dev` (its misses are printed, to work from), half `held` (figures only).
urgent: recall of priority == urgent on bench/urgent_set.jsonl (posts we wrote).
Set $WATCHER_SHARED_DATA when the data is not at ../shared/data; add --no-previous to
skip the previous engine.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import previous_engine  # noqa: E402

from rules.fitting import fit_needs_reply, ranking_metrics  # noqa: E402
from rules.model import fit_linear, hash_text  # noqa: E402
from rules.needs_reply import NeedsReplyModel  # noqa: E402
from rules.sentiment import SentimentAnalyzer  # noqa: E402
from rules.signals import NO_TEXT, reply_dense_matrix  # noqa: E402
from rules.triage import Triage, TriageContext, Triager  # noqa: E402
from tools.sentiment_fit import (  # noqa: E402
    DataMissing,
    label_metrics,
    predicted_label,
    read_jsonl,
    sentiment_rows,
    shared_data_dir,
    time_split,
)
from watcher.core.post import Author, Post, PostKind  # noqa: E402
from watcher.core.settings import BrandConfig  # noqa: E402

HERE = Path(__file__).resolve().parent
URGENT_SET = HERE / "urgent_set.jsonl"
STRESS_SET = HERE / "stress_set.jsonl"
LANGS = ("en", "it", "es", "fr", "de", "pt", "ro")
BRAND = BrandConfig(name="Brand", languages=LANGS)
OPTIONS = {"previous": True}


def as_post(text: str, i: int, lang: str | None = None) -> Post:
    return Post(
        platform="bench",
        native_id=str(i),
        kind=PostKind.MENTION,
        text=text,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        author=Author(id=f"u{i}", handle=f"user{i}"),
        lang=lang,
    )


def triage_texts(triager: Triager, texts: Sequence[str]) -> list[Triage]:
    ctx = TriageContext(brand=BRAND)
    return triager.triage_many([as_post(t, i) for i, t in enumerate(texts)], [ctx] * len(texts))


def previous(request: dict[str, Any]) -> Any:
    """The previous engine's answer, or None with --no-previous."""
    return previous_engine.run(request) if OPTIONS["previous"] else None


def show(name: str, m: dict[str, float]) -> None:
    print(f"  {name:<34} AP {m['ap']:.3f}  ROC-AUC {m['roc_auc']:.3f}  P@50 {m['p@50']:.3f}")


def engine_rank(results: Sequence[Triage]) -> list[float]:
    """The order the queue shows: score, ties broken by the model's probability."""
    return [t.score + t.model_probability / 10 for t in results]


def complaints(data: Path) -> None:
    rows = read_jsonl(data / "complaints_dev.jsonl")
    old, new = time_split(rows)
    labels = [int(r["complaint"]) for r in new]
    print(f"complaints_dev: train on oldest {len(old)}, rank newest {len(new)} ({sum(labels)} complaints)")
    triager = Triager(languages=LANGS)
    model, _ = fit_needs_reply(triager, old, log=lambda *_: None)
    triager.model = NeedsReplyModel(model)
    results = triage_texts(triager, [r["text"] for r in new])
    show("full engine (model + rules)", ranking_metrics(labels, engine_rank(results)))
    show("needs-reply model alone", ranking_metrics(labels, [t.model_probability for t in results]))
    before = previous({"task": "complaints", "train": old, "texts": [r["text"] for r in new]})
    if before is not None:
        show("previous engine", ranking_metrics(labels, [b["score"] + b["model_probability"] / 10 for b in before]))
        show("previous model alone", ranking_metrics(labels, [b["model_probability"] for b in before]))
    # what posts not in English are scored with: the same data, signals only, no n-grams
    signals_only, _ = fit_needs_reply(triager, old, use_text=False, log=lambda *_: None)
    dense = reply_dense_matrix(triager.signals_many([r["text"] for r in new], [None] * len(new)))
    show(
        "signals-only model (non-English)", ranking_metrics(labels, [signals_only.logits(NO_TEXT, d)[0] for d in dense])
    )
    plain = fit_linear([hash_text(r["text"]) for r in old], [str(r["complaint"]) for r in old])
    show(
        "hashed n-grams + LR (no signals)",
        ranking_metrics(labels, [plain.logits(hash_text(r["text"]))[0] for r in new]),
    )
    vader = triager.sentiment.vader
    show(
        "VADER only (-compound)", ranking_metrics(labels, [-vader.polarity_scores(r["text"])["compound"] for r in new])
    )
    rnd = random.Random(0)
    show("random", ranking_metrics(labels, [rnd.random() for _ in new]))
    tops = [s for s in (t.score for t in results)]
    print(f"  most common score: {max(set(tops), key=tops.count)} ({tops.count(max(set(tops), key=tops.count))} posts)")


def domains(data: Path) -> None:
    """Leave one brand domain out: train on the others, rank the unseen domain's posts.
    The previous engine answers for every domain in one child process."""
    rows = read_jsonl(data / "complaints_dev.jsonl")
    names = sorted({r["domain"] for r in rows} - {"random_tweet", "random_reply"})
    print("complaints_dev by domain: trained on the other domains, AP on the unseen one")
    columns = (("engine", 7), ("model", 7), ("previous", 9), ("prev model", 10), ("VADER", 7))
    print(f"  {'domain':<12} {'n':>4}  {' '.join(f'{k:>{w}}' for k, w in columns)}")
    splits = {
        name: ([r for r in rows if r["domain"] != name], [r for r in rows if r["domain"] == name]) for name in names
    }
    runs = [
        {"task": "complaints", "train": train, "texts": [r["text"] for r in test]} for train, test in splits.values()
    ]
    before = previous({"task": "runs", "runs": runs})
    triager = Triager(languages=LANGS)
    vader = triager.sentiment.vader
    shipped = triager.model
    sums: dict[str, list[float]] = {}
    for k, (name, (train, test)) in enumerate(splits.items()):
        labels = [int(r["complaint"]) for r in test]
        texts = [r["text"] for r in test]
        model, _ = fit_needs_reply(triager, train, log=lambda *_: None)
        triager.model = NeedsReplyModel(model)
        results = triage_texts(triager, texts)
        figures = {
            "engine": ranking_metrics(labels, engine_rank(results))["ap"],
            "model": ranking_metrics(labels, [t.model_probability for t in results])["ap"],
            "VADER": ranking_metrics(labels, [-vader.polarity_scores(t)["compound"] for t in texts])["ap"],
        }
        if before is not None:
            prev = before[k]
            figures["previous"] = ranking_metrics(labels, [b["score"] + b["model_probability"] / 10 for b in prev])[
                "ap"
            ]
            figures["prev model"] = ranking_metrics(labels, [b["model_probability"] for b in prev])["ap"]
        for key, v in figures.items():
            sums.setdefault(key, []).append(v)
        cells = [f"{figures.get(key, float('nan')):>{w}.3f}" for key, w in columns]
        print(f"  {name:<12} {len(test):>4}  {' '.join(cells)}")
    means = [f"{sum(sums.get(key, [float('nan')])) / len(names):>{w}.3f}" for key, w in columns]
    print(f"  {'mean':<12} {'':>4}  {' '.join(means)}")
    low = [name for name, ap in zip(names, sums["engine"], strict=True) if ap < 0.80]
    print(
        f"  engine AP >= 0.80 on {len(names) - len(low)}/{len(names)} unseen domains"
        + (f" (below: {', '.join(low)})" if low else "")
    )
    triager.model = shipped


def sentiment(data: Path) -> None:
    analyzer = SentimentAnalyzer()
    lexicon_only = SentimentAnalyzer(model_file=Path("/nonexistent"), lexicons=analyzer.lexicons)
    print("sentiment (shipped models; trained on *_train / RoSent 80%, scored on *_val / RoSent held-back 20%)")
    for lang in LANGS:
        rows = sentiment_rows(data, lang, "val")
        gold = [r["sentiment"] for r in rows]
        what = "accuracy" if lang == "ro" else "macro_f1"
        ours = label_metrics(gold, [predicted_label(analyzer, r["text"], lang) for r in rows])
        base = label_metrics(gold, [predicted_label(lexicon_only, r["text"], lang) for r in rows])
        line = f"  {lang}: {what} {ours[what]:.3f}   ({'VADER' if lang == 'en' else 'lexicon only'} {base[what]:.3f}"
        before = previous({"task": "sentiment", "lang": lang, "texts": [r["text"] for r in rows]})
        if before is not None:
            line += f", previous engine {label_metrics(gold, before)[what]:.3f}"
        print(f"{line}, n={ours['n']})")


def stress_figures(rows: Sequence[dict[str, Any]], urgent: Sequence[bool], reply: Sequence[bool]) -> str:
    tp = sum(u and r["urgent"] for u, r in zip(urgent, rows, strict=True))
    flagged = sum(urgent)
    wanted = sum(r["urgent"] for r in rows)
    right = sum(p == r["needs_reply"] for p, r in zip(reply, rows, strict=True))
    precision = tp / flagged if flagged else float("nan")
    return f"urgent P {precision:.3f} R {tp / wanted:.3f}  needs-reply acc {right / len(rows):.3f}"


def stress(_: Path | None = None) -> None:
    rows = read_jsonl(STRESS_SET)
    texts = [r["text"] for r in rows]
    triager = Triager(languages=LANGS)
    results = triage_texts(triager, texts)
    vader = triager.sentiment.vader
    compound = [vader.polarity_scores(t)["compound"] for t in texts]
    print(f"stress set ({len(rows)} posts we wrote, 7 languages; urgent = priority urgent)")
    before = previous({"task": "triage", "texts": texts})
    for part in ("dev", "held"):
        idx = [i for i, r in enumerate(rows) if r["part"] == part]
        sub = [rows[i] for i in idx]
        print(f"  {part} ({len(idx)} posts)")
        print(
            f"    engine    {stress_figures(sub, [results[i].priority == 'urgent' for i in idx], [results[i].needs_reply for i in idx])}"
        )
        if before is not None:
            print(
                f"    previous  {stress_figures(sub, [before[i]['priority'] == 'urgent' for i in idx], [before[i]['needs_reply'] for i in idx])}"
            )
        # VADER as a triager: very negative is urgent, negative needs a reply
        print(
            f"    VADER     {stress_figures(sub, [compound[i] <= -0.6 for i in idx], [compound[i] <= -0.05 for i in idx])}"
        )
    unknown = [r["text"] for r, t in zip(rows, results, strict=True) if r["kind"] == "short" and t.lang == "unknown"]
    wrong = sum(1 for r, t in zip(rows, results, strict=True) if r["kind"] == "short" and t.lang != r["lang"])
    short = sum(r["kind"] == "short" for r in rows)
    line = f"  short posts: language unknown {len(unknown)}/{short}, not the post's language {wrong}/{short}"
    if before is not None:
        prev_unknown = sum(
            1 for r, b in zip(rows, before, strict=True) if r["kind"] == "short" and b["lang"] == "unknown"
        )
        line += f" (previous engine: unknown {prev_unknown}/{short})"
    print(line)
    print("  by kind (all parts): engine right / previous right")
    kinds = dict.fromkeys(r["kind"] for r in rows)
    for kind in kinds:
        idx = [i for i, r in enumerate(rows) if r["kind"] == kind]
        ok = sum(_right(rows[i], results[i].priority == "urgent", results[i].needs_reply) for i in idx)
        prev = (
            sum(_right(rows[i], before[i]["priority"] == "urgent", before[i]["needs_reply"]) for i in idx)
            if before
            else 0
        )
        print(f"    {kind:<14} {ok:>3}/{len(idx)}   {prev:>3}/{len(idx)}")
    for _i, (r, t) in enumerate(zip(rows, results, strict=True)):
        if r["part"] == "dev" and not _right(r, t.priority == "urgent", t.needs_reply):
            print(
                f"  miss [{r['lang']}/{r['kind']}] {r['text'][:70]!r} -> {t.priority} {t.score} reply={t.needs_reply} {t.lang}"
            )


def _right(row: dict[str, Any], urgent: bool, reply: bool) -> bool:
    return urgent == row["urgent"] and reply == row["needs_reply"]


def urgent(_: Path | None = None) -> None:
    rows = read_jsonl(URGENT_SET)
    results = triage_texts(Triager(languages=LANGS), [r["text"] for r in rows])
    flagged = 0
    by_lang: dict[str, list[int]] = {}
    for r, t in zip(rows, results, strict=True):
        hit = t.priority == "urgent"
        flagged += hit
        by_lang.setdefault(r["lang"], []).append(hit)
        if not hit:
            print(f"  missed [{r['lang']}/{r['kind']}] {r['text'][:70]!r} -> {t.priority} {t.score}")
    per = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_lang.items()))
    line = f"urgent set: recall {flagged / len(rows):.3f} ({flagged}/{len(rows)}; {per})"
    before = previous({"task": "triage", "texts": [r["text"] for r in rows]})
    if before is not None:
        line += f"; previous engine {sum(b['priority'] == 'urgent' for b in before) / len(rows):.3f}"
    print(line)


PARTS = {"complaints": complaints, "domains": domains, "sentiment": sentiment, "stress": stress, "urgent": urgent}


def main(argv: list[str]) -> int:
    if "--no-previous" in argv:
        OPTIONS["previous"] = False
    parts = [a for a in argv if not a.startswith("--")] or list(PARTS)
    try:
        data = shared_data_dir()
    except DataMissing as exc:
        if set(parts) - {"urgent", "stress"}:
            print(exc, file=sys.stderr)
            return 2
        data = None
    for part in parts:
        PARTS[part](data)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
