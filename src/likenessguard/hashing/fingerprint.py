"""Weight fingerprints: find copies of a model whose bytes (and so hashes) were changed.

A file hash dies with a renamed key, a stripped metadata block or a dtype cast.
The weights' *effect* survives all of those, so we sketch that instead.

Adapters (LoRA, LoCon, LoHa, LoKr, DoRA): for each module we sketch the
effective update ``ΔW = up · down · (alpha / rank)`` (LoHa ``(w1a·w1b) ⊙ (w2a·w2b)``,
LoKr ``kron(w1, w2)``, convolutions flattened to ``out × in·kh·kw``), never the raw
factors, so splitting the factors differently, baking alpha into them, resizing
the rank or converting kohya ↔ PEFT all leave it unchanged. ``ΔW`` is never
materialised: with fixed seeded Gaussian matrices ``L`` (``out × 4``) and ``R``
(``in × 8``) the sketch is ``Lᵀ·ΔW·R = (Lᵀ·up)·(down·R)``, a 4 × 8 matrix whose
cosine with another module's sketch estimates the cosine of the two updates
(Johnson-Lindenstrauss). Checkpoints get the same 4 × 8 sketch from four rows of
each weight tensor (row indices seeded by the module's canonical name, so the
same rows are read in every copy whatever its layout); textual-inversion
embeddings are sketched whole.

Each module sketch is scaled to unit length (so every module counts the same,
and rescaling blocks does not hide a copy) and its 32 entries are
feature-hashed with signs into a 256-dim vector keyed by the module's canonical
name (:mod:`likenessguard.hashing.keys`), divided by ``sqrt(modules)``. The
cosine of two such vectors is therefore, up to ~±0.06 of hashing noise,

    similarity = Σ_{shared modules} cos(ΔW₁, ΔW₂) / sqrt(M₁ · M₂)

i.e. the mean per-module cosine over shared modules, penalised by module-set
mismatch; we clip it to [0, 1]. 1.0 means the same weights (a cast, rename or
re-key); a 0.85/0.15 merge scores ~0.98; a half-rank SVD resize ~0.8-0.9; an
unrelated model ~0. See docs/banks.md.

Serialised as ``lgfp1:<kind>:<modules>:<base64 of 256 float16>`` (about 700 characters).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from likenessguard.artifacts.base import Artifact, ByteSource, Kind, TensorInfo
from likenessguard.hashing.keys import fused_parts, split_key

Array = npt.NDArray[np.float32]

#: Length of the pooled fingerprint vector (ships: stored in catalogs and bank exports).
DIM = 256
#: Sketch size per module: rows (output side) × columns (input side).
SKETCH_ROWS = 4
SKETCH_COLS = 8
#: Seed of every random matrix; changing it invalidates every stored fingerprint.
SEED = 0x11CE55
VERSION = "lgfp1"

#: Policy thresholds per fingerprint kind: a similarity at or above counts as a copy.
#: Checkpoints fine-tuned from the same base are already ~0.99 alike in raw weights,
#: so only near-exact copies (casts, re-keys) may match them.
THRESHOLDS: Mapping[str, float] = {"adapter": 0.5, "embedding": 0.9, "weights": 0.9995}

_FLOAT_DTYPES: dict[str, np.dtype[Any]] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_FACTOR_ROLES = frozenset(
    {"down", "up", "mid", "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"}
    | {"lokr_w1", "lokr_w2", "lokr_w1_a", "lokr_w1_b", "lokr_w2_a", "lokr_w2_b", "diff"}
)
# Tensors smaller than this carry too little signal to sketch in a checkpoint.
_MIN_CHECKPOINT_ELEMENTS = 4096


class FingerprintError(ValueError):
    """The artifact's tensors cannot be fingerprinted (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A weight fingerprint: ``kind`` (adapter, weights, embedding), module count, unit vector."""

    kind: str
    modules: int
    vector: Array

    def similarity(self, other: Fingerprint) -> float:
        """The documented similarity in [0, 1]; 0 across kinds."""
        return similarity(self, other)

    @property
    def threshold(self) -> float:
        return THRESHOLDS.get(self.kind, 0.9)

    def to_text(self) -> str:
        raw = self.vector.astype("<f2").tobytes()
        return f"{VERSION}:{self.kind}:{self.modules}:{base64.b64encode(raw).decode('ascii')}"

    def to_bytes(self) -> bytes:
        """Compact form for a database column (float16 vector only)."""
        return self.vector.astype("<f2").tobytes()

    @classmethod
    def from_text(cls, text: str) -> Fingerprint:
        """Parse :meth:`to_text` output; raise ``ValueError`` saying what is wrong."""
        parts = text.strip().split(":")
        if len(parts) != 4 or parts[0] != VERSION:
            raise ValueError(
                f"not a likenessguard fingerprint (expected '{VERSION}:<kind>:<modules>:<base64>')"
            )
        try:
            raw = base64.b64decode(parts[3], validate=True)
            modules = int(parts[2])
        except ValueError as exc:
            raise ValueError(f"fingerprint is damaged: {exc}") from None
        return cls.from_bytes(parts[1], modules, raw)

    @classmethod
    def from_bytes(cls, kind: str, modules: int, raw: bytes) -> Fingerprint:
        if len(raw) != DIM * 2:
            raise ValueError(f"fingerprint has {len(raw)} bytes, expected {DIM * 2}")
        vec = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        return cls(kind=kind, modules=modules, vector=_unit(vec))


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Cosine of the two pooled vectors, clipped to [0, 1]; 0 when the kinds differ."""
    if a.kind != b.kind:
        return 0.0
    return float(min(1.0, max(0.0, float(np.dot(a.vector, b.vector)))))


def _unit(vec: Array) -> Array:
    norm = float(np.linalg.norm(vec))
    out: Array = (vec / norm).astype(np.float32) if norm > 0 else vec.astype(np.float32)
    return out


# -- reading tensors ---------------------------------------------------------------


@lru_cache(maxsize=1)
def _f16_table() -> Array:
    """float32 value of every float16 bit pattern: a gather beats numpy's F16 cast."""
    table: Array = (
        np.arange(65536, dtype=np.uint32).astype(np.uint16).view("<f2").astype(np.float32)
    )
    return table


def decode(raw: bytes, dtype: str, shape: Sequence[int]) -> Array:
    """Decode raw little-endian tensor bytes to float32 (BF16 by shifting into float32)."""
    if dtype == "F16":
        f16: Array = _f16_table()[np.frombuffer(raw, dtype="<u2")].reshape(shape)
        return f16
    if dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        bf: Array = bits.view(np.float32).reshape(shape)
        return bf
    np_dtype = _FLOAT_DTYPES.get(dtype)
    if np_dtype is None:
        raise FingerprintError(f"dtype {dtype} is not a float type this fingerprint reads")
    out: Array = np.frombuffer(raw, dtype=np_dtype).astype(np.float32).reshape(shape)
    return out


def read_tensor(source: ByteSource, info: TensorInfo) -> Array:
    """Read one whole tensor as float32 through ``source``."""
    if info.offset < 0:
        raise FingerprintError(f"{info.name}: its bytes cannot be located in {source.name}")
    raw = source.read_at(info.offset, info.nbytes)
    if len(raw) != info.nbytes:
        raise FingerprintError(
            f"{info.name}: {source.name} ends after {len(raw)} of {info.nbytes} bytes "
            "(truncated download?)"
        )
    return decode(raw, info.dtype, info.shape)


def _read_rows(source: ByteSource, info: TensorInfo, rows: Sequence[int]) -> Array:
    width = math.prod(info.shape[1:])
    item = info.nbytes // max(1, math.prod(info.shape))
    out = np.empty((len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        raw = source.read_at(info.offset + row * width * item, width * item)
        if len(raw) != width * item:
            raise FingerprintError(f"{info.name}: {source.name} is truncated")
        out[i] = decode(raw, info.dtype, (width,))
    return out


# -- seeded randomness ------------------------------------------------------------


@lru_cache(maxsize=512)
def _projection(side: str, dim: int, k: int) -> Array:
    """The fixed Gaussian projection for one side and one dimension (shared by all modules)."""
    rng = np.random.default_rng([SEED, 1 if side == "left" else 2, dim, k])
    out: Array = rng.standard_normal((dim, k), dtype=np.float32)
    return out


def _name_seed(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


@lru_cache(maxsize=65536)
def _buckets(name: str) -> tuple[npt.NDArray[np.intp], Array]:
    rng = np.random.default_rng([SEED, 3, _name_seed(name)])
    n = SKETCH_ROWS * SKETCH_COLS
    idx = rng.integers(0, DIM, size=n).astype(np.intp)
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=n)
    return idx, signs


@lru_cache(maxsize=65536)
def _sample_rows(name: str, nrows: int) -> tuple[int, ...]:
    rng = np.random.default_rng([SEED, 4, _name_seed(name), nrows])
    take = min(SKETCH_ROWS, nrows)
    return tuple(sorted(int(x) for x in rng.choice(nrows, size=take, replace=False)))


# -- module sketches --------------------------------------------------------------


def _as_matrix(t: Array) -> Array:
    return t.reshape(t.shape[0], -1) if t.ndim != 2 else t


def _lowrank_sketch(up: Array, down: Array, scale: float) -> Array:
    """``Lᵀ·(up·down)·R·scale`` without forming ``up·down``."""
    left = _projection("left", up.shape[0], SKETCH_ROWS)
    right = _projection("right", down.shape[1], SKETCH_COLS)
    out: Array = ((left.T @ up) @ (down @ right)) * np.float32(scale)
    return out


def _full_sketch(mat: Array) -> Array:
    """``Lᵀ·M·R`` of a matrix that is already in the file (a full diff, an embedding)."""
    left = _projection("left", mat.shape[0], SKETCH_ROWS)
    right = _projection("right", mat.shape[1], SKETCH_COLS)
    out: Array = ((left.T @ mat) @ right).astype(np.float32)
    return out


def _module_sketch(
    tensors: Mapping[str, Array],
    alpha: float | None,
    default_scale: float,
    rows: slice | None = None,
) -> Array | None:
    """The sketch of one module's effective update, or None when it has none.

    ``rows`` restricts the update to some output rows (one part of a fused layer).
    """
    every = slice(None)
    if "up" in tensors and "down" in tensors:
        up = _as_matrix(tensors["up"])[rows or every]
        down = tensors["down"]
        rank = down.shape[0]
        if "mid" in tensors:  # LoCon Tucker core: ΔW = up ×₁ mid ×₂ down
            mid = tensors["mid"]
            d = down.reshape(rank, -1)
            down = np.einsum("abhw,bi->aihw", mid, d).reshape(mid.shape[0], -1)
        else:
            down = _as_matrix(down)
        scale = alpha / rank if alpha is not None else default_scale
        return _lowrank_sketch(up, down, scale)
    if "hada_w1_a" in tensors:
        a1, b1 = _as_matrix(tensors["hada_w1_a"])[rows or every], _as_matrix(tensors["hada_w1_b"])
        a2, b2 = _as_matrix(tensors["hada_w2_a"])[rows or every], _as_matrix(tensors["hada_w2_b"])
        rank = b1.shape[0]
        # (a1·b1) ⊙ (a2·b2) = KhatriRao(a1, a2) · KhatriRao(b1ᵀ, b2ᵀ)ᵀ: rank r² factors.
        up = (a1[:, :, None] * a2[:, None, :]).reshape(a1.shape[0], -1)
        down = (b1[:, None, :] * b2[None, :, :]).reshape(-1, b1.shape[1])
        scale = alpha / rank if alpha is not None else 1.0
        return _lowrank_sketch(up, down, scale)
    if any(r.startswith("lokr_") for r in tensors):
        return _lokr_sketch(tensors, alpha)
    if "diff" in tensors:
        return _full_sketch(_as_matrix(tensors["diff"])[rows or every])
    return None


def _out_rows(tensors: Mapping[str, Array]) -> int | None:
    for role in ("up", "hada_w1_a", "diff"):
        if role in tensors:
            return int(tensors[role].shape[0])
    return None


def _lokr_sketch(tensors: Mapping[str, Array], alpha: float | None) -> Array:
    scale = 1.0
    if "lokr_w1" in tensors:
        w1 = _as_matrix(tensors["lokr_w1"])
    else:
        w1 = _as_matrix(tensors["lokr_w1_a"]) @ _as_matrix(tensors["lokr_w1_b"])
        if alpha is not None:
            scale = alpha / tensors["lokr_w1_b"].shape[0]
    if "lokr_w2" in tensors:
        w2 = _as_matrix(tensors["lokr_w2"])
    else:
        w2 = _as_matrix(tensors["lokr_w2_a"]) @ _as_matrix(tensors["lokr_w2_b"])
        if alpha is not None:
            scale = alpha / tensors["lokr_w2_b"].shape[0]
    a, b = w1.shape
    c, d = w2.shape
    right = _projection("right", b * d, SKETCH_COLS).reshape(b, d, SKETCH_COLS)
    # kron(w1, w2)·R without the Kronecker product: Y[a,c,k] = Σ w1[a,b] w2[c,d] R[b,d,k].
    y = np.einsum("ab,cd,bdk->ack", w1, w2, right, optimize=True).reshape(a * c, SKETCH_COLS)
    left = _projection("left", a * c, SKETCH_ROWS)
    out: Array = (left.T @ y) * np.float32(scale)
    return out


# -- the fingerprint ---------------------------------------------------------------


def fingerprint_kind(artifact: Artifact) -> str:
    """Which fingerprint family an artifact belongs to: adapter, embedding or weights."""
    kind = artifact.identity.kind
    if kind == Kind.TEXTUAL_INVERSION:
        return "embedding"
    if kind in (Kind.CHECKPOINT, Kind.VAE, Kind.CONTROLNET):
        return "weights"
    if any(split_key(t.name)[1] in _FACTOR_ROLES for t in artifact.tensors):
        return "adapter"
    if kind in (Kind.LORA, Kind.LYCORIS, Kind.DORA):
        return "adapter"
    return "weights"


def _default_scale(metadata: Mapping[str, str]) -> float:
    """alpha/rank for files with no alpha tensors (PEFT keeps them in its adapter config)."""
    raw = metadata.get("lora_adapter_metadata") or metadata.get("adapter_config")
    if raw:
        try:
            cfg = json.loads(raw)
            return float(cfg["lora_alpha"]) / float(cfg["r"])
        except (ValueError, KeyError, TypeError, ZeroDivisionError):
            return 1.0
    return 1.0


def module_sketches(artifact: Artifact, source: ByteSource) -> dict[str, Array]:
    """Canonical module name -> its unscaled 4 × 8 sketch (before unit normalisation).

    Raises:
        FingerprintError: no tensor could be sketched, or tensor bytes are unreadable.
    """
    kind = fingerprint_kind(artifact)
    sketches: dict[str, Array] = {}
    if kind == "adapter":
        groups: dict[str, dict[str, TensorInfo]] = defaultdict(dict)
        for info in artifact.tensors:
            module, role = split_key(info.name)
            if role in _FACTOR_ROLES or role == "alpha":
                groups[module][role] = info
        default_scale = _default_scale(artifact.metadata)
        for module, roles in groups.items():
            alpha_info = roles.pop("alpha", None)
            if not roles:
                continue
            try:
                tensors = {role: read_tensor(source, info) for role, info in roles.items()}
                alpha = None
                if alpha_info is not None:
                    alpha = float(read_tensor(source, alpha_info).reshape(-1)[0])
                out_rows = _out_rows(tensors)
                parts = fused_parts(module, out_rows) if out_rows else None
                if parts and not any(r.startswith("lokr_") for r in tensors):
                    # A fused qkv / linear1 of the original code: sketch each part under
                    # its diffusers name so both layouts line up module by module.
                    for name, start, stop in parts:
                        part = _module_sketch(tensors, alpha, default_scale, slice(start, stop))
                        if part is not None:
                            sketches[name] = part
                    continue
                sketch = _module_sketch(tensors, alpha, default_scale)
            except (KeyError, ValueError, IndexError) as exc:
                raise FingerprintError(f"module {module}: {exc}") from None
            if sketch is not None:
                sketches[module] = sketch
    else:
        for info in artifact.tensors:
            if len(info.shape) < 2 or math.prod(info.shape) < (
                1 if kind == "embedding" else _MIN_CHECKPOINT_ELEMENTS
            ):
                continue
            if info.dtype not in _FLOAT_DTYPES and info.dtype != "BF16":
                continue
            module, _role = split_key(info.name)
            name = f"{module}:{info.shape[0]}"
            if kind == "embedding":
                sketches[name] = _full_sketch(_as_matrix(read_tensor(source, info)))
            else:
                rows = _sample_rows(name, info.shape[0])
                block = _read_rows(source, info, rows)
                right = _projection("right", block.shape[1], SKETCH_COLS)
                sketch = np.zeros((SKETCH_ROWS, SKETCH_COLS), dtype=np.float32)
                sketch[: len(rows)] = block @ right
                sketches[name] = sketch
    if not sketches:
        raise FingerprintError(
            f"{source.name}: no float weight tensors to fingerprint "
            f"({len(artifact.tensors)} tensors, kind {artifact.identity.kind})"
        )
    return sketches


def pool(kind: str, sketches: Mapping[str, Array]) -> Fingerprint:
    """Feature-hash unit module sketches into the fixed-size fingerprint vector."""
    vec = np.zeros(DIM, dtype=np.float32)
    used = 0
    for name, sketch in sketches.items():
        flat = sketch.reshape(-1).astype(np.float32)
        norm = float(np.linalg.norm(flat))
        if not math.isfinite(norm) or norm == 0.0:
            continue
        idx, signs = _buckets(name)
        np.add.at(vec, idx, signs * (flat / norm))
        used += 1
    if used == 0:
        raise FingerprintError("every module's update is zero or not finite")
    return Fingerprint(kind=kind, modules=used, vector=_unit(vec))


def fingerprint_artifact(artifact: Artifact, source: ByteSource) -> Fingerprint:
    """Fingerprint one artifact from its tensor data.

    Args:
        artifact: the reader's view (tensor names, dtypes, shapes, offsets).
        source: the bytes the artifact was read from.

    Returns:
        The :class:`Fingerprint`.

    Raises:
        FingerprintError: nothing fingerprintable, or tensor bytes unreadable (one-line message).

    Example::

        with FileSource(path) as src:
            fp = fingerprint_artifact(read_artifacts(path)[0], src)
        fp.to_text()    # 'lgfp1:adapter:264:...'
    """
    try:
        # Thousands of small matrix products: BLAS worker threads only add
        # overhead, and on a busy machine they spin (measured 12x slower).
        # Hostile or broken weights (NaN, inf) are skipped module by module
        # below; numpy's warnings about them would only be noise on stderr.
        with threadpool_limits(1, user_api="blas"), np.errstate(all="ignore"):
            sketches = module_sketches(artifact, source)
    except OSError as exc:
        raise FingerprintError(f"{source.name}: couldn't read tensor data: {exc}") from None
    return pool(fingerprint_kind(artifact), sketches)
