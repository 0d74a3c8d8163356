"""The learned needs-reply model: the shipped default (or its signals-only twin for posts
not in English), optionally stacked under a team-trained one, applied to a batch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rules.model import LinearModel, load_models
from rules.sentiment import DATA_DIR
from rules.signals import REPLY_DENSE, Signals, reply_dense_matrix

NEEDS_REPLY_MODEL_FILE = DATA_DIR / "needs_reply.npz"


class NeedsReplyModel:
    """The default model, optionally stacked under a team-trained one (`watcher train`):
    a team model takes the default's logit as one more feature, so a few hundred
    outcomes correct the default instead of replacing it.

    The default's word and character n-grams were learned from English posts, so on
    any other language they say next to nothing and a plain Italian complaint scored
    as "no reply needed". Posts not in English are scored by `signals_only`, a model
    fitted on the same data over the language-independent signals alone (sentiment
    from the post's own language model, intents from its own language's patterns)."""

    def __init__(
        self, default: LinearModel | None, team: LinearModel | None = None, *, signals_only: LinearModel | None = None
    ) -> None:
        self.default = default
        self.team = team
        self.signals_only = signals_only

    @classmethod
    def load(cls, path: Path | None = None) -> NeedsReplyModel:
        default = signals_only = None
        if NEEDS_REPLY_MODEL_FILE.exists():
            shipped = load_models(NEEDS_REPLY_MODEL_FILE, kind="needs_reply")[0]
            default, signals_only = shipped["default"], shipped.get("signals_only")
        team = None
        if path is not None:
            team = load_models(path, kind="needs_reply")[0]["default"]
        return cls(default, team, signals_only=signals_only)

    def uses_text(self, lang: str) -> bool:
        """Whether the default model reads the hashed text for a post in `lang`."""
        return self.default is not None and (lang == "en" or self.signals_only is None)

    def base_logit(self, signals: Signals) -> float:
        return float(self.base_logits([signals], reply_dense_matrix([signals]))[0])

    def probability(self, signals: Signals) -> float:
        return float(self.probabilities([signals])[0])

    def probabilities(self, signals: Sequence[Signals], *, dense: np.ndarray | None = None) -> np.ndarray:
        """P(needs reply) for each post, the models applied to the whole batch at once;
        `dense` is `reply_dense_matrix(signals)` if the caller has it already."""
        if dense is None:
            dense = reply_dense_matrix(signals)
        z = self.base_logits(signals, dense)
        if self.team is not None:
            hashed = _text_part(self.team, signals)
            z = self.team.combine(hashed, np.hstack([dense, z[:, None].astype(np.float32)]))[:, 0]
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    def base_logits(self, signals: Sequence[Signals], dense: np.ndarray) -> np.ndarray:
        """The default (or signals-only) model's logit per post; `dense` is `reply_dense_matrix(signals)`."""
        if self.default is None:
            return _prior_logits(dense)
        text = np.fromiter((self.uses_text(s.lang) for s in signals), dtype=bool, count=len(signals))
        if text.all():
            return self.default.combine(_text_part(self.default, signals), dense)[:, 0]
        z = np.zeros(len(signals))
        if text.any():
            rows = [s for s, t in zip(signals, text.tolist(), strict=True) if t]
            z[text] = self.default.combine(_text_part(self.default, rows), dense[text])[:, 0]
        if self.signals_only is not None:
            z[~text] = self.signals_only.combine(np.zeros((int((~text).sum()), 1)), dense[~text])[:, 0]
        return z


def _text_part(model: LinearModel, signals: Sequence[Signals]) -> np.ndarray:
    """The hashed part of `model`'s logits for each post: from the batch product when
    there was one (one row pick per product), else from the post's own features."""
    key = id(model)
    picks: dict[int, tuple[np.ndarray, list[int], list[int]]] = {}  # product -> (it, posts, its rows)
    alone: list[int] = []
    for i, s in enumerate(signals):
        batch, row = s.text_logits
        found = batch.get(key)
        if found is None:
            alone.append(i)
            continue
        pick = picks.get(id(found))
        if pick is None:
            pick = picks[id(found)] = (found, [], [])
        pick[1].append(i)
        pick[2].append(row)
    if not alone and len(picks) == 1:
        found, _, rows = next(iter(picks.values()))
        return found[rows]
    parts = [(found[rows], posts) for found, posts, rows in picks.values()]
    if alone:
        parts.append((model.hashed_logits([signals[i].hashed for i in alone]), alone))
    if not parts:
        return np.zeros((0, len(model.bias)))
    stacked = np.concatenate([part for part, _ in parts])
    out = np.empty_like(stacked)
    out[[i for _, posts in parts for i in posts]] = stacked
    return out


_PRIOR = (  # REPLY_DENSE feature -> weight in the prior blend
    ("sentiment", -1.5),
    ("question", 1.2),
    ("complaint", 1.2),
    ("delivery", 0.8),
    ("urgent", 1.0),
    ("spam", -1.5),
    ("thanks_close", -1.0),
)


def _prior_logits(dense: np.ndarray) -> np.ndarray:
    """Without a trained model file: a transparent hand-set blend of the signals."""
    d = dense.astype(np.float64)
    z = np.full(len(d), -1.0)
    for name, weight in _PRIOR:
        column = d[:, REPLY_DENSE.index(name)]
        z = z + weight * column  # the same float as subtracting |weight| * column
    return z
