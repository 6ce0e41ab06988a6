"""Training and honest cross-validation of the text models (needs scikit-learn: dev only).

Nothing here runs at scan time. ``scripts/train_text_model.py`` trains the
shipped models on a labelled listing file; ``likenessguard eval --cv K``
retrains from scratch inside every fold so no reported number comes from a
model that saw the record it is scored on. Inside each training part, the
regularisation strength and the decision threshold are chosen by an inner
cross-validation on that part only.

Each (label, condition) model is a stack (``model.StackedModel``): base logistic
regressions over all features and over each field group, scored out-of-fold by
an inner 3-fold CV of the training part, and a logistic stacker fitted on those
out-of-fold logits; the stacker's threshold comes from a second inner CV over
the same logits. Nothing of a held-out fold is seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from likenessguard.errors import UsageError
from likenessguard.evidence.base import EvidenceContext
from likenessguard.evidence.context import extract_all
from likenessguard.verdicts.features import DIM, featurize_groups
from likenessguard.verdicts.model import BASES, CONDITIONS, LinearModel, StackedModel, TextModels

GOLD_KEYS = {"real_person": "poi", "sexual": "nsfw"}
# Base models: one C for all (C = 8 and 32 measured the same through the stack, and
# 8 trains ~3x faster with the dual solver); the stacker's few inputs need little.
BASE_C = 8.0
STACK_C = 1.0
INNER_FOLDS = 3


def disguise(record: Mapping[str, Any]) -> dict[str, Any]:
    """A listing as a re-upload under a generic name would look.

    Removes the name, tags and every description (model and versions) and the
    version names; keeps type, base model, trained words, file names and preview
    prompts.
    """
    versions = []
    for v in record.get("versions", record.get("modelVersions")) or []:
        if isinstance(v, dict):
            versions.append(
                {k: v[k] for k in ("baseModel", "trainedWords", "files", "images") if k in v}
            )
    return {"id": record.get("id"), "type": record.get("type"), "versions": versions}


def listing_features(record: Mapping[str, Any]) -> Mapping[str, tuple[int, ...]]:
    """Feature ids of a listing, per base group (``all`` and each field group)."""
    return featurize_groups(extract_all(EvidenceContext(listing=record)))


def _require_sklearn() -> Any:
    try:
        import sklearn.linear_model as lm
    except ImportError as exc:
        raise UsageError(
            "training and --cv need scikit-learn (a development dependency): "
            "install it with 'uv sync --group dev' or 'pip install scikit-learn'"
        ) from exc
    return lm


def to_matrix(rows: Sequence[Sequence[int]]) -> Any:
    """CSR matrix of L2-normalised binary rows (what ``LinearModel.logit`` computes)."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for r in rows:
        indices.extend(r)
        v = 1.0 / math.sqrt(len(r)) if r else 0.0
        data.extend([v] * len(r))
        indptr.append(len(indices))
    return csr_matrix(
        (np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr, np.int64)),
        shape=(len(rows), DIM),
    )


def folds(n: int, k: int, seed: int = 13) -> list[npt.NDArray[np.int64]]:
    """``k`` disjoint index sets covering ``range(n)``, shuffled with a fixed seed."""
    if k < 2 or k > n:
        raise UsageError(f"--cv {k}: need 2 <= K <= number of records ({n})")
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def best_threshold(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(threshold, F1) maximising F1 over the scores ``p``."""
    order = np.argsort(-p)
    ys = y[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    pos = max(1, int(ys.sum()))
    f1 = 2 * tp / (tp + fp + pos)
    i = int(np.argmax(f1))
    nxt = p[order[i + 1]] if i + 1 < len(order) else p[order[i]] - 1e-6
    return float((p[order[i]] + nxt) / 2), float(f1[i])


def _fit_base(lm: Any, x: Any, y: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float32], float]:
    # The dual solver: ~3x faster than the primal here (far more features than rows);
    # a fixed random_state because it visits rows in a random order.
    clf = lm.LogisticRegression(
        C=BASE_C, solver="liblinear", dual=True, max_iter=2000, random_state=0
    )
    clf.fit(x, y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def _fit_stacker(
    lm: Any, z: npt.NDArray[np.float64], y: npt.NDArray[np.int64]
) -> tuple[list[int], Any]:
    """(columns kept, stacker): field-group bases that take a negative weight are dropped
    and the stacker refitted, so every field can only add evidence in the direction its
    own model learned; with negative weights, evidence with few fields (a bare LoRA's
    metadata) scored far from anything seen in training."""
    keep = list(range(z.shape[1]))
    while True:
        clf = lm.LogisticRegression(C=STACK_C, max_iter=2000).fit(z[:, keep], y)
        negative = {k for k, a in zip(keep, clf.coef_[0], strict=True) if a < 0 and k != 0}
        if not negative:
            return keep, clf
        keep = [k for k in keep if k not in negative]


def fit_label(
    rows: Sequence[Mapping[str, Sequence[int]]], y: npt.NDArray[np.int64], seed: int = 7
) -> StackedModel:
    """Fit one label's stacked model; everything is chosen by inner CV on these rows only.

    A field group with no features in any row (tags and descriptions of disguised
    listings) gets no base model: its logit would be a constant.
    """
    lm = _require_sklearn()
    n = len(rows)
    if n < 2 * INNER_FOLDS or y.min() == y.max() or min(np.bincount(y)) < INNER_FOLDS:
        raise UsageError(
            f"training needs both classes, at least {INNER_FOLDS} records of each, "
            f"in {n} records: label more records or use fewer --cv folds"
        )
    inner = folds(n, INNER_FOLDS, seed)
    names: list[str] = []
    columns: list[npt.NDArray[np.float64]] = []
    bases: dict[str, LinearModel] = {}
    for name in BASES:
        x = to_matrix([r.get(name, ()) for r in rows])
        if x.nnz == 0:
            continue
        oof = np.zeros(n)
        for f in inner:
            train = np.setdiff1d(np.arange(n), f)
            w, bias = _fit_base(lm, x[train], y[train])
            oof[f] = x[f] @ w + bias
        w, bias = _fit_base(lm, x, y)
        names.append(name)
        columns.append(oof)
        bases[name] = LinearModel(w, bias)
    if not columns:
        raise UsageError(f"none of the {n} training records has any text feature: nothing to learn")
    z = np.column_stack(columns)
    # The stacker's threshold: F1-best on its own out-of-fold scores over the same logits.
    p = np.zeros(n)
    for f in folds(n, INNER_FOLDS, seed + 4):
        train = np.setdiff1d(np.arange(n), f)
        keep, clf = _fit_stacker(lm, z[train], y[train])
        p[f] = clf.predict_proba(z[f][:, keep])[:, 1]
    thr, f1 = best_threshold(y, p)
    keep, stacker = _fit_stacker(lm, z, y)
    # The ``all`` model alone (for evidence with few fields): its own F1-best threshold.
    solo_thr, solo_f1 = best_threshold(y, 1 / (1 + np.exp(-z[:, 0])))
    stack = {names[k]: float(a) for k, a in zip(keep, stacker.coef_[0], strict=True)}
    bases = {name: bases[name] for name in stack}
    meta = {
        "C": BASE_C,
        "threshold": round(thr, 4),
        "inner_f1": round(f1, 4),
        "solo_threshold": round(solo_thr, 4),
        "solo_inner_f1": round(solo_f1, 4),
    }
    bias = float(stacker.intercept_[0]) - _logit(thr)
    return StackedModel(bases, stack, bias, _logit(solo_thr), meta)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Prepared:
    """Features of a labelled listing file, computed once for both conditions."""

    records: list[dict[str, Any]]
    rows: dict[str, list[Mapping[str, tuple[int, ...]]]]
    gold: dict[str, npt.NDArray[np.int64]]


def prepare(records: Sequence[Mapping[str, Any]]) -> Prepared:
    recs = [dict(r) for r in records]
    rows = {
        "full": [listing_features(r) for r in recs],
        "disguised": [listing_features(disguise(r)) for r in recs],
    }
    gold = {
        label: np.asarray([int(bool(r.get(k))) for r in recs], np.int64)
        for label, k in GOLD_KEYS.items()
    }
    return Prepared(recs, rows, gold)


def train_models(prep: Prepared, index: npt.NDArray[np.int64] | None = None) -> TextModels:
    """Train every (label, condition) model on the records at ``index`` (default: all)."""
    idx = np.arange(len(prep.records)) if index is None else index
    models: dict[tuple[str, str], StackedModel] = {}
    for label, y in prep.gold.items():
        for cond in CONDITIONS:
            rows = [prep.rows[cond][i] for i in idx]
            models[(label, cond)] = fit_label(rows, y[idx])
    return TextModels(models, {"trained_records": len(idx)})
