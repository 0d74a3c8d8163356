"""Several languages' sentiment models fitted jointly with feature augmentation
(Daume III 2007, "Frustratingly easy domain adaptation"), folded into one ordinary
LinearModel per language: `python -m tools.train_joint cv` runs the check.

Every pooled row's features appear twice while fitting: a SHARED copy (times
`shared_scale`) and a copy only its own language's rows fill. One logistic regression
is fitted over the wider matrix. As both copies hold the same values, language L's
decision is `shared_scale * w_shared + w_L` on the ordinary features (bias: the
intercept plus L's indicator column), so the shipped file, inference and its cost are
those of a per-language model.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rules.model import N_FEATURES, LinearModel
from rules.sentiment import DENSE, SentimentAnalyzer
from tools.sentiment_fit import (
    CV_FOLDS,
    CV_SEEDS,
    Batch,
    Recipe,
    featurize,
    label_metrics,
    nb_scale,
    predicted_label,
    sentiment_rows,
    shared_data_dir,
)

WIDTH = N_FEATURES + len(DENSE)  # one copy of the ordinary features


@dataclass(frozen=True)
class JointFit:
    """The fitted joint model over the augmented columns in use, and how to fold it
    (`recipe.pool` names the pooled languages, in block order)."""

    recipe: Recipe
    classes: tuple[str, ...]
    used: np.ndarray  # augmented column ids with any value in the pooled rows
    coef: np.ndarray  # classes (1 if binary) x len(used): weights on the *scaled* columns
    intercept: np.ndarray
    scale: np.ndarray  # NB scale of each used column (1 without NB)

    def fold(self, lang: str, *, meta: Mapping[str, Any] | None = None) -> LinearModel:
        """Language `lang`'s model on the ordinary features: shared_scale * w_shared + w_lang."""
        k = self.recipe.pool.index(lang)
        full = np.zeros((self.coef.shape[0], _total_width(self.recipe)), dtype=np.float64)
        full[:, self.used] = self.coef * self.scale
        shared = full[:, :WIDTH] * self.recipe.shared_scale
        own = full[:, WIDTH * (1 + k) : WIDTH * (2 + k)]
        indicator = full[:, WIDTH * (1 + len(self.recipe.pool)) + k]
        return LinearModel(
            classes=self.classes,
            weights=(shared + own).astype(np.float32),
            bias=(self.intercept + indicator).astype(np.float32),
            dense=DENSE,
            meta=dict(meta or {}),
        )


def _total_width(recipe: Recipe) -> int:
    """Shared copy, one copy per pooled language, one indicator column per language."""
    return WIDTH * (1 + len(recipe.pool)) + len(recipe.pool)


def augment(x: Any, langs: Sequence[str], recipe: Recipe) -> Any:
    """The augmented CSR matrix of ordinary rows `x` whose languages are `langs`."""
    from scipy import sparse

    coo = x.tocoo()
    k = np.asarray([recipe.pool.index(lang) for lang in langs], dtype=np.int64)
    shared_ok = np.ones(len(coo.col), dtype=bool) if recipe.share_dense else coo.col < N_FEATURES
    rows = np.concatenate([coo.row[shared_ok], coo.row, np.arange(len(k))])
    cols = np.concatenate([coo.col[shared_ok], coo.col + WIDTH * (1 + k[coo.row]), WIDTH * (1 + len(recipe.pool)) + k])
    data = np.concatenate([coo.data[shared_ok] * recipe.shared_scale, coo.data, np.ones(len(k))])
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(k), _total_width(recipe)))


def _is_dense(columns: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Lexicon/emoji/VADER columns and the indicators: NB scaling leaves them at 1."""
    return (columns % WIDTH >= N_FEATURES) | (columns >= WIDTH * (1 + len(recipe.pool)))


def _nb_scales(x: Any, labels: np.ndarray, langs: np.ndarray, used: np.ndarray, recipe: Recipe) -> np.ndarray:
    """NB scale per used augmented column (`x` holds those columns, in `used` order): the
    shared copy's from the pooled rows; a language's copy from its own rows
    (`nb_per_copy`) or the shared copy's scale at that column."""
    scale = np.ones(len(used))
    dense = _is_dense(used, recipe)
    block = np.minimum(used // WIDTH, len(recipe.pool) + 1)  # 0 shared, 1+k language k, last indicators
    shared = block == 0
    shared_scale = nb_scale(x[:, np.flatnonzero(shared)], labels, dense[shared], alpha=recipe.nb_alpha)
    scale[shared] = shared_scale
    by_column = dict(zip((used[shared] % WIDTH).tolist(), shared_scale.tolist(), strict=True))
    for k, lang in enumerate(recipe.pool):
        inside = block == 1 + k
        if recipe.nb_per_copy:
            mine = langs == lang
            scale[inside] = nb_scale(
                x[mine][:, np.flatnonzero(inside)], labels[mine], dense[inside], alpha=recipe.nb_alpha
            )
        else:
            scale[inside] = [by_column.get(c, 1.0) for c in (used[inside] % WIDTH).tolist()]
    return scale


def fit_joint(batches: Mapping[str, Batch], recipe: Recipe) -> JointFit:
    """One logistic regression (balanced classes over the pool, newton-cg over the
    columns in use, as fit_sentiment) on the pooled languages' augmented rows."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    langs = np.asarray([lang for lang in recipe.pool for _ in range(len(batches[lang].labels))])
    x = augment(sparse.vstack([batches[lang].x for lang in recipe.pool]).tocsr(), langs.tolist(), recipe)
    labels = np.concatenate([batches[lang].labels for lang in recipe.pool])
    weights = np.concatenate([batches[lang].weights for lang in recipe.pool])
    used = np.flatnonzero(x.getnnz(axis=0))
    x = x[:, used]
    scale = np.ones(len(used))
    if recipe.nb_alpha:
        scale = _nb_scales(x, labels, langs, used, recipe)
        x = x @ sparse.diags(scale)
    clf = LogisticRegression(C=recipe.c, class_weight="balanced", solver="newton-cg", max_iter=1000)
    clf.fit(x, labels, sample_weight=weights)
    return JointFit(
        recipe=recipe,
        classes=tuple(str(c) for c in clf.classes_),
        used=used,
        coef=np.asarray(clf.coef_),
        intercept=np.asarray(clf.intercept_),
        scale=scale,
    )


def joint_cv(
    data: Path,
    recipe: Recipe,
    *,
    seeds: Sequence[int] = CV_SEEDS,
    folds: int = CV_FOLDS,
    log: Any = print,
) -> dict[str, list[float]]:
    """Macro-F1 per pooled language and seed, from the same stratified folds as
    tools.sentiment_fit.cross_validate (so the figures pair with its): fold i of EVERY pooled
    language is held out at once, the joint model is fitted on the other folds of all
    of them, and each language's held-out rows are scored through
    `SentimentAnalyzer.analyze` with its folded model. No held-out row is ever in the
    pool; the other languages lose a fifth of their rows too (a little pessimistic)."""
    from sklearn.model_selection import StratifiedKFold

    analyzer = SentimentAnalyzer(model_file=Path("/nonexistent"))
    rows = {lang: sentiment_rows(data, lang, "train") for lang in recipe.pool}
    batches = {lang: featurize(analyzer, rows[lang], lang) for lang in recipe.pool}
    scorer = SentimentAnalyzer(model_file=Path("/nonexistent"), lexicons=analyzer.lexicons)
    out: dict[str, list[float]] = {lang: [] for lang in recipe.pool}
    for seed in seeds:
        splits = {
            lang: list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(b.labels, b.labels))
            for lang, b in batches.items()
        }
        gold: dict[str, list[str]] = {lang: [] for lang in recipe.pool}
        predicted: dict[str, list[str]] = {lang: [] for lang in recipe.pool}
        for i in range(folds):
            fit = fit_joint({lang: batches[lang].take(splits[lang][i][0]) for lang in recipe.pool}, recipe)
            for lang in recipe.pool:
                scorer.models = {lang: fit.fold(lang)}
                for j in splits[lang][i][1]:
                    gold[lang].append(rows[lang][j]["sentiment"])
                    predicted[lang].append(predicted_label(scorer, rows[lang][j]["text"], lang))
        for lang in recipe.pool:
            out[lang].append(label_metrics(gold[lang], predicted[lang])["macro_f1"])
        log(f"joint, seed {seed}: " + "  ".join(f"{lang} {out[lang][-1]:.4f}" for lang in recipe.pool))
    for lang, figures in out.items():
        log(f"joint {lang}: {np.mean(figures):.4f} +- {np.std(figures):.4f} {figures}  {recipe}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tools.train_joint cv joint=it,es,fr,pt [c=2 shared_scale=1 nb_alpha=0.05
    nb_per_copy=1 share_dense=1]`: the CV figures of one joint recipe, per pooled language.
    Unnamed options keep Recipe's defaults (c 4, no NB scaling)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "cv":
        print(main.__doc__, file=sys.stderr)
        return 2
    options: dict[str, Any] = {}
    for arg in args[1:]:
        key, _, value = arg.partition("=")
        try:
            if key == "joint":
                options[key] = value
            elif key in ("nb_per_copy", "share_dense"):
                options[key] = value == "1"
            elif key in ("c", "shared_scale", "nb_alpha"):
                options[key] = float(value)
            else:
                raise ValueError(f"unknown option {key!r}")
        except ValueError as exc:
            print(f"{arg}: {exc}\n\n{main.__doc__}", file=sys.stderr)
            return 2
    if not options.get("joint"):
        print(f"joint=<languages> is required\n\n{main.__doc__}", file=sys.stderr)
        return 2
    joint_cv(shared_data_dir(), Recipe(**options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
