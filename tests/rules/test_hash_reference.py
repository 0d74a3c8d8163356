"""hash_batch against a plain, one-gram-at-a-time statement of the same hashing: the
vectorised version (mod 2**32, one gather for a whole batch) must give exactly the ids,
values and order of the definition (mod 2**64, post by post)."""

from __future__ import annotations

import random
import zlib

import numpy as np

from rules.model import (
    _P,
    _P_WORD,
    _SALT,
    _SALT_BIGRAM,
    _TOKEN,
    CHAR_NGRAMS,
    N_FEATURES,
    LinearModel,
    SparseStack,
    hash_batch,
    normalize,
    tokens,
)
from rules.triage import TriageContext, Triager
from tests.rules.conftest import make_post

WORD = 2**64


def reference(text: str) -> tuple[list[str], list[int], float]:
    """(words, feature ids in order, weight of each) for one post, as defined."""
    norm = normalize(text)
    words = _TOKEN.findall(norm)
    unigrams = [zlib.crc32(w.encode("utf-8", "surrogatepass")) for w in words]
    bigrams = [(a * int(_P_WORD) % WORD) ^ b ^ int(_SALT_BIGRAM) for a, b in zip(unigrams, unigrams[1:], strict=False)]
    padded = " " + " ".join(norm.split()) + " \0\0\0"
    windows = len(padded) - 4 if len(padded) > 5 else 0
    grams = []
    for n in CHAR_NGRAMS:
        for start in range(windows):
            h = 0
            for ch in padded[start : start + n]:
                h = (h * int(_P) + ord(ch)) % WORD
            grams.append(h ^ int(_SALT[n]))
    ids = [v % N_FEATURES for v in unigrams + bigrams + grams]
    return words, ids, 1.0 / len(ids) ** 0.5 if ids else 0.0


EDGE_TEXTS = [
    "",
    " ",
    "a",
    "ab",
    "Il pacco è arrivato rotto 😡 #fail",
    "ÇA COÛTE https://x.co/a @Lumo!!",
    "tab\there\x1cfile\x1fsep under_score",
    "👍🏽👍🏽 ok",
    "ﬁne Ⅳ ٣ İstanbul straße",
    "non\u00a0breaking\u2028line",
    "a lone surrogate \ud800 from a JSON escape",
]


def random_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    alphabet = [*"abc xyz_ \t\n\x1c\x0b!?.,'@#/:", "é", "ñ", "😡", "\u0301", "ﬁ", "٣", "http://x.co ", "@u1 ", "\x00"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(n)]


def test_hash_batch_matches_the_definition_on_edge_and_random_texts() -> None:
    texts = EDGE_TEXTS + random_texts(300)
    batch = hash_batch(texts)
    assert batch.idx.dtype == np.int64 and batch.val.dtype == np.float32
    for i, text in enumerate(texts):
        words, ids, weight = reference(text)
        row = batch.row(i)
        assert list(row.words) == words, text
        assert row.idx.tolist() == ids, text
        assert np.array_equal(row.val, np.full(len(ids), weight, dtype=np.float32)), text


def test_a_post_hashes_the_same_alone_and_in_any_batch() -> None:
    texts = EDGE_TEXTS + random_texts(50, seed=11)
    together = hash_batch(texts)
    for i, text in enumerate(texts):
        alone = hash_batch([text]).row(0)
        assert np.array_equal(alone.idx, together.row(i).idx) and np.array_equal(alone.val, together.row(i).val)
    assert len(hash_batch([]).norms) == 0


def test_ascii_tokenizer_agrees_with_the_unicode_one_on_every_ascii_pair() -> None:
    chars = [chr(c) for c in range(128)]
    for a in chars:
        for b in chars:
            text = f"{a}{b}x{a}_{b} {b}"
            assert tokens(text) == _TOKEN.findall(text), repr(text)
    assert tokens("perché\x1cno_1 ok!") == ["perché", "no_1", "ok", "!"]


def test_sparse_stack_gives_each_model_its_own_logits_from_an_aligned_table() -> None:
    rng = np.random.default_rng(3)
    models = [
        LinearModel(classes, rng.normal(size=(rows, N_FEATURES)).astype(np.float32), np.zeros(rows, np.float32))
        for classes, rows in ((("neg", "neu", "pos"), 3), (("0", "1"), 1), (("a", "b", "c"), 3))
    ]
    batch = hash_batch(EDGE_TEXTS)
    for chosen in (models[:1], models[1:2], models):
        stack = SparseStack(chosen)
        width = sum(len(m.bias) for m in chosen)
        assert stack.table.ctypes.data % 64 == 0 and stack.table.shape[1] in (4, 8)
        assert not stack.table[:, width:].any()
        parts = stack.logits(batch.matrix())
        for model in chosen:
            own = model.hashed_logits([batch.row(i) for i in range(len(EDGE_TEXTS))])
            assert parts[id(model)].shape == own.shape
            assert np.allclose(parts[id(model)], own, atol=1e-4)


def test_a_post_with_a_lone_surrogate_is_triaged(triager: Triager, ctx: TriageContext) -> None:
    # json.loads turns an unpaired "\ud83d" escape into a lone surrogate; hashing it once
    # raised UnicodeEncodeError and lost the whole page of posts
    for lang in (None, "en"):
        posts = [
            make_post("still waiting, parcel broken \ud83d again", lang=lang),
            make_post("thank you so much, all sorted now", lang=lang),
        ]
        results = triager.triage_many(posts, [ctx, ctx])
        assert "complaint" in results[0].intents and "thanks_close" in results[1].intents
