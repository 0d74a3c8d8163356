"""The second sentiment stage: sentence embeddings blended in for the posts the first
model is unsure of (rules/sentiment.py), and how tools/sentiment_embed.py chooses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rules.model import N_FEATURES, LinearModel, hash_text, load_models
from rules.sentiment import (
    DENSE,
    EMBEDDED,
    EMBEDDING_DENSE,
    EMBEDDING_SIZE,
    SENTIMENT_MODEL_FILE,
    SentimentAnalyzer,
)
from tools.sentiment_embed import BANDS, EMBED_CS, EMBED_LANGS, OutOfFold, blended, choose

CLASSES = ("negative", "neutral", "positive")


class CountingEncoder:
    """Stands in for USE: a fixed vector per text, and a record of what it was asked."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.ones((len(texts), EMBEDDING_SIZE), dtype=np.float32) / np.sqrt(EMBEDDING_SIZE)


def first_model(bias: list[float]) -> LinearModel:
    return LinearModel(CLASSES, np.zeros((3, N_FEATURES + len(DENSE)), np.float32), np.asarray(bias, np.float32), DENSE)


def second_model(*, band: float = 0.7, blend: float = 0.5) -> LinearModel:
    """Reads every post as positive, through its embedding columns."""
    weights = np.zeros((3, N_FEATURES + EMBEDDING_SIZE), np.float32)
    weights[2, N_FEATURES:] = 1.0
    meta = {"band": band, "blend": blend}
    return LinearModel(CLASSES, weights, np.zeros(3, np.float32), EMBEDDING_DENSE, meta)


def analyzer_with(first: LinearModel, encoder: CountingEncoder) -> SentimentAnalyzer:
    analyzer = SentimentAnalyzer(model_file=Path("/nonexistent"), encoder=encoder)
    analyzer.models = {"it": first, "it" + EMBEDDED: second_model()}
    return analyzer


def analyze(analyzer: SentimentAnalyzer, texts: list[str]) -> list[str]:
    return [s.label for s in analyzer.analyze_many([hash_text(t) for t in texts], texts, "it")]


def test_an_unsure_post_gets_the_second_opinion() -> None:
    encoder = CountingEncoder()
    # the first model is flat (1/3 each, under the band): the second stage decides
    assert analyze(analyzer_with(first_model([0.1, 0.0, 0.0]), encoder), ["boh, vediamo"]) == ["positive"]
    assert encoder.seen == ["boh, vediamo"]


def test_a_sure_post_is_never_embedded() -> None:
    encoder = CountingEncoder()
    assert analyze(analyzer_with(first_model([6.0, 0.0, 0.0]), encoder), ["pessimo", "orribile"]) == [
        "negative",
        "negative",
    ]
    assert encoder.seen == []


def test_a_language_without_a_second_stage_is_never_embedded() -> None:
    encoder = CountingEncoder()
    analyzer = SentimentAnalyzer(model_file=Path("/nonexistent"), encoder=encoder)
    analyzer.models = {"de": first_model([0.1, 0.0, 0.0])}
    [found] = analyzer.analyze_many([hash_text("na ja")], ["na ja"], "de")
    assert found.label == "negative" and encoder.seen == []


def test_the_encoder_ships_in_the_wheel_and_works_offline() -> None:
    analyzer = SentimentAnalyzer(model_file=Path("/nonexistent"))
    emb = analyzer.embed(
        ["Servizio pessimo, nessuno risponde", "Servicio horrible, nadie contesta", "Che bella giornata"]
    )
    assert emb.shape == (3, EMBEDDING_SIZE)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-3)
    # the same complaint in two languages lies closer than an unrelated post
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


def test_the_shipped_file_has_a_second_stage_for_each_romance_language() -> None:
    models, header = load_models(SENTIMENT_MODEL_FILE, kind="sentiment")
    for lang in EMBED_LANGS:
        second = models[lang + EMBEDDED]
        assert second.classes == models[lang].classes and second.dense == EMBEDDING_DENSE
        assert second.meta["band"] in BANDS and 0.0 < second.meta["blend"] <= 1.0 and second.meta["c"] in EMBED_CS
        assert "USE multilingual v3" in header["sources"][lang]
    assert {name for name in models if name.endswith(EMBEDDED)} == {lang + EMBEDDED for lang in EMBED_LANGS}


@pytest.mark.parametrize(
    ("lang", "text", "label"),
    [
        ("it", "Il servizio clienti è una vergogna, tre settimane e nessuna risposta", "negative"),
        ("es", "Muchísimas gracias por la ayuda, sois geniales", "positive"),
        ("pt", "Péssimo atendimento, nunca mais compro aqui", "negative"),
    ],
)
def test_the_shipped_models_read_clear_posts(lang: str, text: str, label: str) -> None:
    analyzer = SentimentAnalyzer()
    assert analyzer.analyze(hash_text(text), text, lang).label == label


def oof(first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> OutOfFold:
    return OutOfFold(labels, (first,), {c: (second,) for c in EMBED_CS})


def one_hot(index: np.ndarray) -> np.ndarray:
    return np.eye(3)[index]


def test_choose_blends_in_a_second_stage_that_knows_better() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 300)
    labels = np.asarray(CLASSES)[truth]
    # the first model is right with confidence on half the rows, flat on the rest
    first = np.full((300, 3), 1 / 3)
    first[:150] = 0.1 + 0.7 * one_hot(truth[:150])
    cs, blend, band, report = choose({"it": oof(first, one_hot(truth), labels)})
    assert blend > 0 and band > 1 / 3
    assert report["cv_macro_f1_blend"] == 1.0 > report["cv_macro_f1_first"]
    assert set(cs) == {"it"}


def test_choose_takes_the_narrowest_band_when_the_second_stage_adds_nothing() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 300)
    labels = np.asarray(CLASSES)[truth]
    first = 0.1 + 0.7 * one_hot(truth)
    noise = one_hot(rng.integers(0, 3, 300))
    _, blend, band, _ = choose({"it": oof(first, noise, labels)})
    assert band == min(BANDS)  # every post in the band pays an embedding: no gain, no band


def test_blended_is_what_the_analyzer_does() -> None:
    first = np.asarray([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    second = np.asarray([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    out = blended(first, second, 0.5, 0.7)
    assert np.allclose(out, [[0.1, 0.25, 0.65], [0.9, 0.05, 0.05]])
