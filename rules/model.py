"""Hashed word and character n-grams with linear models, stored as plain numpy arrays.

Why not sklearn objects: a pickle ties the shipped file to one sklearn version and can
run code when loaded. Here a model is its weights plus a small JSON header (format
version, feature settings, classes, metadata), saved with `numpy.savez_compressed`
and loaded with `allow_pickle=False`. sklearn is only used to *fit* the weights.

Features are computed once per post and shared by every model (sentiment per
language, needs-reply): `hash_batch` hashes a page of posts at once into one sparse
matrix (`HashedBatch`, a `HashedText` per row), so one post costs one tokenization.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
N_FEATURES = 2**18
CHAR_NGRAMS = (2, 3, 4, 5)
_P = np.uint64(1_000_003)
_MASK = np.uint64(N_FEATURES - 1)
_SALT = {n: np.uint64((n * 0x9E3779B97F4A7C15) % 2**64) for n in CHAR_NGRAMS}
_P_WORD = np.uint64(0x100000001B3)
_SALT_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
# the same constants mod 2**32, which hash_batch computes in (see there)
_P32 = np.uint32(int(_P) % 2**32)
_SALT32 = np.asarray([int(_SALT[n]) % 2**32 for n in CHAR_NGRAMS], dtype=np.uint32)
_P_WORD32 = np.uint32(int(_P_WORD) % 2**32)
_SALT_BIGRAM32 = np.uint32(int(_SALT_BIGRAM) % 2**32)
_MASK32 = np.uint32(N_FEATURES - 1)

_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
# the same tokens on ASCII text (where Unicode's \s adds \x1c-\x1f), found faster
_TOKEN_ASCII = re.compile(r"\w+|[^\w\s\x1c-\x1f]", re.ASCII)


class ModelError(Exception):
    """A model file is missing, unreadable or of an unknown format; says which file and what to do."""


def normalize(text: str) -> str:
    """Case, accents, links and user names removed: what the models and intent patterns see.
    Accents go because customers often type without them (and RoSent has none)."""
    # most posts have neither: a substring test is cheaper than a regex pass
    if "http" in text or "www." in text:
        text = _URL.sub(" http ", text)
    if "@" in text:
        text = _USER.sub(" @user ", text)
    return strip_accents(text.casefold())


def strip_accents(text: str) -> str:
    """ "perché" -> "perche": accents as customers often leave them out."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def tokens(norm: str) -> list[str]:
    return (_TOKEN_ASCII if norm.isascii() else _TOKEN).findall(norm)


_CRC_CACHE: dict[str, int] = {}
CRC_CACHE_SIZE = 300_000


def _crc_cached(word: str) -> int:
    """crc32 of a word or word pair, remembered: the same few thousand words make up
    most posts, and a dict lookup is a fraction of encoding and hashing again."""
    found = _CRC_CACHE.get(word)
    if found is None:
        if len(_CRC_CACHE) >= CRC_CACHE_SIZE:
            _CRC_CACHE.clear()
        found = _CRC_CACHE[word] = zlib.crc32(word.encode("utf-8", "surrogatepass"))
    return found


# built for every post: plain slots, as a frozen dataclass pays a setattr call per field
@dataclass(slots=True)
class HashedText:
    """A post's sparse feature vector: column ids (may repeat) and their weights."""

    norm: str
    words: tuple[str, ...]
    idx: np.ndarray
    val: np.ndarray


@dataclass(frozen=True)
class HashedBatch:
    """Several posts' feature vectors as one CSR matrix (row i = post i), hashed at once:
    numpy's per-call cost is paid once per batch instead of a dozen times per post."""

    norms: list[str]
    words: list[tuple[str, ...]]
    indptr: np.ndarray
    idx: np.ndarray
    val: np.ndarray

    def row(self, i: int) -> HashedText:
        a, b = self.indptr[i], self.indptr[i + 1]
        return HashedText(self.norms[i], self.words[i], self.idx[a:b], self.val[a:b])

    def rows(self, start: int = 0, stop: int | None = None) -> list[HashedText]:
        """`[self.row(i) for i in range(start, stop)]`, with the bounds read as ints once."""
        stop = len(self.norms) if stop is None else stop
        bounds = self.indptr[start : stop + 1].tolist()
        idx, val = self.idx, self.val
        return [
            HashedText(norm, words, idx[a:b], val[a:b])
            for norm, words, a, b in zip(
                self.norms[start:stop], self.words[start:stop], bounds[:-1], bounds[1:], strict=True
            )
        ]

    def matrix(self, start: int = 0, stop: int | None = None) -> Any:
        """The scipy CSR matrix of rows start..stop (all by default), built on the batch's own
        arrays without copying; repeated ids in a row are summed by products."""
        from scipy import sparse

        stop = len(self.norms) if stop is None else stop
        a, b = int(self.indptr[start]), int(self.indptr[stop])
        # int32 indices, as scipy would otherwise check and convert them itself
        indptr = (self.indptr[start : stop + 1] - a).astype(np.int32)
        idx = self.idx[a:b].astype(np.int32)
        return sparse.csr_matrix((self.val[a:b], idx, indptr), shape=(stop - start, N_FEATURES))


def hash_text(text: str) -> HashedText:
    return hash_batch([text]).row(0)


def hash_batch(texts: Sequence[str]) -> HashedBatch:
    """Word unigrams (crc32), word bigrams (the two words' crc32 mixed) and character
    2-5 grams (a vectorized polynomial hash), each occurrence weighted 1/sqrt(number of
    grams in its post). Deterministic across processes and platforms, and a post
    hashes the same alone or in any batch.

    The hashes are defined mod 2**64 (see _P, _SALT) but only their low 18 bits are kept,
    and those only depend on the low bits of what is multiplied and added: they are
    computed mod 2**32, on arrays half the size."""
    norms = [normalize(t) for t in texts]
    words = [tuple(tokens(n)) for n in norms]
    # word unigrams: crc32 of each word (remembered), flat over the batch
    flat: list[str] = []
    for w in words:
        flat += w
    crcs = list(map(_CRC_CACHE.get, flat))
    if None in crcs:
        crcs = [c if c is not None else _crc_cached(g) for g, c in zip(flat, crcs, strict=True)]
    unigrams = np.fromiter(crcs, dtype=np.uint32, count=len(crcs))
    # word bigrams: every pair of neighbouring words in the batch; a post uses its own
    bigrams = (unigrams[:-1] * _P_WORD32) ^ unigrams[1:] ^ _SALT_BIGRAM32
    # character grams: every post padded, all posts in one code array; h[k - 2, j] is
    # the hash of the k-gram starting at code j (a post uses the windows inside it)
    padded = [" " + " ".join(n.split()) + " \0\0\0" for n in norms]
    codes = np.frombuffer(("".join(padded) + "\0" * 4).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    size = len(codes) - 4
    h = np.empty((len(CHAR_NGRAMS), size), dtype=np.uint32)
    np.multiply(codes[:size], _P32, out=h[0])
    h[0] += codes[1 : size + 1]
    for k in range(1, len(CHAR_NGRAMS)):
        np.multiply(h[k - 1], _P32, out=h[k])
        h[k] += codes[k + 1 : size + k + 1]
    h ^= _SALT32[:, None]
    # each row is [unigrams][bigrams][2-grams][3-grams][4-grams][5-grams]: six runs of
    # `source` (unigrams, bigrams, h), gathered at once
    source = np.concatenate((unigrams, bigrams, h.ravel()))
    source &= _MASK32
    n_words = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    windows = np.where(lengths > 5, lengths - 4, 0)
    first_word = np.cumsum(n_words) - n_words
    n_bigrams = np.maximum(n_words - 1, 0)
    char_start = len(unigrams) + len(bigrams) + np.cumsum(lengths) - lengths
    run_start = np.empty((len(texts), 2 + len(CHAR_NGRAMS)), dtype=np.int64)
    run_start[:, 0] = first_word
    run_start[:, 1] = len(unigrams) + first_word
    run_start[:, 2:] = char_start[:, None] + size * np.arange(len(CHAR_NGRAMS))
    run_length = np.empty_like(run_start)
    run_length[:, 0] = n_words
    run_length[:, 1] = n_bigrams
    run_length[:, 2:] = windows[:, None]
    starts, run_lengths = run_start.ravel(), run_length.ravel()
    counts = n_words + n_bigrams + len(CHAR_NGRAMS) * windows
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    total = int(indptr[-1])
    out_start = np.cumsum(run_lengths) - run_lengths
    take = np.repeat(starts - out_start, run_lengths) + np.arange(total)
    idx = source.take(take).astype(np.int64)
    weight = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0).astype(np.float32)
    return HashedBatch(norms, words, indptr, idx, np.repeat(weight, counts))


@dataclass(frozen=True)
class LinearModel:
    """A (multi)class linear model over hashed text plus named dense features.

    `weights` is (classes, N_FEATURES + len(dense)); for two classes one row (the
    positive class). `meta` carries what a user needs to trust the file: what it was
    trained on, when, and its held-back metrics.
    """

    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    dense: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # feature-major layout: one post's few hundred columns are then few hundred
        # cache lines, not few hundred per class (the weights are megabytes). `weights`
        # becomes a view of it, so the model is held once, not twice.
        by_feature = np.ascontiguousarray(self.weights.T)
        object.__setattr__(self, "_by_feature", by_feature)
        object.__setattr__(self, "weights", by_feature.T)

    def logits(self, x: HashedText, dense: Sequence[float] = ()) -> np.ndarray:
        return self.combine(self.hashed_logits([x]), np.asarray([dense], dtype=np.float32))[0]

    def hashed_logits(self, rows: Sequence[HashedText]) -> np.ndarray:
        """The hashed part of the logits (n x classes) from each row's own features; a
        batch gets it from `SparseStack.logits` in one product instead."""
        by_feature: np.ndarray = self._by_feature  # type: ignore[attr-defined]
        if not rows:
            return np.zeros((0, len(self.bias)))
        return np.stack([x.val @ by_feature[x.idx] for x in rows])

    def combine(self, hashed: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """Logits of n posts (n x classes) from their hashed part (n x classes, as
        `SparseStack.logits` gives) and their dense features (n x len(self.dense))."""
        by_feature: np.ndarray = self._by_feature  # type: ignore[attr-defined]
        out = hashed + self.bias
        if self.dense:
            out = out + dense @ by_feature[N_FEATURES:]
        return np.asarray(out, dtype=np.float64)

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """Class probabilities (n x classes, in `self.classes` order) from logits (n x rows)."""
        if len(self.classes) == 2 and z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -30.0, 30.0)))
            return np.stack([1.0 - p, p], axis=1)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return np.asarray(e / e.sum(axis=1, keepdims=True))


class SparseStack:
    """Several models' hashed weights side by side in one table, so a post's few
    hundred columns are gathered once for all of them: the gather is bound by cache
    misses on megabytes of weights, and one 16-byte row beats several scattered ones."""

    def __init__(self, models: Sequence[LinearModel]) -> None:
        import scipy.sparse  # noqa: F401  (the products need it: loaded with the weights, not by a first page)

        self.models = tuple(models)
        parts = [m._by_feature[:N_FEATURES] for m in self.models]  # type: ignore[attr-defined]
        ends = np.cumsum([p.shape[1] for p in parts], dtype=np.int64)
        self.spans = [(int(end - p.shape[1]), int(end)) for p, end in zip(parts, ends, strict=True)]
        self.table = _aligned_rows(N_FEATURES, int(ends[-1]) if parts else 0)
        for part, (start, end) in zip(parts, self.spans, strict=True):
            self.table[:, start:end] = part

    def logits(self, matrix: Any) -> dict[int, np.ndarray]:
        """id(model) -> that model's hashed part of the logits for every row of `matrix`
        (a CSR batch from `HashedBatch.matrix`), from one sparse product for all models."""
        if not self.models:
            return {}
        total = np.asarray(matrix @ self.table)
        return {id(m): total[:, start:end] for m, (start, end) in zip(self.models, self.spans, strict=True)}


def _aligned_rows(rows: int, width: int) -> np.ndarray:
    """A zeroed float32 table of `rows` x `width` columns, padded to 4 or a multiple of 8
    columns (16 or 32k bytes) and starting on a 64-byte boundary: then no row straddles
    two cache lines, and a product gathering rows at random runs about twice as fast.
    The padding columns are zero and read by no one."""
    padded = 0 if width == 0 else 4 if width <= 4 else -(-width // 8) * 8
    buffer = np.zeros(rows * padded + 16, dtype=np.float32)
    skip = (-buffer.ctypes.data % 64) // 4
    return buffer[skip : skip + rows * padded].reshape(rows, padded)


def design_matrix(texts: Sequence[HashedText], dense: Sequence[Sequence[float]] | None = None) -> Any:
    """Stack hashed rows (and dense columns) into a scipy CSR matrix for fitting."""
    from scipy import sparse

    n_dense = len(dense[0]) if dense else 0
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for i, x in enumerate(texts):
        indices.append(x.idx)
        data.append(x.val)
        if n_dense and dense is not None:
            indices.append(np.arange(N_FEATURES, N_FEATURES + n_dense, dtype=np.int64))
            data.append(np.asarray(dense[i], dtype=np.float32))
        indptr.append(indptr[-1] + len(x.idx) + n_dense)
    return sparse.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int64),
            np.asarray(indptr),
        ),
        shape=(len(texts), N_FEATURES + n_dense),
    )


def fit_linear(
    texts: Sequence[HashedText],
    labels: Sequence[str],
    *,
    dense: Sequence[Sequence[float]] | None = None,
    dense_names: Sequence[str] = (),
    c: float = 4.0,
    sample_weight: Sequence[float] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> LinearModel:
    """Fit a logistic regression (sklearn, lbfgs) and keep only its weights."""
    from sklearn.linear_model import LogisticRegression

    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise ValueError(f"need at least two different labels to train, got only {classes!r}")
    x = design_matrix(texts, dense)
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(x, list(labels), sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    order = tuple(str(v) for v in clf.classes_)
    return LinearModel(
        classes=order,
        weights=np.asarray(clf.coef_, dtype=np.float32),
        bias=np.asarray(clf.intercept_, dtype=np.float32),
        dense=tuple(dense_names),
        meta=dict(meta or {}),
    )


def save_models(path: Path, models: Mapping[str, LinearModel], *, kind: str, meta: Mapping[str, Any]) -> None:
    """Write several named models to one .npz: weights stored sparse (non-zero columns
    only, float16), so an unused hash bucket costs nothing on disk."""
    arrays: dict[str, np.ndarray] = {}
    header: dict[str, Any] = {"format_version": FORMAT_VERSION, "kind": kind, "n_features": N_FEATURES, **meta}
    header["models"] = {}
    for name, model in models.items():
        cols = np.flatnonzero(np.any(model.weights != 0, axis=0)).astype(np.int32)
        arrays[f"{name}.cols"] = cols
        arrays[f"{name}.w"] = model.weights[:, cols].astype(np.float16)
        arrays[f"{name}.b"] = model.bias.astype(np.float32)
        header["models"][name] = {"classes": list(model.classes), "dense": list(model.dense), "meta": dict(model.meta)}
    arrays["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def load_models(path: Path, *, kind: str) -> tuple[dict[str, LinearModel], dict[str, Any]]:
    """Read a file written by `save_models`; refuse other kinds and newer formats clearly."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found; run `watcher train` or fix triage.model_path") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable model file ({exc}); retrain it with `watcher train`") from None
    try:
        header = json.loads(bytes(arrays["header"]).decode("utf-8"))
    except (KeyError, ValueError):
        raise ModelError(f"{path}: model file has no header; retrain it with `watcher train`") from None
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format {version} is not supported by this version (expects {FORMAT_VERSION}); "
            "retrain it with `watcher train`"
        )
    if header.get("kind") != kind:
        raise ModelError(f"{path}: holds a {header.get('kind')!r} model, expected {kind!r}")
    models = {}
    for name, info in header["models"].items():
        dense = tuple(info["dense"])
        classes = tuple(info["classes"])
        w = arrays[f"{name}.w"].astype(np.float32)
        weights = np.zeros((w.shape[0], N_FEATURES + len(dense)), dtype=np.float32)
        weights[:, arrays[f"{name}.cols"]] = w
        models[name] = LinearModel(classes, weights, arrays[f"{name}.b"], dense, info.get("meta", {}))
    return models, header
