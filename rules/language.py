"""Offline language detection restricted to the brand's market languages.

py3langid (a naive Bayes over byte n-grams, shipped with its model) is run over
the brand's languages plus a few major ones as "others": a post in a language the
brand does not serve comes out as "unknown" instead of being forced into the
nearest market language. Below a confidence floor the answer is also "unknown",
unless the platform's own language tag agrees with a market language: short texts
("ok", "ciao!") are hard for any detector, and the platform often saw more.

A post up to `trust_hint_chars` long whose platform tag names a market language
is taken at the platform's word without running the detector: on a tweet-sized
text the platform's detector (which also knows the author's history) is at least
as good as a byte n-gram model, and py3langid walks the text byte by byte in
Python, which made it the largest single cost of triage.

`detect_many` gives the same answers for a whole batch at a fraction of the cost:
it runs py3langid's own loaded model (its byte automaton and naive Bayes tables,
read from the identifier) over all texts at once with numpy (see _BatchScorer).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

UNKNOWN = "unknown"
DETECT_CHARS = 600
# Compared against the market languages so a foreign post is not forced into one.
OTHERS = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "ro", "tr")

_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.DOTALL)
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\d+")


@dataclass(frozen=True)
class Detected:
    lang: str
    confidence: float
    why: str


class LanguageDetector:
    """Built once per Triager (the model takes ~0.3 s to load); `detect` is then cheap.
    py3langid's identifier keeps mutable scratch state, so calls are serialized."""

    def __init__(self, languages: tuple[str, ...], *, floor: float = 0.5, trust_hint_chars: int = 200) -> None:
        from py3langid import langid

        self.languages = tuple(dict.fromkeys(lang.lower() for lang in languages)) or ("en",)
        self.floor = floor
        self.trust_hint_chars = trust_hint_chars
        self._identifier = langid.LanguageIdentifier.from_modelpath(
            Path(langid.MODEL_DIR) / langid.MODEL_FILE, norm_probs=True
        )
        known = set(self._identifier.nb_classes)
        candidates = [lang for lang in (*self.languages, *OTHERS) if lang in known]
        self._identifier.set_languages(list(dict.fromkeys(candidates)))
        self._lock = threading.Lock()
        self._batch = _BatchScorer.from_identifier(self._identifier)

    def detect(self, text: str, *, hint: str | None = None) -> Detected:
        hint = _short_hint(hint)
        clean = self._before_detector(text, hint)
        if isinstance(clean, Detected):
            return clean
        with self._lock:
            lang, prob = self._identifier.classify(clean)
        return self._verdict(str(lang), float(prob), hint)

    def detect_many(self, texts: Sequence[str], hints: Sequence[str | None]) -> list[Detected]:
        """`[detect(t, hint=h) for t, h in zip(texts, hints)]`, several times faster on a batch:
        the detector runs once over all texts that need it (see _BatchScorer)."""
        if len(texts) != len(hints):
            raise ValueError(
                f"detect_many: {len(texts)} texts but {len(hints)} hints; pass one hint (or None) per text"
            )
        short_hints = [_short_hint(hint) for hint in hints]
        results: list[Detected | None] = []
        todo: list[int] = []
        cleans: list[str] = []
        for i, (text, hint) in enumerate(zip(texts, short_hints, strict=True)):
            clean = self._before_detector(text, hint)
            if isinstance(clean, Detected):
                results.append(clean)
            else:
                results.append(None)
                todo.append(i)
                cleans.append(clean)
        if self._batch is None:  # a py3langid whose model layout the batch scorer does not know
            with self._lock:
                scored = [self._identifier.classify(clean) for clean in cleans]
        else:
            scored = self._batch.classify_many(cleans)
        for i, (lang, prob) in zip(todo, scored, strict=True):
            results[i] = self._verdict(str(lang), float(prob), short_hints[i])
        return [r for r in results if r is not None]

    def _before_detector(self, text: str, hint: str | None) -> Detected | str:
        """The answer when the detector need not run, else the text it should read."""
        if hint in self.languages and len(text) <= self.trust_hint_chars:
            return Detected(hint, 1.0, f"platform says {hint}")
        clean = " ".join(_NOISE.sub(" ", text).split())
        if not _TWO_LETTERS.search(clean):
            if hint in self.languages:
                return Detected(hint, 0.0, f"platform says {hint}")
            return Detected(UNKNOWN, 0.0, "no words to detect a language from")
        # the first DETECT_CHARS characters settle the language of a long Reddit
        # post as well as all of it, and the detector's cost grows with every byte
        return clean[:DETECT_CHARS]

    def _verdict(self, lang: str, prob: float, hint: str | None) -> Detected:
        if lang in self.languages and prob >= self.floor:
            return Detected(lang, prob, f"{lang} {prob:.2f}")
        if hint in self.languages:
            return Detected(hint, prob, f"platform says {hint} (detector unsure: {lang} {prob:.2f})")
        if lang not in self.languages and prob >= self.floor:
            return Detected(UNKNOWN, prob, f"{lang} {prob:.2f} is not one of the brand's languages")
        return Detected(UNKNOWN, prob, f"language unsure ({lang} {prob:.2f} < {self.floor:.2f})")


def _short_hint(hint: str | None) -> str | None:
    """ "pt-BR" -> "pt"; "" -> None."""
    return (hint or "").lower().split("-")[0] or None


# Bytes each row of the batch walk reads before the span it counts (see _BatchScorer).
# py3langid's features are byte 1-4 grams, so 3 would do; a row whose warm-up did not
# reach the true automaton state is detected and its text walked again exactly.
WARMUP_BYTES = 6
# Bytes each row counts: the walk takes WARMUP_BYTES + CHUNK_BYTES numpy steps per
# batch whatever the texts' lengths; shorter rows mean more rows per step.
CHUNK_BYTES = 32


class _BatchScorer:
    """py3langid's classify for many texts at once, from the identifier's own loaded model.

    py3langid finds a text's features (byte n-grams) by walking a byte automaton in
    Python, one byte at a time, then scores them with a naive Bayes. Here every text
    is cut into rows of CHUNK_BYTES bytes and all rows of the batch walk in lock-step,
    one numpy gather per byte position, so a batch costs WARMUP_BYTES + CHUNK_BYTES
    numpy steps in all. A row starts WARMUP_BYTES before the span it counts: the
    automaton's state only depends on the last few bytes read, so the row reaches the
    state the whole-text walk has there. That is checked (the previous row's last
    state must match), and a text whose check fails is walked byte by byte instead,
    so the counts are exactly py3langid's. The counts are then scored and normalised
    as py3langid does with norm_probs=True. Reads only arrays fixed at load, so calls
    need no lock.
    """

    def __init__(self, identifier: Any, *, warmup: int = WARMUP_BYTES, chunk: int = CHUNK_BYTES) -> None:
        if not 0 <= warmup <= chunk:
            raise ValueError(f"_BatchScorer: warmup ({warmup}) must be between 0 and chunk ({chunk})")
        nextmove = identifier.tk_nextmove
        self._nextmove = np.frombuffer(nextmove, dtype=np.dtype(nextmove.typecode))
        self._rowbase = np.asarray(identifier._rowbase, dtype=np.intp)
        self._output = np.asarray(identifier.tk_output, dtype=np.int32)
        # float32 like py3langid's product (its table is float16, which widens exactly)
        self._ptc = np.asarray(identifier.nb_ptc, dtype=np.float32)
        self._pc = np.asarray(identifier.nb_pc, dtype=np.float32)
        self._classes = list(identifier.nb_classes)
        self._alias_pairs = list(identifier._alias_pairs)
        self._identifier = identifier  # for the byte-by-byte walk of a text whose check failed
        self.warmup = warmup
        self.chunk = chunk
        self.rewalked = 0  # texts walked byte by byte after a failed check (the bench prints it)

    @classmethod
    def from_identifier(cls, identifier: Any, **options: int) -> _BatchScorer | None:
        """None for a py3langid whose model layout or scoring this does not reproduce
        (the detector then classifies text by text)."""
        needed = (
            "tk_nextmove",
            "_rowbase",
            "tk_output",
            "nb_ptc",
            "nb_pc",
            "nb_classes",
            "_alias_pairs",
            "_norm_probs",
        )
        if not all(hasattr(identifier, name) for name in needed) or identifier._norm_probs is not True:
            return None
        if getattr(identifier.tk_nextmove, "typecode", None) not in ("H", "I", "L"):
            return None
        return cls(identifier, **options)

    def classify_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(language, confidence) per text, as identifier.classify(text) gives them."""
        if not texts:
            return []
        data = [_encode(text) for text in texts]
        lengths = np.fromiter((len(d) for d in data), dtype=np.intp, count=len(data))
        text_of, feature, count = self._feature_counts(data, lengths)
        probs = self._probabilities(text_of, feature, count, lengths)
        best = probs.argmax(axis=1)
        confidence = probs[np.arange(len(texts)), best]
        return [(self._classes[b], float(c)) for b, c in zip(best.tolist(), confidence.tolist(), strict=True)]

    def _feature_counts(self, data: list[bytes], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, feature, count) triples, sorted by text then feature."""
        warmup, chunk = self.warmup, self.chunk
        width = warmup + chunk
        # text i gets rows j = 0.., row j reads bytes [j*chunk, j*chunk + width) of it and
        # counts the features ending in its last `chunk` bytes (row 0: all `width` bytes)
        rows_per_text = np.maximum(1, -(-(lengths - warmup) // chunk))
        row_text = np.repeat(np.arange(len(data)), rows_per_text)
        first_row = np.cumsum(rows_per_text) - rows_per_text
        row_j = np.arange(len(row_text)) - first_row[row_text]
        text_start = np.cumsum(lengths) - lengths
        buffer = np.frombuffer(b"".join(data) + bytes(width), dtype=np.uint8)
        column = np.arange(width)[:, None]
        table = buffer[text_start[row_text] + row_j * chunk + column]  # (width, rows): one step's bytes contiguous
        states = np.zeros((width + 1, len(row_text)), dtype=self._nextmove.dtype)
        offset = np.empty(len(row_text), dtype=np.intp)
        for t in range(width):  # states[t + 1] = automaton state after the row's byte t
            np.take(self._rowbase, states[t], out=offset)
            offset += table[t]
            np.take(self._nextmove, offset, out=states[t + 1])

        # a row is right if its state after the warm-up is the previous row's last state
        wrong = (row_j[1:] > 0) & (states[warmup, 1:] != states[width, :-1])
        rewalk = np.unique(row_text[1:][wrong])
        features = self._output[states[1:]]
        counted = (column >= np.where(row_j == 0, 0, warmup)) & (column < lengths[row_text] - row_j * chunk)
        counted &= features >= 0
        if len(rewalk):
            counted &= ~np.isin(row_text, rewalk)
        n_features = self._ptc.shape[0]
        key_type = np.int32 if len(data) * n_features < 2**31 else np.int64  # int32 sorts faster
        keys = (row_text.astype(key_type) * n_features)[None, :] + features.astype(key_type)
        keys, counts = np.unique(keys[counted], return_counts=True)
        if len(rewalk):
            keys, counts = self._add_rewalked(keys, counts, rewalk.tolist(), data)
        return keys // n_features, keys % n_features, counts

    def _add_rewalked(
        self, keys: np.ndarray, counts: np.ndarray, texts: list[int], data: list[bytes]
    ) -> tuple[np.ndarray, np.ndarray]:
        from py3langid.langid import visit_counts

        self.rewalked += len(texts)
        ident = self._identifier
        n_features = self._ptc.shape[0]
        extra_keys: list[int] = []
        extra_counts: list[int] = []
        for i in texts:
            visits = visit_counts(ident.tk_nextmove, ident._rowbase, ident.tk_output, data[i]) or {}
            extra_keys += [i * n_features + feature for feature in visits]
            extra_counts += list(visits.values())
        keys = np.concatenate([keys, np.asarray(extra_keys, dtype=keys.dtype)])
        counts = np.concatenate([counts, np.asarray(extra_counts, dtype=counts.dtype)])
        order = np.argsort(keys, kind="stable")
        return keys[order], counts[order]

    def _probabilities(
        self, text_of: np.ndarray, feature: np.ndarray, count: np.ndarray, lengths: np.ndarray
    ) -> np.ndarray:
        """py3langid's normalised scores: naive Bayes log-posterior (0 for a text with no
        feature), times 1/sqrt(bytes), softmax, then aliased columns folded into one."""
        terms = self._ptc[feature]
        terms *= np.log1p(count.astype(np.float32))[:, None]
        scores = np.zeros((len(lengths), len(self._classes)), dtype=np.float32)
        if len(terms):
            scored, first = np.unique(text_of, return_index=True)
            scores[scored] = np.add.reduceat(terms, first, axis=0) + self._pc
        scores *= (1.0 / np.sqrt(np.maximum(lengths, 1))).astype(np.float32)[:, None]
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in self._alias_pairs:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        return scores


def _encode(text: str) -> bytes:
    """The bytes py3langid's classify reads for `text`: an all-capitals text lower-cased,
    NFC, UTF-8 (lone surrogates kept, as py3langid does)."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
