"""Choosing which evidence items to cite for a learned score.

A model score is a sum over features; each evidence item's share is the sum
of the weights of the features it produces alone. Citing the items with the
largest positive share tells a reviewer *which* texts made the model fire.
"""

from __future__ import annotations

from collections.abc import Sequence

from likenessguard.evidence.base import Evidence
from likenessguard.verdicts.features import item_features
from likenessguard.verdicts.model import LinearModel

# Items considered per artifact: the first ones of each kind carry the signal.
MAX_SCORED = 150


def rank_by_model(model: LinearModel, evidence: Sequence[Evidence], limit: int) -> list[Evidence]:
    """Up to ``limit`` evidence items with the largest positive contribution, best first."""
    scored: list[tuple[float, int, Evidence]] = []
    for i, ev in enumerate(evidence[:MAX_SCORED]):
        if ev.signal in ("negative-prompt", "hash"):
            continue
        share = model.weight_sum(item_features(ev))
        if share > 0:
            scored.append((share, i, ev))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [ev for _, _, ev in scored[:limit]]
