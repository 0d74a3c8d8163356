"""Joint sentiment fits by feature augmentation (tools/train_joint.py) on a small generated data directory."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from rules.model import N_FEATURES, hash_text, load_models
from rules.sentiment import DENSE, SentimentAnalyzer
from tests.rules.test_sentiment_train import analyzer, data_dir  # noqa: F401 (module fixtures)
from tools.sentiment_fit import SENTIMENT_RECIPES, Recipe, featurize, sentiment_rows
from tools.train import sentiment_cv, train_sentiment
from tools.train_joint import WIDTH, augment, fit_joint, joint_cv

POOL = Recipe(c=2.0, nb_alpha=0.05, joint="it,es,fr")


def test_augmented_rows_hold_a_shared_copy_an_own_copy_and_an_indicator(
    data_dir: Path,  # noqa: F811
    analyzer: SentimentAnalyzer,  # noqa: F811
) -> None:
    batch = featurize(analyzer, sentiment_rows(data_dir, "es", "train")[:3], "es")
    recipe = replace(POOL, shared_scale=2.0)
    x = augment(batch.x, ["es"] * 3, recipe)
    assert x.shape == (3, WIDTH * 4 + 3)
    for i in range(3):
        row, ordinary = x[i].toarray()[0], batch.x[i].toarray()[0]
        assert np.allclose(row[:WIDTH], 2.0 * ordinary)  # shared copy, scaled
        assert not row[WIDTH : 2 * WIDTH].any() and not row[3 * WIDTH : 4 * WIDTH].any()  # it, fr: empty
        assert np.allclose(row[2 * WIDTH : 3 * WIDTH], ordinary)  # es's own copy
        assert list(row[4 * WIDTH :]) == [0.0, 1.0, 0.0]  # es's indicator
    # lexicon columns only in the own copy when they are not shared
    has_lexicon = [i for i in range(3) if batch.x[i, N_FEATURES:].count_nonzero()] or [0]
    unshared = augment(batch.x, ["es"] * 3, replace(recipe, share_dense=False)).toarray()
    assert not unshared[:, N_FEATURES:WIDTH].any()
    assert np.allclose(
        unshared[has_lexicon, 2 * WIDTH + N_FEATURES : 3 * WIDTH], batch.x[has_lexicon, N_FEATURES:].toarray()
    )


@pytest.mark.parametrize(
    "recipe",
    [
        POOL,
        replace(POOL, shared_scale=0.5, nb_per_copy=False),
        replace(POOL, shared_scale=2.0, share_dense=False, nb_alpha=0.0),
    ],
)
def test_folded_model_decides_exactly_as_the_joint_model(
    data_dir: Path,  # noqa: F811
    analyzer: SentimentAnalyzer,  # noqa: F811
    recipe: Recipe,
) -> None:
    rows = {lang: sentiment_rows(data_dir, lang, "train") for lang in recipe.pool}
    # fitted without each language's last 10 rows, which are then scored both ways
    batches = {lang: featurize(analyzer, rows[lang][:-10], lang) for lang in recipe.pool}
    fit = fit_joint(batches, recipe)
    assert fit.classes == ("negative", "neutral", "positive")
    for lang in recipe.pool:
        held = rows[lang][-10:]
        model = fit.fold(lang)
        assert model.weights.shape == (3, WIDTH) and model.dense == DENSE
        augmented = augment(featurize(analyzer, held, lang).x, [lang] * len(held), recipe)
        joint = np.asarray(augmented[:, fit.used] @ (fit.coef * fit.scale).T) + fit.intercept  # the joint model
        folded = np.stack(
            [model.logits(hash_text(r["text"]), analyzer.dense(hash_text(r["text"]), r["text"], lang)[0]) for r in held]
        )
        assert np.allclose(joint, folded, atol=1e-4)
        assert [model.classes[i] for i in folded.argmax(axis=1)] == [r["sentiment"] for r in held]
    # the languages' models differ (own copies), and differ from a shared-only model
    assert not np.allclose(fit.fold("it").weights, fit.fold("es").weights)


def test_joint_cv_scores_every_pooled_language_per_seed(data_dir: Path) -> None:  # noqa: F811
    logs: list[str] = []
    out = joint_cv(data_dir, POOL, seeds=(0, 1), log=logs.append)
    assert set(out) == {"it", "es", "fr"} and all(len(v) == 2 for v in out.values())
    assert all(f > 0.8 for v in out.values() for f in v)  # the generated classes are separable
    assert len(logs) == 5 and logs[0].startswith("joint, seed 0: it ") and logs[2].startswith("joint it: ")
    # sentiment_cv takes a joint recipe's figure from the joint check
    recipes = {**SENTIMENT_RECIPES, "es": POOL}
    found = sentiment_cv(data_dir, ["es"], seeds=(0, 1), log=logs.append, recipes=recipes)["es"]
    assert found["chosen_by_seed"] == out["es"]


def test_train_sentiment_folds_a_joint_recipe_into_the_languages_model(
    data_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "sentiment.npz"
    recipes = {**SENTIMENT_RECIPES, "it": POOL, "es": POOL}
    metrics = train_sentiment(data_dir, out=out, recipes=recipes, log=lambda _: None)
    models, header = load_models(out, kind="sentiment")
    assert models["it"].meta["recipe"] == asdict(POOL) and models["it"].weights.shape == (3, WIDTH)
    assert "UMSAB train splits of es, fr by feature augmentation (shared copy x1.0)" in header["sources"]["it"]
    assert metrics["it"]["macro_f1"] > 0.5 and metrics["es"]["macro_f1"] > 0.5  # chance: 0.33, as fitted alone
    with pytest.raises(ValueError, match="en: a joint recipe has no quick model"):
        train_sentiment(data_dir, out=out, recipes={**recipes, "en": replace(POOL, joint="en,it")})


def test_a_joint_recipe_refuses_extra_data_it_would_ignore() -> None:
    with pytest.raises(ValueError, match="pools the other languages itself"):
        Recipe(joint="it,es", cross_lingual=0.25)
