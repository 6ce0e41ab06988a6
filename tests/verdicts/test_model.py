"""The shipped models load offline and score exactly as they did at training time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from likenessguard.errors import ConfigError
from likenessguard.verdicts.features import DIM, FEATURE_VERSION, featurize_groups
from likenessguard.verdicts.model import (
    MODEL_FORMAT,
    LinearModel,
    StackedModel,
    TextModels,
    shipped_models,
)


def test_shipped_models_reproduce_training_scores() -> None:
    import importlib

    train_script = importlib.import_module("scripts.train_text_model")
    tm = shipped_models()
    assert tm is not None
    assert set(tm.models) == {
        ("real_person", "full"),
        ("real_person", "disguised"),
        ("sexual", "full"),
        ("sexual", "disguised"),
    }
    assert tm.meta["feature_version"] == FEATURE_VERSION
    probes = tm.meta["probes"]
    assert len(probes) == len(train_script.PROBES)
    for probe, evidence in zip(probes, train_script.PROBES, strict=True):
        # The features are computed the same way today as at training time...
        groups = featurize_groups(evidence)
        assert {k: list(v) for k, v in groups.items()} == probe["ids"]
        # ...and the shipped weights give the same scores.
        for key, expected in probe["scores"].items():
            label, cond = key.split(".")
            assert tm.models[(label, cond)].score(groups) == pytest.approx(expected, abs=1e-6)


def test_probes_are_sensible() -> None:
    tm = shipped_models()
    assert tm is not None
    scores = [p["scores"] for p in tm.meta["probes"]]
    assert scores[0]["real_person.full"] > scores[1]["real_person.full"]
    assert scores[2]["sexual.full"] > scores[1]["sexual.full"]


def test_save_load_roundtrip_and_version_check(tmp_path: Path) -> None:
    w = np.zeros(DIM, np.float32)
    w[[3, 99, 1000]] = [0.5, -1.25, 2.0]
    v = np.zeros(DIM, np.float32)
    v[[3, 7]] = [1.0, -0.5]
    bases = {"all": LinearModel(w, 0.25), "p": LinearModel(v, -1.0), "n": LinearModel(v, 0.5)}
    stack = {"all": 1.5, "p": 0.5, "n": 2.0}
    stacked = StackedModel(bases, stack, -0.5, solo_shift=0.75, meta={"C": 8.0})
    tm = TextModels({("sexual", "full"): stacked}, {"note": "x"})
    path = tmp_path / "m.npz"
    tm.save(path)
    back = TextModels.load(path)
    m = back.models[("sexual", "full")]
    assert m.bias == -0.5 and m.solo_shift == 0.75 and m.meta["C"] == 8.0 and m.stack == stack
    groups = {"all": (3, 1000), "p": (3,), "n": (7,)}
    assert m.score(groups) == pytest.approx(stacked.score(groups), abs=1e-4)
    # By hand: all 1.5 * ((0.5 + 2.0) / sqrt(2) + 0.25), p 0.5 * (1.0 - 1.0),
    # n 2.0 * (-0.5 + 0.5), stacker bias -0.5.
    assert m.logit(groups) == pytest.approx(1.5 * (2.5 / 2**0.5 + 0.25) - 0.5, abs=1e-3)
    # A field group with no features contributes its base's bias...
    assert m.logit({**groups, "n": (), "t": (99,), "v": (1000,)}) == pytest.approx(
        1.5 * (2.5 / 2**0.5 + 0.25) - 0.5 + 2.0 * 0.5, abs=1e-3
    )
    # ...but with fewer than two field groups the all model scores alone, shifted.
    assert m.logit({"all": (3, 1000), "p": (3,)}) == pytest.approx(
        2.5 / 2**0.5 + 0.25 - 0.75, abs=1e-3
    )
    assert m.weights[3] == pytest.approx(1.5 * 0.5 + 0.5 * 1.0 + 2.0 * 1.0, abs=1e-3)
    # An unknown condition falls back to the full model.
    assert back.get("sexual", "disguised") is m
    data = dict(np.load(path))
    meta = np.frombuffer(b'{"feature_version": 0, "dim": 4}', dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **{**data, "meta": meta})
    with pytest.raises(
        ConfigError, match="trained for features v0 but this likenessguard computes"
    ):
        TextModels.load(tmp_path / "old.npz")
    # A format-1 file (one linear model per label) asks to be retrained, not misread.
    meta = np.frombuffer(
        f'{{"feature_version": {FEATURE_VERSION}, "dim": {DIM}}}'.encode(), dtype=np.uint8
    )
    np.savez(tmp_path / "v1.npz", **{**data, "meta": meta})
    with pytest.raises(ConfigError, match=f"model format 1 but this .* format {MODEL_FORMAT}"):
        TextModels.load(tmp_path / "v1.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="is not a likenessguard model file"):
        TextModels.load(tmp_path / "junk.npz")
