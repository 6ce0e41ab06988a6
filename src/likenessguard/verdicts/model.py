"""The shipped learned models: hashed-feature logistic regressions, run with numpy only.

Trained by ``scripts/train_text_model.py`` (scikit-learn, a dev dependency) and
shipped as ``data/text_models.npz``: per label (``real_person``, ``sexual``) and
condition (``full`` for listings with a name/tags/description, ``disguised`` for
a bare re-upload that only keeps trigger words, file names and preview
prompts), the non-zero weights as float16 and a bias. The bias already
includes the decision threshold chosen by cross-validation, so a score of 0.5
is the model's operating point on every model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from likenessguard.errors import ConfigError
from likenessguard.verdicts.features import DIM, FEATURE_VERSION

CONDITIONS = ("full", "disguised")
LABELS = ("real_person", "sexual")


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression over hashed binary features, rows L2-normalised."""

    weights: npt.NDArray[np.float32]
    bias: float
    meta: Mapping[str, Any] = field(default_factory=dict)

    def logit(self, ids: Sequence[int]) -> float:
        if not ids:
            return self.bias
        s = float(self.weights[np.asarray(ids, dtype=np.int64)].sum())
        return s / math.sqrt(len(ids)) + self.bias

    def score(self, ids: Sequence[int]) -> float:
        """Probability-like score in [0, 1]; 0.5 is the operating threshold."""
        z = self.logit(ids)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def weight_sum(self, ids: Sequence[int]) -> float:
        """The raw weight of some features (to rank evidence items by contribution)."""
        if not ids:
            return 0.0
        return float(self.weights[np.asarray(ids, dtype=np.int64)].sum())


@dataclass(frozen=True)
class TextModels:
    """The set of models the detectors use, by (label, condition)."""

    models: Mapping[tuple[str, str], LinearModel]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def get(self, label: str, condition: str) -> LinearModel | None:
        return self.models.get((label, condition)) or self.models.get((label, "full"))

    def save(self, path: str | Path) -> None:
        arrays: dict[str, Any] = {}
        metas: dict[str, Any] = {"feature_version": FEATURE_VERSION, "dim": DIM, **self.meta}
        for (label, cond), m in self.models.items():
            nz = np.flatnonzero(m.weights)
            arrays[f"{label}.{cond}.idx"] = nz.astype(np.uint32)
            arrays[f"{label}.{cond}.val"] = m.weights[nz].astype(np.float16)
            metas[f"{label}.{cond}"] = {"bias": m.bias, **m.meta}
        arrays["meta"] = np.frombuffer(json.dumps(metas).encode("utf-8"), dtype=np.uint8)
        buf = BytesIO()
        np.savez_compressed(buf, **arrays)
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path | None = None) -> TextModels:
        """Load models from ``path`` (default: the shipped file). Never downloads anything."""
        if path is None:
            raw = (
                resources.files("likenessguard.verdicts")
                .joinpath("data/text_models.npz")
                .read_bytes()
            )
            where = "the packaged text_models.npz"
        else:
            raw = Path(path).read_bytes()
            where = str(path)
        try:
            npz = np.load(BytesIO(raw), allow_pickle=False)
            metas = json.loads(npz["meta"].tobytes().decode("utf-8"))
        except (ValueError, KeyError, OSError) as exc:
            raise ConfigError(
                f"{where} is not a likenessguard model file ({exc}): retrain it"
            ) from exc
        if metas.get("feature_version") != FEATURE_VERSION or metas.get("dim") != DIM:
            raise ConfigError(
                f"{where} was trained for features v{metas.get('feature_version')} but this "
                f"likenessguard computes v{FEATURE_VERSION}: run scripts/train_text_model.py"
            )
        models: dict[tuple[str, str], LinearModel] = {}
        for label in LABELS:
            for cond in CONDITIONS:
                key = f"{label}.{cond}"
                if f"{key}.idx" not in npz.files:
                    continue
                w = np.zeros(DIM, dtype=np.float32)
                w[npz[f"{key}.idx"].astype(np.int64)] = npz[f"{key}.val"].astype(np.float32)
                m = dict(metas.get(key, {}))
                bias = float(m.pop("bias", 0.0))
                models[(label, cond)] = LinearModel(w, bias, m)
        top = {k: v for k, v in metas.items() if "." not in k}
        return cls(models, top)


@cache
def shipped_models() -> TextModels | None:
    """The packaged models, or None when the package was built without them."""
    try:
        return TextModels.load()
    except (FileNotFoundError, ConfigError):
        return None
