"""Training the stacked models: what the shipped file and ``eval --cv`` both rely on."""

from __future__ import annotations

import numpy as np
import pytest

from likenessguard.errors import UsageError
from likenessguard.verdicts.training import fit_label


def _rows(n: int, seed: int) -> tuple[list[dict[str, tuple[int, ...]]], np.ndarray]:
    # Prompts (group p) carry the label, names (group n) are noise, tags (t) are absent.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    rows = []
    for label in y:
        p = (5 if label else 6, int(rng.integers(100, 140)))
        n_ids = (int(rng.integers(200, 260)), int(rng.integers(300, 360)))
        rows.append({"all": tuple(sorted({*p, *n_ids})), "p": p, "n": n_ids, "t": ()})
    return rows, y


def test_stack_learns_from_the_telling_group_and_skips_empty_ones() -> None:
    rows, y = _rows(240, 1)
    model = fit_label(rows, y)
    assert set(model.bases) == set(model.stack)
    assert "t" not in model.bases  # no tag in any row: no base model for tags
    assert all(a >= 0 for name, a in model.stack.items() if name != "all")
    test_rows, test_y = _rows(60, 2)
    scores = np.array([model.score(r) for r in test_rows])
    assert ((scores >= 0.5) == test_y.astype(bool)).all()
    again = fit_label(rows, y)
    assert again.stack == model.stack and again.bias == model.bias


def test_one_class_is_a_usage_error_not_a_crash() -> None:
    rows, _ = _rows(30, 3)
    with pytest.raises(UsageError, match="needs both classes"):
        fit_label(rows, np.zeros(30, np.int64))
