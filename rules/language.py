"""Offline language detection restricted to the brand's market languages.

py3langid (a naive Bayes over byte n-grams, shipped with its model) is run over
the brand's languages plus a few major ones as "others": a post in a language the
brand does not serve comes out as "unknown" instead of being forced into the
nearest market language. Below a confidence floor the answer is also "unknown",
unless the platform's own language tag agrees with a market language: short texts
("ok", "ciao!") are hard for any detector, and the platform often saw more.

A text with words is never "unknown" for being short or mixed: a post of up to
SHORT_WORDS words, or one whose best guess is a market language below the floor,
gets the market language the detector ranks highest. Only a longer post in
another language (or in none the detector knows) stays "unknown" for a human.

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
from typing import Any, cast

import numpy as np

UNKNOWN = "unknown"
DETECT_CHARS = 600
# Up to this many words a post takes the brand's likeliest language rather than
# "unknown": two or three words are too few for a detector to be sure of anything.
SHORT_WORDS = 3
# Compared against the market languages so a foreign post is not forced into one.
OTHERS = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "ro", "tr")

_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]{2,}")
# links, user names, hashtags and numbers: https?://\S+|www\.\S+|[@#]\w+|\d+, written to
# start with the class of their first characters, which the regex engine then scans for
# in C instead of trying the pattern at every position
_NOISE = re.compile(r"[hw@#\d](?:(?<=h)ttps?://\S+|(?<=w)ww\.\S+|(?<=[@#])\w+|(?<=\d)\d*)")


@dataclass(frozen=True)
class Detected:
    lang: str
    confidence: float
    why: str


class LanguageDetector:
    """Built once per Triager (the model takes ~0.3 s to load); `detect` is then cheap.
    py3langid's identifier keeps mutable scratch state, so `detect` calls are serialized;
    `detect_many` only reads arrays fixed at load and needs no lock."""

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
        # the answer for every short tagged post, made once per language (it is immutable)
        self._taken_at_platforms_word = {lang: Detected(lang, 1.0, f"platform says {lang}") for lang in self.languages}

    def detect(self, text: str, *, hint: str | None = None) -> Detected:
        hint = _short_hint(hint)
        clean = self._before_detector(text, hint)
        if isinstance(clean, Detected):
            return clean
        with self._lock:
            lang, prob = self._identifier.classify(clean)
        return self._verdict(str(lang), float(prob), hint, clean)

    def detect_many(self, texts: Sequence[str], hints: Sequence[str | None]) -> list[Detected]:
        """`[detect(t, hint=h) for t, h in zip(texts, hints)]`, several times faster on a batch:
        the detector runs once over all texts that need it (see _BatchScorer)."""
        if len(texts) != len(hints):
            raise ValueError(
                f"detect_many: {len(texts)} texts but {len(hints)} hints; pass one hint (or None) per text"
            )
        short_hints = [_short_hint(hint) for hint in hints]
        # an answer, or the text the detector must read
        results = [self._before_detector(text, hint) for text, hint in zip(texts, short_hints, strict=True)]
        todo = [i for i, result in enumerate(results) if isinstance(result, str)]
        cleans = [str(results[i]) for i in todo]
        if self._batch is None or sum(map(len, cleans)) < BATCH_MIN_CHARS:
            # a py3langid whose model layout the batch scorer does not know, or too few texts
            with self._lock:
                scored = [self._identifier.classify(clean) for clean in cleans]
        else:
            scored = self._batch.classify_many(cleans)
        for i, clean, (lang, prob) in zip(todo, cleans, scored, strict=True):
            results[i] = self._verdict(str(lang), float(prob), short_hints[i], clean)
        return cast(list[Detected], results)  # every text now has its answer

    def _before_detector(self, text: str, hint: str | None) -> Detected | str:
        """The answer when the detector need not run, else the text it should read."""
        if hint in self.languages and len(text) <= self.trust_hint_chars:
            return self._taken_at_platforms_word[hint]
        clean = " ".join(_NOISE.sub(" ", text).split())
        if not _TWO_LETTERS.search(clean):
            if hint in self.languages:
                return Detected(hint, 0.0, f"platform says {hint}")
            return Detected(UNKNOWN, 0.0, "no words to detect a language from")
        # the first DETECT_CHARS characters settle the language of a long Reddit
        # post as well as all of it, and the detector's cost grows with every byte
        return clean[:DETECT_CHARS]

    def _verdict(self, lang: str, prob: float, hint: str | None, clean: str) -> Detected:
        """The answer from the detector's best language and its confidence."""
        if lang in self.languages and prob >= self.floor:
            return Detected(lang, prob, f"{lang} {prob:.2f}")
        if hint in self.languages:
            return Detected(hint, prob, f"platform says {hint} (detector unsure: {lang} {prob:.2f})")
        if lang in self.languages:
            return Detected(lang, prob, f"{lang} {prob:.2f}, the likeliest of the brand's languages")
        if len(_WORD.findall(clean)) <= SHORT_WORDS:
            return self._likeliest_market_language(clean, lang, prob)
        if prob >= self.floor:
            return Detected(UNKNOWN, prob, f"{lang} {prob:.2f} is not one of the brand's languages")
        return Detected(UNKNOWN, prob, f"language unsure ({lang} {prob:.2f} < {self.floor:.2f})")

    def _likeliest_market_language(self, clean: str, lang: str, prob: float) -> Detected:
        """A short post's answer: the brand's language the detector ranks highest. Rare
        enough (short posts the detector puts outside the market) to rank text by text."""
        with self._lock:
            ranked = self._identifier.rank(clean)
        best, best_prob = next((str(c), float(p)) for c, p in ranked if c in self.languages)
        why = f"short post: {best} {best_prob:.2f}, the likeliest of the brand's languages (best {lang} {prob:.2f})"
        return Detected(best, best_prob, why)


def _short_hint(hint: str | None) -> str | None:
    """A platform's language tag as a language code: pt-BR gives pt, no tag gives None."""
    return (hint or "").lower().split("-")[0] or None


# Bytes each row of the batch walk reads before the span it counts (see _BatchScorer):
# no state of py3langid 0.4's automaton lies deeper than 6 bytes from its start, so 6
# bytes of context put a row in the state a whole-text walk has there.
WARMUP_BYTES = 6
# Bytes each row counts: the walk takes WARMUP_BYTES + CHUNK_BYTES numpy steps per
# batch whatever the texts' lengths; shorter rows mean more rows per step, and more
# of the work is warm-up. 24 was the fastest for batches of 50-1000 posts.
CHUNK_BYTES = 24
# The scratch arrays take ~30 bytes per byte of text: larger batches go in parts.
MAX_BATCH_BYTES = 1 << 18
# Below this many characters in all, py3langid text by text is cheaper than the
# batch walk's fixed cost (about 5 typical posts).
BATCH_MIN_CHARS = 500
# Bytes no UTF-8 text contains; one that sends every state of the automaton back to
# its start separates the texts of a batch.
_NOT_UTF8 = (0xFF, 0xFE, 0xC0, 0xC1, *range(0xF5, 0xFE))


class _BatchScorer:
    """py3langid's classify for many texts at once, from the identifier's own loaded model.

    py3langid finds a text's features (byte n-grams) by walking a byte automaton in
    Python, one byte at a time, then scores them with a naive Bayes. Here the texts of
    a batch are joined by a byte that resets the automaton, the joined bytes are cut
    into rows of CHUNK_BYTES, and all rows walk in lock-step, one numpy gather per
    byte position: a batch costs WARMUP_BYTES + CHUNK_BYTES numpy steps in all. Each
    row first reads the WARMUP_BYTES before its span, since the automaton's state only
    depends on the last few bytes read. That is checked (a row's state after its
    warm-up must be the previous row's last state); if a check ever fails, the batch
    is walked byte by byte instead, so the counts are always exactly py3langid's.
    The counts are then scored and normalised as py3langid does with norm_probs=True.
    Reads only arrays fixed at load, so calls need no lock.
    """

    def __init__(
        self, identifier: Any, *, separator: int, warmup: int = WARMUP_BYTES, chunk: int = CHUNK_BYTES
    ) -> None:
        if not 0 <= warmup <= chunk:
            raise ValueError(f"_BatchScorer: warmup ({warmup}) must be between 0 and chunk ({chunk})")
        nextmove = identifier.tk_nextmove
        self._nextmove = np.frombuffer(nextmove, dtype=np.dtype(nextmove.typecode))
        self._rowbase = np.asarray(identifier._rowbase, dtype=np.intp)
        self._output = np.asarray(identifier.tk_output, dtype=np.int32)
        # float32 as py3langid's product reads it (its table is float16, which widens
        # exactly); row-major, as set_languages leaves it column-major: rows gather faster
        self._ptc = np.ascontiguousarray(identifier.nb_ptc, dtype=np.float32)
        self._pc = np.asarray(identifier.nb_pc, dtype=np.float32)
        self._classes = list(identifier.nb_classes)
        self._alias_pairs = list(identifier._alias_pairs)
        self._identifier = identifier  # for the byte-by-byte walk should a check fail
        self._separator = bytes([separator])
        self.warmup = warmup
        self.chunk = chunk
        self.rewalked = 0  # batches walked byte by byte after a failed check (the bench prints it)

    @classmethod
    def from_identifier(cls, identifier: Any, **options: int) -> _BatchScorer | None:
        """None for a py3langid whose model layout or scoring this does not reproduce
        (the detector then classifies text by text)."""
        from py3langid import langid

        needed = ("tk_nextmove", "_rowbase", "tk_output", "nb_ptc", "nb_pc", "nb_classes", "_alias_pairs")
        if (
            not all(hasattr(identifier, name) for name in needed)
            or not hasattr(langid, "visit_counts")
            or getattr(identifier, "_norm_probs", None) is not True
            or getattr(identifier, "min_confidence", None) is not None
        ):
            return None
        if getattr(identifier.tk_nextmove, "typecode", None) not in ("H", "I", "L") or identifier.tk_output[0] >= 0:
            return None
        nextmove = np.frombuffer(identifier.tk_nextmove, dtype=np.dtype(identifier.tk_nextmove.typecode))
        rowbase = np.asarray(identifier._rowbase, dtype=np.intp)
        for byte in _NOT_UTF8:
            if not nextmove[rowbase + byte].any():
                return cls(identifier, separator=byte, **options)
        return None

    def classify_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(language, confidence) per text, as identifier.classify(text) gives them."""
        data = [_encode(text) for text in texts]
        answers: list[tuple[str, float]] = []
        start = 0
        while start < len(data):  # parts of at most MAX_BATCH_BYTES (or one text): bounded scratch memory
            end, size = start + 1, len(data[start])
            while end < len(data) and size + len(data[end]) <= MAX_BATCH_BYTES:
                size += len(data[end])
                end += 1
            answers += self._classify_encoded(data[start:end])
            start = end
        return answers

    def _classify_encoded(self, data: list[bytes]) -> list[tuple[str, float]]:
        lengths = np.fromiter((len(d) for d in data), dtype=np.intp, count=len(data))
        text_of, feature, count = self._feature_counts(data, lengths)
        probs = self._probabilities(text_of, feature, count, lengths)
        best = probs.argmax(axis=1)
        confidence = probs[np.arange(len(data)), best]
        return [(self._classes[b], float(c)) for b, c in zip(best.tolist(), confidence.tolist(), strict=True)]

    def _feature_counts(self, data: list[bytes], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, feature, count) triples, by text, then by where the feature first occurs."""
        warmup, chunk = self.warmup, self.chunk
        width = warmup + chunk
        stream = self._separator.join(data)
        n_rows = max(1, -(-len(stream) // chunk))
        # row r reads bytes [r*chunk - warmup, (r + 1)*chunk) of the stream and counts
        # the features found in its last `chunk` bytes
        buffer = self._separator * warmup + stream + self._separator * (n_rows * chunk - len(stream))
        # (rows, width): a view of the buffer, one row every `chunk` bytes; what
        # sliding_window_view(...)[::chunk] gives, without its ~40 us of Python-level checks
        rows = np.ndarray(shape=(n_rows, width), dtype=np.uint8, buffer=buffer, strides=(chunk, 1))
        # (width, rows): one step's bytes side by side, as intp to add without a cast
        table = rows.T.astype(np.intp, order="C")
        states: np.ndarray = np.zeros((width + 1, n_rows), dtype=self._nextmove.dtype)
        offset = np.empty(n_rows, dtype=np.intp)
        for t in range(width):  # states[t + 1] = automaton state after each row's byte t
            self._rowbase.take(states[t], out=offset)
            offset += table[t]
            self._nextmove.take(offset, out=states[t + 1])
        if np.any(states[warmup, 1:] != states[width, :-1]):
            self.rewalked += 1
            return self._walked_counts(data)

        features = self._output.take(states[warmup + 1 :].T).ravel()  # by position in the stream
        found = np.flatnonzero(features >= 0)
        text_start = np.cumsum(lengths + 1) - (lengths + 1)
        text = np.searchsorted(text_start, found, side="right") - 1
        feature = features[found]
        n = len(found)
        if n == 0:
            return text, feature, np.zeros(0, dtype=np.intp)
        # one sort of (text, feature, position) puts the hits of each (text, feature)
        # side by side, the first one first (fits in int64: a part has at most
        # MAX_BATCH_BYTES bytes, or is one text)
        hits = (text.astype(np.int64) * self._ptc.shape[0] + feature) * n + np.arange(n)
        hits.sort()
        pair = hits // n
        group = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
        first = hits[group] % n
        count = np.zeros(n, dtype=np.intp)
        count[first] = np.diff(group, append=n)
        # back in stream order: py3langid sums a text's features in order of first occurrence
        firsts = np.flatnonzero(count)
        return text[firsts], feature[firsts], count[firsts]

    def _walked_counts(self, data: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """_feature_counts by py3langid's own byte-by-byte walk."""
        from py3langid.langid import visit_counts

        ident = self._identifier
        text_of: list[int] = []
        feature: list[int] = []
        count: list[int] = []
        for i, text in enumerate(data):
            visits = visit_counts(ident.tk_nextmove, ident._rowbase, ident.tk_output, text) or {}
            for f, c in visits.items():
                text_of.append(i)
                feature.append(f)
                count.append(c)
        return np.asarray(text_of, dtype=np.intp), np.asarray(feature, dtype=np.intp), np.asarray(count, dtype=np.intp)

    def _probabilities(
        self, text_of: np.ndarray, feature: np.ndarray, count: np.ndarray, lengths: np.ndarray
    ) -> np.ndarray:
        """py3langid's normalised scores: naive Bayes log-posterior (0 for a text with no
        feature), times 1/sqrt(bytes), softmax, then aliased columns folded into one."""
        scores = np.zeros((len(lengths), len(self._classes)), dtype=np.float32)
        if len(feature):
            # one product per text, in py3langid's order and dtypes, so the sums are
            # bit for bit its own (one product over the batch would round differently)
            weights = np.log1p(count.astype(np.float32))
            terms = self._ptc[feature]
            first = np.flatnonzero(np.concatenate(([True], text_of[1:] != text_of[:-1])))
            scored = text_of[first]
            ends = [*first[1:].tolist(), len(feature)]
            sums = np.empty((len(first), len(self._classes)), dtype=np.float32)
            for row, (a, b) in enumerate(zip(first.tolist(), ends, strict=True)):
                weights[a:b].dot(terms[a:b], out=sums[row])  # the same BLAS product as `@`, less overhead
            scores[scored] = sums + self._pc
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
