"""The shipped models load offline and score exactly as they did at training time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from likenessguard.errors import ConfigError
from likenessguard.verdicts.features import DIM, FEATURE_VERSION, featurize
from likenessguard.verdicts.model import LinearModel, TextModels, shipped_models


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
        assert featurize(evidence) == probe["ids"]
        # ...and the shipped weights give the same scores.
        for key, expected in probe["scores"].items():
            label, cond = key.split(".")
            assert tm.models[(label, cond)].score(probe["ids"]) == pytest.approx(expected, abs=1e-6)


def test_probes_are_sensible() -> None:
    tm = shipped_models()
    assert tm is not None
    scores = [p["scores"] for p in tm.meta["probes"]]
    assert scores[0]["real_person.full"] > scores[1]["real_person.full"]
    assert scores[2]["sexual.full"] > scores[1]["sexual.full"]


def test_save_load_roundtrip_and_version_check(tmp_path: Path) -> None:
    w = np.zeros(DIM, np.float32)
    w[[3, 99, 1000]] = [0.5, -1.25, 2.0]
    tm = TextModels({("sexual", "full"): LinearModel(w, -0.5, {"C": 8.0})}, {"note": "x"})
    path = tmp_path / "m.npz"
    tm.save(path)
    back = TextModels.load(path)
    m = back.models[("sexual", "full")]
    assert m.bias == -0.5 and m.meta["C"] == 8.0
    assert m.score([3, 1000]) == pytest.approx(LinearModel(w, -0.5).score([3, 1000]), abs=1e-4)
    # An unknown condition falls back to the full model.
    assert back.get("sexual", "disguised") is m
    data = dict(np.load(path))
    data["meta"] = np.frombuffer(b'{"feature_version": 0, "dim": 4}', dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **data)
    with pytest.raises(
        ConfigError, match="trained for features v0 but this likenessguard computes"
    ):
        TextModels.load(tmp_path / "old.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="is not a likenessguard model file"):
        TextModels.load(tmp_path / "junk.npz")
