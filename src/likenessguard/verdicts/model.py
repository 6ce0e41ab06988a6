"""The shipped learned models: stacked hashed-feature logistic regressions, run with numpy only.

Trained by ``scripts/train_text_model.py`` (scikit-learn, a dev dependency) and
shipped as ``data/text_models.npz``: per label (``real_person``, ``sexual``) and
condition (``full`` for listings with a name/tags/description, ``disguised`` for
a bare re-upload that only keeps trigger words, file names and preview
prompts), one :class:`StackedModel`: a logistic regression over all features
plus one per field group (names, versions, tags, triggers, prompts,
descriptions, any-field words, rules), combined by a logistic stacker over their
logits. One model over everything lets a frequent field drown a rare but
telling one; the per-group models and the stacker let each field speak with the
weight cross-validation gives it (measured in docs/evaluation.md). Weights are
stored as float16 non-zeros. The stacker's bias already includes the decision
threshold chosen by cross-validation, so a score of 0.5 is the operating point
of every model.
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
from likenessguard.verdicts.features import ALL, BASE_GROUPS, DIM, FEATURE_VERSION

CONDITIONS = ("full", "disguised")
LABELS = ("real_person", "sexual")
# The layout of text_models.npz: 1 held one LinearModel per label and condition, 2 the
# stacked models with index lists, 3 the same with a bitmap of the buckets in use.
MODEL_FORMAT = 3
BASES = (ALL, *BASE_GROUPS)
# Field groups whose presence makes evidence look like the listings the stacker
# learned from; with fewer than MIN_FIELDS of them (a bare file name, a header with
# one tag), every absent group would pull the stacked score by its base's bias, far
# from anything seen in training, so the ``all`` model scores alone.
FIELD_GROUPS = frozenset("nvtwpd")
MIN_FIELDS = 2


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
class StackedModel:
    """Base logistic regressions (``all`` and one per field group) under a logistic stacker.

    ``logit`` = ``bias + sum(stack[b] * bases[b].logit(ids of group b))``; a base
    whose group has no features contributes its own bias, exactly as in training.
    Evidence with fewer than ``MIN_FIELDS`` field groups is scored by the ``all``
    base alone, shifted by ``solo_shift`` (its own cross-validated threshold).
    """

    bases: Mapping[str, LinearModel]
    stack: Mapping[str, float]
    bias: float
    solo_shift: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)
    weights: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)

    def logit(self, groups: Mapping[str, Sequence[int]]) -> float:
        if sum(1 for g in FIELD_GROUPS if groups.get(g)) < MIN_FIELDS:
            return self.bases[ALL].logit(groups.get(ALL, ())) - self.solo_shift
        z = self.bias
        for name, a in self.stack.items():
            z += a * self.bases[name].logit(groups.get(name, ()))
        return z

    def score(self, groups: Mapping[str, Sequence[int]]) -> float:
        """Probability-like score in [0, 1]; 0.5 is the operating threshold."""
        z = self.logit(groups)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def __post_init__(self) -> None:
        # One weight per bucket, every base's weights scaled by its stacker weight:
        # what ``cite.py`` ranks evidence items by (a contribution, not a score).
        w = np.zeros(DIM, dtype=np.float32)
        for name, a in self.stack.items():
            w += np.float32(a) * self.bases[name].weights
        object.__setattr__(self, "weights", w)


@dataclass(frozen=True)
class TextModels:
    """The set of models the detectors use, by (label, condition)."""

    models: Mapping[tuple[str, str], StackedModel]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def get(self, label: str, condition: str) -> StackedModel | None:
        return self.models.get((label, condition)) or self.models.get((label, "full"))

    def save(self, path: str | Path) -> None:
        arrays: dict[str, Any] = {}
        metas: dict[str, Any] = {
            "feature_version": FEATURE_VERSION,
            "dim": DIM,
            **self.meta,
            "format": MODEL_FORMAT,
        }
        for (label, cond), m in self.models.items():
            for name, base in m.bases.items():
                # Which buckets hold a weight, as a bitmap (32 KiB for 2**18 buckets):
                # most buckets are used, and a list of their indices took ten times
                # the space, which put the shipped file over 5 MB.
                used = base.weights != 0
                arrays[f"{label}.{cond}.{name}.mask"] = np.packbits(used)
                arrays[f"{label}.{cond}.{name}.val"] = base.weights[used].astype(np.float16)
            metas[f"{label}.{cond}"] = {
                "bias": m.bias,
                "solo_shift": m.solo_shift,
                "stack": dict(m.stack),
                "base_bias": {name: b.bias for name, b in m.bases.items()},
                **m.meta,
            }
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
        if metas.get("format", 1) != MODEL_FORMAT:
            raise ConfigError(
                f"{where} is in model format {metas.get('format', 1)} but this likenessguard "
                f"reads format {MODEL_FORMAT}: run scripts/train_text_model.py"
            )
        models: dict[tuple[str, str], StackedModel] = {}
        for label in LABELS:
            for cond in CONDITIONS:
                key = f"{label}.{cond}"
                if key in metas:
                    try:
                        models[(label, cond)] = _read_stacked(npz, key, dict(metas[key]))
                    except (KeyError, ValueError, TypeError, AttributeError) as exc:
                        raise ConfigError(
                            f"{where} has a broken {key} model ({exc!r}): retrain it"
                        ) from exc
        top = {k: v for k, v in metas.items() if "." not in k}
        return cls(models, top)


def _read_stacked(npz: Any, key: str, m: dict[str, Any]) -> StackedModel:
    stack = {str(k): float(v) for k, v in m.pop("stack").items()}
    base_bias = m.pop("base_bias")
    bases: dict[str, LinearModel] = {}
    for name in stack:
        w = np.zeros(DIM, dtype=np.float32)
        used = np.unpackbits(npz[f"{key}.{name}.mask"], count=DIM).astype(bool)
        w[used] = npz[f"{key}.{name}.val"].astype(np.float32)
        bases[name] = LinearModel(w, float(base_bias[name]))
    bias = float(m.pop("bias"))
    return StackedModel(bases, stack, bias, float(m.pop("solo_shift")), m)


@cache
def shipped_models() -> TextModels | None:
    """The packaged models, or None when the package was built without them."""
    try:
        return TextModels.load()
    except (FileNotFoundError, ConfigError):
        return None
