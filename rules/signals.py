"""What the engine reads from a post's text alone (language, sentiment, intents, sarcasm,
the hashed n-grams), and those signals gathered column by column for a batch: what
the needs-reply model and the rules see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rules.intents import URGENT_INTENTS, IntentHit, bit_mask
from rules.model import HashedText
from rules.sentiment import Sentiment

NO_TEXT = HashedText("", (), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
REPLY_DENSE = (
    "sentiment",
    "negative",
    "positive",
    "question",
    "complaint",
    "billing",
    "delivery",
    "outage",
    "urgent",
    "praise",
    "thanks_close",
    "spam",
    "sarcasm",
    "emoji_negative",
    "log_words",
)


# built for every post: plain slots, as a frozen dataclass pays a setattr call per field
@dataclass(slots=True)
class Signals:
    """Everything read from the text alone; shared by scoring and training."""

    hashed: HashedText
    lang: str
    lang_why: str
    sentiment: Sentiment
    hits: tuple[IntentHit, ...]
    sarcasm: str | None
    # (id(model) -> hashed part of that model's logits for a batch, this post's row in it)
    text_logits: tuple[Mapping[int, np.ndarray], int] = field(default=({}, 0), compare=False, repr=False)
    # intent words found but not counted, each with why (rules/context.py)
    set_aside: tuple[str, ...] = ()

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(h.intent for h in self.hits)

    def reply_dense(self) -> list[float]:
        return [float(v) for v in reply_dense_matrix([self])[0]]


# the per-post values SignalColumns.of gathers, in the order of its `flat` rows
_PER_POST = ("sentiment", "negative", "positive", "sarcasm", "emoji_negative", "words")
_AT = {name: j for j, name in enumerate(_PER_POST)}
# where each REPLY_DENSE column comes from: a per-post value, an intent flag, any urgent intent, or the word count
_COLUMN = {name: j for j, name in enumerate(REPLY_DENSE)}
_PER_POST_COLUMNS = tuple((name, _AT[name]) for name in _PER_POST if name != "words")
_INTENT_COLUMNS = ("question", "complaint", "billing", "delivery", "outage", "praise", "thanks_close", "spam")
assert {n for n, _ in _PER_POST_COLUMNS} | set(_INTENT_COLUMNS) | {"urgent", "log_words"} == set(REPLY_DENSE)
_INTENT_BITS: dict[tuple[str, ...], int] = {}  # a post's intents -> their bit_mask, for the few combinations seen


@dataclass(frozen=True)
class SignalColumns:
    """What scoring and the rules read from a batch's signals, gathered in one pass."""

    intents: list[tuple[str, ...]]
    intent_bits: np.ndarray  # int64, bit_mask of each post's intents
    sentiment: np.ndarray  # float64
    sarcasm: np.ndarray  # bool
    dense: np.ndarray  # float32, the needs-reply model's REPLY_DENSE features

    @classmethod
    def of(cls, signals: Sequence[Signals]) -> SignalColumns:
        n = len(signals)
        intents: list[tuple[str, ...]] = []
        bits: list[int] = []
        flat: list[float | bool] = []  # _PER_POST per post
        for s in signals:
            names = tuple([h.intent for h in s.hits]) if s.hits else ()
            b = _INTENT_BITS.get(names)
            if b is None:
                b = bit_mask(names)
                if len(_INTENT_BITS) < 4096:
                    _INTENT_BITS[names] = b
            intents.append(names)
            bits.append(b)
            mood = s.sentiment
            label = mood.label
            flat += (  # in _PER_POST's order
                mood.value,
                label == "negative",
                label == "positive",
                s.sarcasm is not None,
                mood.emoji < 0,
                len(s.hashed.words),
            )
        intent_bits = np.array(bits, dtype=np.int64).reshape(n)
        per_post = np.array(flat, dtype=np.float64).reshape(n, len(_PER_POST))
        sentiment = per_post[:, _AT["sentiment"]].copy()

        def has(*names: str) -> np.ndarray:
            return (intent_bits & bit_mask(names)) != 0

        dense = np.empty((n, len(REPLY_DENSE)))
        for name, j in _PER_POST_COLUMNS:
            dense[:, _COLUMN[name]] = per_post[:, j]
        for intent in _INTENT_COLUMNS:
            dense[:, _COLUMN[intent]] = has(intent)
        dense[:, _COLUMN["urgent"]] = has(*URGENT_INTENTS)
        dense[:, _COLUMN["log_words"]] = np.log1p(np.ascontiguousarray(per_post[:, _AT["words"]])) / 4.0
        return cls(intents, intent_bits, sentiment, per_post[:, _AT["sarcasm"]] != 0, dense.astype(np.float32))


def reply_dense_matrix(signals: Sequence[Signals]) -> np.ndarray:
    """The needs-reply model's dense features (REPLY_DENSE, one row per post)."""
    return SignalColumns.of(signals).dense
