"""Triage quality on ../shared/data, with baselines in the same run.

    python bench/triage_eval.py            # everything
    python bench/triage_eval.py complaints # one part: complaints | sentiment | urgent

complaints: time-ordered split of complaints_dev (oldest 80% trains the needs-reply
model, newest 20% is ranked); AP, ROC-AUC and precision@50 for the full engine
(model + built-in rules), the model alone, hashed n-grams alone, VADER alone, random.
sentiment: macro-F1 per language on the UMSAB val sets, Romanian accuracy on the
held-back 20% of RoSent, beside VADER (en) and the lexicon alone.
urgent: recall of priority == urgent on bench/urgent_set.jsonl (posts we wrote).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.fitting import fit_needs_reply, ranking_metrics  # noqa: E402
from rules.model import fit_linear, hash_text  # noqa: E402
from rules.needs_reply import NeedsReplyModel  # noqa: E402
from rules.sentiment import SentimentAnalyzer  # noqa: E402
from rules.signals import NO_TEXT, reply_dense_matrix  # noqa: E402
from rules.triage import TriageContext, Triager  # noqa: E402
from tools.sentiment_fit import (  # noqa: E402
    DataMissing,
    evaluate_sentiment,
    read_jsonl,
    sentiment_rows,
    shared_data_dir,
    time_split,
)
from watcher.core.post import Author, Post, PostKind  # noqa: E402
from watcher.core.settings import BrandConfig

URGENT_SET = Path(__file__).resolve().parent / "urgent_set.jsonl"
LANGS = ("en", "it", "es", "fr", "de", "pt", "ro")
BRAND = BrandConfig(name="Brand", languages=LANGS)


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


def show(name: str, m: dict[str, float]) -> None:
    print(f"  {name:<34} AP {m['ap']:.3f}  ROC-AUC {m['roc_auc']:.3f}  P@50 {m['p@50']:.3f}")


def complaints(data: Path) -> None:
    rows = read_jsonl(data / "complaints_dev.jsonl")
    old, new = time_split(rows)
    labels = [int(r["complaint"]) for r in new]
    print(f"complaints_dev: train on oldest {len(old)}, rank newest {len(new)} ({sum(labels)} complaints)")
    triager = Triager(languages=LANGS)
    model, _ = fit_needs_reply(triager, old, log=lambda *_: None)
    triager.model = NeedsReplyModel(model)
    ctx = TriageContext(brand=BRAND)
    results = triager.triage_many([as_post(r["text"], i) for i, r in enumerate(new)], [ctx] * len(new))
    # engine score is an integer 0-100; ties are broken by the model probability
    show("full engine (model + rules)", ranking_metrics(labels, [t.score + t.model_probability / 10 for t in results]))
    show("needs-reply model alone", ranking_metrics(labels, [t.model_probability for t in results]))
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
    urgent = sum(t.priority == "urgent" for t in results)
    print(
        f"  urgent on this split: {urgent} posts, {sum(labels[i] for i, t in enumerate(results) if t.priority == 'urgent')} of them complaints"
    )


def sentiment(data: Path) -> None:
    analyzer = SentimentAnalyzer()
    lexicon_only = SentimentAnalyzer(model_file=Path("/nonexistent"), lexicons=analyzer.lexicons)
    print("sentiment (shipped models; trained on *_train / RoSent 80%, scored on *_val / RoSent held-back 20%)")
    for lang in LANGS:
        rows = sentiment_rows(data, lang, "val")
        ours = evaluate_sentiment(analyzer, rows, lang)
        base = evaluate_sentiment(lexicon_only, rows, lang)
        what = "accuracy" if lang == "ro" else "macro_f1"
        base_name = "VADER" if lang == "en" else "lexicon only"
        print(f"  {lang}: {what} {ours[what]:.3f}   ({base_name} {base[what]:.3f}, n={ours['n']})")


def urgent(_: Path | None = None) -> None:
    rows = read_jsonl(URGENT_SET)
    triager = Triager(languages=LANGS)
    ctx = TriageContext(brand=BRAND)
    flagged = 0
    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        t = triager.triage(as_post(r["text"], i), ctx)
        hit = t.priority == "urgent"
        flagged += hit
        by_lang.setdefault(r["lang"], []).append(hit)
        if not hit:
            print(f"  missed [{r['lang']}/{r['kind']}] {r['text'][:70]!r} -> {t.priority} {t.score}")
    per = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_lang.items()))
    print(f"urgent set: recall {flagged / len(rows):.3f} ({flagged}/{len(rows)}; {per})")


def main(argv: list[str]) -> int:
    parts = argv or ["complaints", "sentiment", "urgent"]
    try:
        data = shared_data_dir()
    except DataMissing as exc:
        if parts != ["urgent"]:
            print(exc, file=sys.stderr)
            return 2
        data = None
    for part in parts:
        {"complaints": complaints, "sentiment": sentiment, "urgent": urgent}[part](data)  # type: ignore[operator]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
