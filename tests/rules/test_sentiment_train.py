"""Sentiment training (tools/train.py) on a small generated data directory, and the shipped file."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rules.model import N_FEATURES, hash_text, load_models
from rules.sentiment import DENSE, EMBEDDED, QUICK, SENTIMENT_MODEL_FILE, SentimentAnalyzer
from tools.sentiment_embed import EMBED_LANGS, SECOND_STAGE_SOURCE
from tools.sentiment_fit import (
    SENTIMENT_LANGS,
    SENTIMENT_RECIPES,
    Recipe,
    cross_validate,
    extra_rows,
    featurize,
    fit_sentiment,
    held_back,
    nb_scale,
    sentiment_rows,
    vader_label,
)
from tools.train import (
    CASCADE_GRID,
    CASCADE_LANGS,
    CASCADE_TOLERANCE,
    cascade_threshold,
    sentiment_cv,
    train_sentiment,
    without_vader,
)

# a few words per language and class; sentences are built from them with filler
WORDS = {
    "en": (
        ["great", "love it", "thanks a lot"],
        ["awful", "hate this", "broken again"],
        ["today", "the bus", "a report"],
    ),
    "it": (
        ["ottimo", "grazie mille", "bellissimo"],
        ["pessimo", "che schifo", "rotto"],
        ["oggi", "il treno", "una nota"],
    ),
    "es": (["genial", "me encanta", "gracias"], ["horrible", "que asco", "roto"], ["hoy", "el tren", "una nota"]),
    "fr": (
        ["excellent", "merci beaucoup", "parfait"],
        ["horrible", "quelle honte", "casse"],
        ["demain", "le train", "une note"],
    ),
    "de": (
        ["toll", "vielen dank", "perfekt"],
        ["schrecklich", "so ein mist", "kaputt"],
        ["heute", "der zug", "eine notiz"],
    ),
    "pt": (["otimo", "obrigado", "perfeito"], ["pessimo", "que vergonha", "quebrado"], ["hoje", "o trem", "uma nota"]),
    "ro": (["excelent", "recomand", "minunat"], ["groaznic", "dezamagit", "slab"], []),
}
FILLER = ["film", "story", "phone", "service", "week", "idea", "city", "team"]


def sentences(lang: str, n: int, *, offset: int = 0) -> list[dict[str, Any]]:
    pos, neg, neu = WORDS[lang]
    labelled = [("positive", pos), ("negative", neg)] + ([("neutral", neu)] if neu else [])
    rows = []
    for i, ((label, words), filler) in enumerate(zip(itertools.cycle(labelled), itertools.cycle(FILLER))):
        if len(rows) == n:
            break
        k = i + offset
        text = f"{filler} {k} {words[k % len(words)]} {FILLER[(k * 3) % len(FILLER)]}"
        rows.append({"id": f"{lang}-{k}", "text": text, "lang": lang, "sentiment": label})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    for lang in SENTIMENT_LANGS:
        write_jsonl(data / f"sentiment_{lang}_train.jsonl", sentences(lang, 60))
        write_jsonl(data / f"sentiment_{lang}_val.jsonl", sentences(lang, 15, offset=1000))
    write_jsonl(data / "sentiment_ro_dev.jsonl", sentences("ro", 80))
    en_train = sentences("en", 60)
    # TweetEval repeats UMSAB en rows: those two must not be counted twice
    write_jsonl(data / "tweeteval_val.jsonl", en_train[:2] + sentences("en", 9, offset=500))
    vader = [("so good, love it", 3.1), ("meh, a report", 0.2), ("awful, broken again", -2.5), ("fine I guess", 0.7)]
    write_jsonl(
        data / "vader_tweets.jsonl",
        [{"id": f"vader-{i}", "text": t, "lang": "en", "mean_rating": r} for i, (t, r) in enumerate(vader)],
    )
    return data


@pytest.fixture(scope="module")
def analyzer() -> SentimentAnalyzer:
    return SentimentAnalyzer(model_file=Path("/nonexistent"))


def test_vader_rating_maps_to_classes_and_skips_the_ambiguous_band() -> None:
    assert [vader_label(r) for r in (3.0, 1.0, 0.4, -0.4, 0.7, -0.9, -1.0)] == [
        "positive",
        "positive",
        "neutral",
        "neutral",
        None,
        None,
        "negative",
    ]


def test_extra_rows_weighted_and_never_a_row_of_the_language_itself(data_dir: Path) -> None:
    recipe = Recipe(cross_lingual=0.25, tweeteval=1.0, vader_tweets=0.5)
    extra = extra_rows(data_dir, "en", recipe)
    own = {r["text"] for split in ("train", "val") for r in sentiment_rows(data_dir, "en", split)}
    assert not own & {r["text"] for r in extra}
    by_weight: dict[float, int] = {}
    for r in extra:
        by_weight[r["weight"]] = by_weight.get(r["weight"], 0) + 1
    # 5 other languages x 60, 9 new TweetEval rows (2 repeat UMSAB en), 3 of 4 VADER tweets
    assert by_weight == {0.25: 300, 1.0: 9, 0.5: 3}
    assert {r["sentiment"] for r in extra if r["weight"] == 0.5} == {"positive", "neutral", "negative"}
    assert extra_rows(data_dir, "it", Recipe()) == []


def test_romanian_split_is_stable_by_id(data_dir: Path) -> None:
    train, val = sentiment_rows(data_dir, "ro", "train"), sentiment_rows(data_dir, "ro", "val")
    assert len(train) + len(val) == 80 and val
    assert all(held_back(r["id"]) for r in val) and not any(held_back(r["id"]) for r in train)


def test_nb_scaling_is_folded_into_plain_weights(data_dir: Path, analyzer: SentimentAnalyzer) -> None:
    rows = sentiment_rows(data_dir, "ro", "train")
    batch = featurize(analyzer, rows, "ro")
    plain = fit_sentiment(batch, Recipe(c=16.0))
    nb = fit_sentiment(batch, Recipe(c=16.0, nb_alpha=0.1))
    assert nb.classes == plain.classes == ("negative", "positive") and nb.weights.shape == (1, plain.weights.shape[1])
    assert nb.dense == DENSE
    # the same columns are in use, with different weights: the scaling changed the fit
    assert np.array_equal(np.flatnonzero(nb.weights[0]), np.flatnonzero(plain.weights[0]))
    assert not np.allclose(nb.weights, plain.weights)
    # the LinearModel alone (no scaling at inference) reproduces the design-matrix logits
    dense = [analyzer.dense(hash_text(r["text"]), r["text"], "ro")[0] for r in rows[:5]]
    direct = batch.x[:5] @ nb.weights[0] + nb.bias[0]
    via_model = [nb.logits(hash_text(r["text"]), d)[0] for r, d in zip(rows[:5], dense, strict=True)]
    assert np.allclose(direct, via_model, atol=1e-4)
    three = fit_sentiment(featurize(analyzer, sentiment_rows(data_dir, "it", "train"), "it"), Recipe(nb_alpha=0.05))
    assert three.classes == ("negative", "neutral", "positive") and three.weights.shape[0] == 3


def test_nb_scale_leaves_dense_columns_alone_and_favours_class_words(
    data_dir: Path, analyzer: SentimentAnalyzer
) -> None:
    batch = featurize(analyzer, sentiment_rows(data_dir, "it", "train"), "it")
    used = np.flatnonzero(batch.x.getnnz(axis=0))
    dense = used >= N_FEATURES
    scale = nb_scale(batch.x[:, used], batch.labels, dense, alpha=0.05)
    assert np.all(scale[dense] == 1.0) and np.isclose(scale[~dense].mean(), 1.0)
    # a word only positive rows have outweighs filler every class shares
    column = {int(c): i for i, c in enumerate(used)}
    word = hash_text("ottimo").idx[0]
    filler = hash_text("film").idx[0]
    assert scale[column[int(word)]] > 2 * scale[column[int(filler)]]


def test_cross_validation_scores_every_train_row_once(data_dir: Path, analyzer: SentimentAnalyzer) -> None:
    rows = sentiment_rows(data_dir, "it", "train")
    extra = extra_rows(data_dir, "it", Recipe(cross_lingual=0.25))
    result = cross_validate(analyzer, rows, extra, "it", Recipe(c=2.0, cross_lingual=0.25))
    assert result["n"] == len(rows)
    assert result["macro_f1"] > 0.8  # the generated classes are separable by their words


def test_sentiment_cv_averages_over_the_seeds_of_the_fold_split(data_dir: Path) -> None:
    logs: list[str] = []
    out = sentiment_cv(data_dir, ["es"], seeds=(0, 1), log=logs.append)
    found = out["es"]
    assert len(found["chosen_by_seed"]) == 2
    assert found["chosen"] == round(float(np.mean(found["chosen_by_seed"])), 4)
    assert found["chosen_sd"] == round(float(np.std(found["chosen_by_seed"])), 4)
    assert found["chosen"] > 0.8 and found["plain"] > 0.8  # the generated classes are separable
    assert logs == [logs[0]] and logs[0].startswith("sentiment es: 5-fold CV macro_f1") and "seeds [0, 1]" in logs[0]


@pytest.mark.slow
def test_train_sentiment_writes_every_language_with_its_recipe(
    data_dir: Path, analyzer: SentimentAnalyzer, tmp_path: Path
) -> None:
    out = tmp_path / "sentiment.npz"
    logs: list[str] = []
    recipes = {
        **SENTIMENT_RECIPES,
        "it": Recipe(c=2.0, cross_lingual=0.25, nb_alpha=0.05),
        "en": Recipe(c=2.0, tweeteval=1.0, vader_tweets=0.5),
    }
    metrics = train_sentiment(data_dir, out=out, recipes=recipes, log=logs.append)
    models, header = load_models(out, kind="sentiment")
    assert set(metrics) == {*SENTIMENT_LANGS, "ro"}
    assert set(models) == {*SENTIMENT_LANGS, "ro", "en" + QUICK, *(lang + EMBEDDED for lang in EMBED_LANGS)}
    assert models["en" + QUICK].meta["cascade_threshold"] in (*CASCADE_GRID, 1.01)
    assert models["ro"].classes == ("negative", "positive")
    assert models["it"].classes == ("negative", "neutral", "positive")
    assert models["it"].meta["recipe"]["cross_lingual"] == 0.25
    assert models["ro"].meta["recipe"] == asdict(SENTIMENT_RECIPES["ro"])
    assert header["sources"]["it"].endswith("the other UMSAB train splits at weight 0.25" + SECOND_STAGE_SOURCE)
    assert "VADER rated tweets (cjhutto/vaderSentiment) at weight 0.5" in header["sources"]["en"]
    assert header["sources"]["de"] == "UMSAB sentiment_de_train (cardiffnlp/xlm-t)"
    assert all(m["macro_f1"] > 0.5 for m in metrics.values()), metrics  # chance: 0.33 (ro 0.5)
    assert any(line.startswith("sentiment ro: ") for line in logs) and logs[-1].startswith("wrote ")


def test_shipped_sentiment_file_follows_the_recipes() -> None:
    models, header = load_models(SENTIMENT_MODEL_FILE, kind="sentiment")
    # the second stage (test_sentiment_second_stage.py) has no recipe of its own
    models = {name: model for name, model in models.items() if not name.endswith(EMBEDDED)}
    assert set(models) == set(SENTIMENT_RECIPES) | {lang + QUICK for lang in CASCADE_LANGS}
    for name, model in models.items():
        assert model.dense == DENSE
        assert model.meta["recipe"] == asdict(SENTIMENT_RECIPES[name.removesuffix(QUICK)])
    quick = models["en" + QUICK]
    assert 0.5 <= quick.meta["cascade_threshold"] <= 0.95
    assert quick.meta["cv_macro_f1_pair"] >= quick.meta["cv_macro_f1_full"] - CASCADE_TOLERANCE
    # the quick model never sees VADER's columns
    vader_columns = [N_FEATURES + DENSE.index(name) for name in ("vader", "vader_neg", "vader_pos")]
    assert not quick.weights[:, vader_columns].any()
    assert header["metrics_held_back"]["ro"]["n"] > 1000


def test_cascade_threshold_keeps_the_full_models_figure(data_dir: Path, analyzer: SentimentAnalyzer) -> None:
    batch = featurize(analyzer, sentiment_rows(data_dir, "en", "train"), "en")
    threshold, cv = cascade_threshold(batch, SENTIMENT_RECIPES["en"])
    assert threshold in CASCADE_GRID
    assert cv["cv_macro_f1_pair"] >= cv["cv_macro_f1_full"] - CASCADE_TOLERANCE
    assert 0.0 < cv["cv_share_without_vader"] <= 1.0
    quick = without_vader(batch)
    vader_columns = [N_FEATURES + DENSE.index(name) for name in ("vader", "vader_neg", "vader_pos")]
    assert not quick.x[:, vader_columns].count_nonzero() and batch.x[:, vader_columns].count_nonzero()


def test_english_runs_vader_only_for_posts_the_quick_model_is_unsure_of() -> None:
    analyzer = SentimentAnalyzer()
    quick = analyzer.quick_model("en")
    assert quick is not None
    texts = [
        "I love this, thank you so much, best service ever!",
        "worst company ever, broken again and nobody answers, awful",
        "the parcel arrived on tuesday",
        "hmm not sure what to think about the new app",
    ]
    rows = [hash_text(t) for t in texts]
    vader_texts: list[str] = []
    score = analyzer.vader.polarity_scores
    analyzer.vader.polarity_scores = lambda text: vader_texts.append(text) or score(text)  # type: ignore[method-assign]
    found = analyzer.analyze_many(rows, texts, "en")
    assert len(vader_texts) < len(texts)
    seen = list(vader_texts)
    # what the quick model sees: the dense features with VADER's left at zero
    features = np.asarray([analyzer.dense(x, t, "en")[0] for x, t in zip(rows, texts, strict=True)], np.float32)
    features[:, 3:] = 0.0
    probs = quick.probabilities(np.stack([quick.logits(x, f) for x, f in zip(rows, features, strict=True)]))
    sure = probs.max(axis=1) >= quick.meta["cascade_threshold"]
    assert 0 < sure.sum() < len(texts)  # this set has both kinds
    assert seen == [t for t, s in zip(texts, sure, strict=True) if not s]
    for mood, p, s in zip(found, probs, sure, strict=True):
        if s:  # answered by the quick model: its own top class
            assert mood.label == quick.classes[int(p.argmax())]
    # the full model alone (no quick one) runs VADER for every post
    full_only = SentimentAnalyzer()
    del full_only.models["en" + QUICK]
    calls: list[str] = []
    full_score = full_only.vader.polarity_scores
    full_only.vader.polarity_scores = lambda text: calls.append(text) or full_score(text)  # type: ignore[method-assign]
    labels = [m.label for m in full_only.analyze_many(rows, texts, "en")]
    assert calls == texts and labels[0] == "positive" and labels[1] == "negative"
