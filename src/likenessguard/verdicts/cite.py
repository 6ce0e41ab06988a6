"""Choosing which evidence items to cite for a learned score.

A model score is a sum over features; each evidence item's share is the sum
of the weights of the features it produces alone. Citing the items with the
largest positive share tells a reviewer *which* texts made the model fire.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from likenessguard.evidence.base import Evidence
from likenessguard.verdicts.features import item_features
from likenessguard.verdicts.model import LinearModel, StackedModel

# Items considered per artifact: the first ones of each kind carry the signal.
MAX_SCORED = 150


def rank_by_model(
    model: LinearModel | StackedModel, evidence: Sequence[Evidence], limit: int
) -> list[Evidence]:
    """Up to ``limit`` evidence items with the largest positive contribution, best first."""
    items = [
        (i, ev)
        for i, ev in enumerate(evidence[:MAX_SCORED])
        if ev.signal not in ("negative-prompt", "hash")
    ]
    ids = [item_features(ev) for _, ev in items]
    keep = [(k, f) for k, f in enumerate(ids) if f]
    if not keep:
        return []
    # One gather and one segmented sum for all items (a numpy call per item costs more).
    flat = np.fromiter((x for _, f in keep for x in f), dtype=np.int64)
    starts = np.cumsum([0] + [len(f) for _, f in keep[:-1]])
    shares = np.add.reduceat(model.weights[flat], starts)
    scored: list[tuple[float, int, Evidence]] = []
    for (k, _), share in zip(keep, shares.tolist(), strict=True):
        if share > 0:
            i, ev = items[k]
            scored.append((share, i, ev))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [ev for _, _, ev in scored[:limit]]
