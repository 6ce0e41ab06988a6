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


def _listing(i: int) -> dict[str, object]:
    # Fictional people only; the sexual ones carry an explicit tag and prompt.
    person, sexual = i % 2 == 0, i % 3 == 0
    name = f"Jane Roe {i}" if person else f"Watercolor style {i}"
    tags = ["celebrity", "actress"] if person else ["style", "landscape"]
    prompt = "nude, photo of a woman" if sexual else "a castle at dawn"
    if sexual:
        tags.append("nude")
    return {
        "id": 1000 + i,
        "type": "LORA",
        "name": name,
        "tags": tags,
        "versions": [{"trainedWords": [f"jr{i}"], "images": [{"prompt": prompt}]}],
        "poi": person,
        "nsfw": sexual,
    }


@pytest.mark.slow
def test_cross_validated_predictions_name_the_fold_that_judged_each_record() -> None:
    from likenessguard.verdicts.evaluate import evaluate_conditions
    from likenessguard.verdicts.training import folds

    recs = [_listing(i) for i in range(60)]
    rows: list[dict[str, object]] = []
    (report,) = evaluate_conditions(recs, ("as-is",), cv=2, predictions=rows.append)
    assert [r["id"] for r in rows] == [1000 + i for i in range(60)]
    test_sets = folds(60, 2)
    for k, test in enumerate(test_sets):
        assert {rows[int(i)]["fold"] for i in test} == {k}
    # The rows recount the report exactly: they are the same outcomes.
    c = report.labels["real_person"]
    outcomes = [r["labels"]["real_person"] for r in rows]
    fired = [(o["gold"], o["fired"]) for o in outcomes]
    assert (c.tp, c.fp, c.fn) == (
        fired.count((True, True)),
        fired.count((False, True)),
        fired.count((True, False)),
    )
    assert c.f1 > 0.9  # names and tags separate these cleanly
