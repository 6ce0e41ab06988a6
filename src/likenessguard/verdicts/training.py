"""Training and honest cross-validation of the text models (needs scikit-learn: dev only).

Nothing here runs at scan time. ``scripts/train_text_model.py`` trains the
shipped models on a labelled listing file; ``likenessguard eval --cv K``
retrains from scratch inside every fold so no reported number comes from a
model that saw the record it is scored on. Inside each training part, the
regularisation strength and the decision threshold are chosen by an inner
cross-validation on that part only.
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
from likenessguard.verdicts.features import DIM, featurize
from likenessguard.verdicts.model import CONDITIONS, LinearModel, TextModels

GOLD_KEYS = {"real_person": "poi", "sexual": "nsfw"}
C_GRID = (8.0, 32.0)
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


def listing_features(record: Mapping[str, Any]) -> list[int]:
    return featurize(extract_all(EvidenceContext(listing=record)))


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


def _fit_raw(
    lm: Any, x: Any, y: npt.NDArray[np.int64], c: float
) -> tuple[npt.NDArray[np.float32], float]:
    clf = lm.LogisticRegression(C=c, solver="liblinear", max_iter=200)
    clf.fit(x, y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def fit_label(
    rows: Sequence[Sequence[int]], y: npt.NDArray[np.int64], seed: int = 7
) -> LinearModel:
    """Fit one label's model: C and threshold chosen by inner CV on these rows only."""
    lm = _require_sklearn()
    x = to_matrix(rows)
    inner = folds(len(rows), INNER_FOLDS, seed)
    best: tuple[float, float, float] = (-1.0, C_GRID[0], 0.5)
    for c in C_GRID:
        oof = np.zeros(len(rows))
        for f in inner:
            train = np.setdiff1d(np.arange(len(rows)), f)
            w, b = _fit_raw(lm, x[train], y[train], c)
            oof[f] = 1 / (1 + np.exp(-(x[f] @ w + b)))
        thr, f1 = best_threshold(y, oof)
        if f1 > best[0]:
            best = (f1, c, thr)
    f1, c, thr = best
    w, b = _fit_raw(lm, x, y, c)
    thr = min(max(thr, 1e-4), 1 - 1e-4)
    shift = math.log(thr / (1 - thr))
    return LinearModel(w, b - shift, {"C": c, "threshold": round(thr, 4), "inner_f1": round(f1, 4)})


@dataclass(frozen=True)
class Prepared:
    """Features of a labelled listing file, computed once for both conditions."""

    records: list[dict[str, Any]]
    rows: dict[str, list[list[int]]]
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
    models: dict[tuple[str, str], LinearModel] = {}
    for label, y in prep.gold.items():
        for cond in CONDITIONS:
            rows = [prep.rows[cond][i] for i in idx]
            models[(label, cond)] = fit_label(rows, y[idx])
    return TextModels(models, {"trained_records": len(idx)})
