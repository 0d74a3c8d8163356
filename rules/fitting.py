"""Fitting the needs-reply model on labelled posts: what `watcher rules train` runs on
the team's feedback (the shipped default is fitted by tools/train.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rules.model import LinearModel, fit_linear
from rules.signals import NO_TEXT, REPLY_DENSE, reply_dense_matrix
from rules.triage import Triager


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
    triager: Triager,
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

    def features(batch: Sequence[dict[str, Any]]) -> tuple[list[Any], list[list[float]]]:
        signals = triager.signals_many([r["text"] for r in batch], [r.get("lang") for r in batch])
        matrix = reply_dense_matrix(signals)
        if stack_default:
            matrix = np.hstack([matrix, triager.model.base_logits(signals, matrix)[:, None]])
        return [s.hashed if use_text else NO_TEXT for s in signals], matrix.tolist()

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
