"""Build the shipped default models from ../shared/data: `python -m rules.train`.

- rules/data/sentiment.npz: one logistic regression per language over hashed
  n-grams + lexicon/emoji (+ VADER for en) features. en, it, es, fr, de, pt:
  UMSAB train splits (cardiffnlp/xlm-t); en also TweetEval val (texts that also
  appear in UMSAB en val removed). ro: RoSent (katakonst/sentiment-analysis-tensorflow),
  the 80% of rows whose id hashes outside the held-back 20%.
- rules/data/needs_reply.npz: the needs-reply model over hashed n-grams + the
  engine's signals (sentiment, intents), trained on complaints_dev (Preotiuc-Pietro
  et al. 2019) complaint = needs reply, plus tweet_acts (Saha et al. 2019)
  questions and requests (QUE, REQ) as needs reply and statements as not.

Each file records its sources and held-back metrics in its header.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rules.model import LinearModel, fit_linear, hash_text, save_models
from rules.sentiment import DENSE, SENTIMENT_MODEL_FILE, SentimentAnalyzer

SENTIMENT_LANGS = ("en", "it", "es", "fr", "de", "pt")
# Regularization chosen by 3-fold cross-validation on the train splits (not on val):
# flat between 1 and 8 for the tweet sets, still rising at 8-16 for RoSent's long reviews.
SENTIMENT_C = {"ro": 16.0}


class DataMissing(Exception):
    pass


def shared_data_dir() -> Path:
    """../shared/data beside the repository (CI clones the repo next to it)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        raise DataMissing(
            f"{path}: labelled data not found; clone the shared data beside the repository "
            "(see docs/triage.md) to train or benchmark"
        )
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def held_back(row_id: str, *, percent: int = 20) -> bool:
    """A stable split by id: the same rows are held back on every run and machine."""
    return zlib.crc32(str(row_id).encode()) % 100 < percent


def romanian_split(data: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = read_jsonl(data / "sentiment_ro_dev.jsonl")
    return [r for r in rows if not held_back(r["id"])], [r for r in rows if held_back(r["id"])]


def sentiment_rows(data: Path, lang: str, split: str) -> list[dict[str, Any]]:
    if lang == "ro":
        train, val = romanian_split(data)
        return train if split == "train" else val
    rows = read_jsonl(data / f"sentiment_{lang}_{split}.jsonl")
    if lang == "en" and split == "train":
        val_texts = {r["text"].strip() for r in read_jsonl(data / "sentiment_en_val.jsonl")}
        extra = [r for r in read_jsonl(data / "tweeteval_val.jsonl") if r["text"].strip() not in val_texts]
        rows = rows + extra
    return rows


def fit_sentiment(
    analyzer: SentimentAnalyzer, rows: Sequence[dict[str, Any]], lang: str, *, c: float = 1.0
) -> LinearModel:
    hashed = [hash_text(r["text"]) for r in rows]
    dense = [analyzer.dense(x, r["text"], lang)[0] for x, r in zip(hashed, rows, strict=True)]
    return fit_linear(hashed, [r["sentiment"] for r in rows], dense=dense, dense_names=DENSE, c=c)


def evaluate_sentiment(analyzer: SentimentAnalyzer, rows: Sequence[dict[str, Any]], lang: str) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    gold = [r["sentiment"] for r in rows]
    pred = [analyzer.analyze(hash_text(r["text"]), r["text"], lang).label for r in rows]
    if lang == "ro":  # binary data: no neutral gold label, so take the sign
        pred = [
            "positive" if analyzer.analyze(hash_text(r["text"]), r["text"], lang).value >= 0 else "negative"
            for r in rows
        ]
    return {
        "macro_f1": round(float(f1_score(gold, pred, average="macro")), 4),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "n": len(rows),
    }


def train_sentiment(data: Path, *, out: Path = SENTIMENT_MODEL_FILE, log: Any = print) -> dict[str, dict[str, float]]:
    analyzer = SentimentAnalyzer(model_file=Path("/nonexistent"))
    models: dict[str, LinearModel] = {}
    for lang in (*SENTIMENT_LANGS, "ro"):
        models[lang] = fit_sentiment(analyzer, sentiment_rows(data, lang, "train"), lang, c=SENTIMENT_C.get(lang, 4.0))
    analyzer.models = models
    metrics = {lang: evaluate_sentiment(analyzer, sentiment_rows(data, lang, "val"), lang) for lang in models}
    for lang, m in metrics.items():
        log(f"sentiment {lang}: macro-F1 {m['macro_f1']:.3f} accuracy {m['accuracy']:.3f} on {m['n']} held-back rows")
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": {
            "en": "UMSAB sentiment_en_train + TweetEval val (cardiffnlp/xlm-t, cardiffnlp/tweeteval)",
            **{lang: f"UMSAB sentiment_{lang}_train (cardiffnlp/xlm-t)" for lang in SENTIMENT_LANGS[1:]},
            "ro": "RoSent 80% by id hash (katakonst/sentiment-analysis-tensorflow)",
        },
        "metrics_held_back": metrics,
    }
    save_models(out, models, kind="sentiment", meta=meta)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return metrics


def time_split(
    rows: Sequence[dict[str, Any]], *, newest: float = 0.2
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Oldest (1 - newest) and newest part by tweet id (ids grow with time)."""
    ordered = sorted(rows, key=lambda r: int(r["id"]))
    cut = int(round(len(ordered) * (1 - newest)))
    return ordered[:cut], ordered[cut:]


def ranking_metrics(labels: Sequence[int], scores: Sequence[float], *, k: int = 50) -> dict[str, float]:
    """Average precision, ROC-AUC and precision at k for a ranking (1 = needs reply)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    top = np.argsort(-s, kind="stable")[:k]
    both = len(set(y.tolist())) == 2
    return {
        "ap": round(float(average_precision_score(y, s)), 4) if both else float("nan"),
        "roc_auc": round(float(roc_auc_score(y, s)), 4) if both else float("nan"),
        f"p@{k}": round(float(y[top].mean()), 4) if len(top) else float("nan"),
        "n": len(y),
        "positives": int(y.sum()),
    }


def fit_needs_reply(
    triager: Any,
    rows: Sequence[dict[str, Any]],
    *,
    held_back: Sequence[dict[str, Any]] = (),
    label_key: str = "complaint",
    c: float = 4.0,
    stack_default: bool = False,
    use_text: bool = True,
    log: Any = print,
) -> tuple[LinearModel, dict[str, float]]:
    """Fit the needs-reply model on rows {text, <label_key>: 0/1, weight?, lang?}; if
    `held_back` is given, print and return its ranking metrics. With `stack_default`
    the default model's logit is one more feature (a team model on top of ours).
    Without `use_text` the model sees the signals only, not the hashed n-grams."""
    from rules.triage import NO_TEXT, REPLY_DENSE, reply_dense_matrix

    def features(batch: Sequence[dict[str, Any]]) -> tuple[list[Any], list[list[float]]]:
        signals = triager.signals_many([r["text"] for r in batch], [r.get("lang") for r in batch])
        dense = reply_dense_matrix(signals).tolist()
        if stack_default:
            dense = [[*d, triager.model.base_logit(s)] for d, s in zip(dense, signals, strict=True)]
        return [s.hashed if use_text else NO_TEXT for s in signals], dense

    hashed, dense = features(rows)
    names = (*REPLY_DENSE, "default_logit") if stack_default else REPLY_DENSE
    weights = [float(r.get("weight", 1.0)) for r in rows]
    model = fit_linear(
        hashed, [str(int(r[label_key])) for r in rows], dense=dense, dense_names=names, c=c, sample_weight=weights
    )
    metrics: dict[str, float] = {}
    if held_back:
        h_hashed, h_dense = features(held_back)
        scores = [float(model.logits(x, d)[0]) for x, d in zip(h_hashed, h_dense, strict=True)]
        metrics = ranking_metrics([int(r[label_key]) for r in held_back], scores)
        log(
            f"needs-reply model on {metrics['n']} held-back rows ({metrics['positives']} need a reply): "
            f"AP {metrics['ap']:.3f}  ROC-AUC {metrics['roc_auc']:.3f}  precision@50 {metrics['p@50']:.3f}"
        )
    return model, metrics


def iter_sources(data: Path) -> Iterator[str]:
    yield from (p.name for p in sorted(data.glob("*.jsonl")))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        data = shared_data_dir()
    except DataMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    np.random.seed(0)
    if not args or "sentiment" in args:
        train_sentiment(data)
    if not args or "needs-reply" in args:
        from rules.triage import train_default_needs_reply

        train_default_needs_reply(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
