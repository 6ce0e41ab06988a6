"""Mutations that disguise a copy of a LoRA, as re-uploaders do, for the mutation benchmark.

When a hub bans a real-person model, copies reappear renamed, with metadata
stripped or replaced, cast to another dtype, converted to another key scheme
with alpha baked into the factors, with tensors reordered, resized to a lower
rank, or merged with another LoRA. Each helper here does one of those to a
safetensors file and writes the copy, so tests can prove that weight
fingerprints (and not hashes) find every one of them.

Every helper takes a source path and a destination path and returns the
destination. Example::

    src = make_lora(tmp / "a.safetensors", "sdxl", "kohya", modules=24)
    cast(src, tmp / "b.safetensors", "BF16")
    kohya_to_peft(src, tmp / "c.safetensors")
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from likenessguard.hashing.keys import (
    DIFFUSERS_PREFIX,
    KOHYA_PREFIX,
    component,
    dotted,
    fused_parts,
    split_key,
)
from likenessguard.testing.factory import encode_tensor, from_bf16_bits

FloatArray = npt.NDArray[np.float32]
_NP = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
_UNET_ROOTS = ("down_blocks", "up_blocks", "mid_block", "conv_in", "conv_out", "time_embedding")


def load(path: str | Path) -> tuple[dict[str, FloatArray], dict[str, str], dict[str, str]]:
    """Tensors (float32, in file order), metadata and each tensor's dtype."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors: dict[str, FloatArray] = {}
    dtypes: dict[str, str] = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        buf = raw[base + begin : base + end]
        if info["dtype"] == "BF16":
            arr = from_bf16_bits(np.frombuffer(buf, dtype="<u2"))
        else:
            arr = np.frombuffer(buf, dtype=_NP[info["dtype"]]).astype(np.float32)
        tensors[name] = arr.reshape(info["shape"]).astype(np.float32)
        dtypes[name] = info["dtype"]
    return tensors, dict(meta), dtypes


def save(
    path: str | Path,
    tensors: Mapping[str, npt.ArrayLike],
    metadata: Mapping[str, str] | None,
    dtype: str | Mapping[str, str],
) -> Path:
    """Write tensors in the given order (unlike the reference writer, which sorts them)."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        dt = dtype if isinstance(dtype, str) else dtype.get(name, "F32")
        arr = np.asarray(array)
        data = encode_tensor(arr, dt)
        header[name] = {
            "dtype": dt,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(chunks))
    return p


def _main_dtype(dtypes: Mapping[str, str]) -> str:
    values = list(dtypes.values())
    return max(set(values), key=values.count) if values else "F16"


def rename(src: str | Path, dst: str | Path) -> Path:
    """A byte-identical copy under another name ("LORA.safetensors", "Test model")."""
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return Path(dst)


def strip_metadata(src: str | Path, dst: str | Path) -> Path:
    tensors, _meta, dtypes = load(src)
    return save(dst, tensors, None, dtypes)


def replace_metadata(
    src: str | Path, dst: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    tensors, _meta, dtypes = load(src)
    meta = dict(metadata or {"ss_output_name": "Test model", "ss_network_module": "networks.lora"})
    return save(dst, tensors, meta, dtypes)


def cast(src: str | Path, dst: str | Path, dtype: str) -> Path:
    """Cast every float tensor to ``dtype`` (F16, F32, BF16)."""
    tensors, meta, _dtypes = load(src)
    return save(dst, tensors, meta, dtype)


def reorder(src: str | Path, dst: str | Path, seed: int = 0) -> Path:
    """Write the tensors in a shuffled order (changes every byte offset and the hash)."""
    tensors, meta, dtypes = load(src)
    names = list(tensors)
    order = np.random.default_rng(seed).permutation(len(names))
    return save(dst, {names[i]: tensors[names[i]] for i in order}, meta, dtypes)


def _modules(tensors: Mapping[str, FloatArray]) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    for name in tensors:
        module, role = split_key(name)
        groups.setdefault(module, {})[role] = name
    return groups


def _lora_factors(
    tensors: Mapping[str, FloatArray], roles: Mapping[str, str], default_scale: float = 1.0
) -> tuple[FloatArray, FloatArray, float] | None:
    if "up" not in roles or "down" not in roles or "mid" in roles:
        return None
    up, down = tensors[roles["up"]], tensors[roles["down"]]
    rank = down.shape[0]
    scale = (
        float(tensors[roles["alpha"]].reshape(-1)[0]) / rank if "alpha" in roles else default_scale
    )
    return up, down, scale


def kohya_to_peft(src: str | Path, dst: str | Path, family_root: str | None = None) -> Path:
    """Convert kohya/comfy keys to diffusers/PEFT ``lora_A``/``lora_B``, baking alpha/rank into B.

    The denoiser gets ``unet.`` for UNet module names and ``transformer.`` otherwise
    (``family_root`` overrides), with diffusers block names.
    """
    tensors, meta, dtypes = load(src)
    out: dict[str, FloatArray] = {}
    out_dtypes: dict[str, str] = {}
    for module, roles in _modules(tensors).items():
        factors = _lora_factors(tensors, roles)
        if factors is None:
            raise ValueError(f"{module} is not a plain LoRA module; PEFT cannot hold it")
        up, down, scale = factors
        comp = component(module)
        # Fused layers (Flux/SD3/Hunyuan qkv, linear1) split as diffusers' converter
        # does: lora_A shared, lora_B sliced by rows.
        parts = fused_parts(module, up.shape[0]) or [(module, 0, up.shape[0])]
        for name, start, stop in parts:
            path = dotted(name)
            root = DIFFUSERS_PREFIX[comp]
            if comp == "model":
                root = family_root or ("unet" if path.startswith(_UNET_ROOTS) else "transformer")
            stem = f"{root}.{path}"
            out[f"{stem}.lora_A.weight"] = down
            out[f"{stem}.lora_B.weight"] = (up[start:stop] * np.float32(scale)).astype(np.float32)
            out_dtypes[f"{stem}.lora_A.weight"] = dtypes[roles["down"]]
            out_dtypes[f"{stem}.lora_B.weight"] = dtypes[roles["up"]]
    meta = {k: v for k, v in meta.items() if not k.startswith("ss_")}
    return save(dst, out, meta or None, out_dtypes)


def peft_to_kohya(src: str | Path, dst: str | Path, alpha: float | None = None) -> Path:
    """Convert PEFT keys to kohya ``lora_down``/``lora_up``/``alpha``.

    ``alpha`` (default rank/2) is written per module and the up factor is
    divided by alpha/rank, so the effective update is unchanged.
    """
    tensors, meta, dtypes = load(src)
    out: dict[str, FloatArray] = {}
    out_dtypes: dict[str, str] = {}
    for module, roles in _modules(tensors).items():
        factors = _lora_factors(tensors, roles)
        if factors is None:
            raise ValueError(f"{module} is not a plain LoRA module")
        up, down, scale = factors
        rank = down.shape[0]
        a = float(alpha if alpha is not None else rank / 2)
        comp = component(module)
        stem = KOHYA_PREFIX[comp] + module[len(comp) :]
        out[f"{stem}.lora_down.weight"] = down
        out[f"{stem}.lora_up.weight"] = (up * np.float32(scale * rank / a)).astype(np.float32)
        out[f"{stem}.alpha"] = np.asarray(a, dtype=np.float32)
        out_dtypes[f"{stem}.lora_down.weight"] = dtypes[roles["down"]]
        out_dtypes[f"{stem}.lora_up.weight"] = dtypes[roles["up"]]
        out_dtypes[f"{stem}.alpha"] = "F32"
    return save(dst, out, meta or None, out_dtypes)


def convert_scheme(src: str | Path, dst: str | Path) -> Path:
    """kohya/comfy -> PEFT, or PEFT -> kohya, whichever the source is not."""
    tensors, _meta, _dtypes = load(src)
    if any(".lora_A." in n for n in tensors):
        return peft_to_kohya(src, dst)
    return kohya_to_peft(src, dst)


def _low_rank_svd(up: FloatArray, down: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """SVD of ``up @ down`` through QR of the factors (never forms the product)."""
    qu, ru = np.linalg.qr(up.astype(np.float64))
    qd, rd = np.linalg.qr(down.T.astype(np.float64))
    u, s, vt = np.linalg.svd(ru @ rd.T)
    return (qu @ u).astype(np.float32), s.astype(np.float32), (vt @ qd.T).astype(np.float32)


def svd_resize(src: str | Path, dst: str | Path, rank: int | None = None) -> Path:
    """Resize every LoRA module to ``rank`` (default: half) by truncated SVD of up·down.

    Like kohya's ``resize_lora.py``: the top singular directions are kept and
    alpha is set so the kept part of the update is unchanged.
    """
    tensors, meta, dtypes = load(src)
    out: dict[str, FloatArray] = {}
    out_dtypes: dict[str, str] = {}
    peft = any(".lora_A." in n for n in tensors)
    for module, roles in _modules(tensors).items():
        factors = _lora_factors(tensors, roles)
        if factors is None:
            for name in roles.values():
                out[name], out_dtypes[name] = tensors[name], dtypes[name]
            continue
        up, down, scale = factors
        old = down.shape[0]
        new = max(1, rank if rank is not None else old // 2)
        u, s, vt = _low_rank_svd(up.reshape(up.shape[0], -1), down.reshape(old, -1))
        root = np.sqrt(s[:new])
        new_up = (u[:, :new] * root).reshape((up.shape[0], new, *up.shape[2:]))
        new_down = (root[:, None] * vt[:new]).reshape((new, *down.shape[1:]))
        out[roles["down"]], out_dtypes[roles["down"]] = new_down, dtypes[roles["down"]]
        out[roles["up"]], out_dtypes[roles["up"]] = new_up, dtypes[roles["up"]]
        if "alpha" in roles:
            out[roles["alpha"]] = np.asarray(scale * new, dtype=np.float32)
            out_dtypes[roles["alpha"]] = dtypes[roles["alpha"]]
        elif not peft:
            raise ValueError(f"{module}: kohya module without alpha")
        for role in ("magnitude",):
            if role in roles:
                out[roles[role]], out_dtypes[roles[role]] = (
                    tensors[roles[role]],
                    dtypes[roles[role]],
                )
    return save(dst, out, meta or None, out_dtypes)


def merge(src: str | Path, other: str | Path, dst: str | Path, weight: float = 0.85) -> Path:
    """``weight``·src + (1-weight)·other, by concatenating ranks (kohya's concat merge).

    Both files must hold the same modules in the same key scheme. The result's
    update is exactly the weighted sum of the two updates.
    """
    a, meta, dtypes = load(src)
    b, _meta_b, _ = load(other)
    ga, gb = _modules(a), _modules(b)
    out: dict[str, FloatArray] = {}
    out_dtypes: dict[str, str] = {}
    for module, roles in ga.items():
        fa = _lora_factors(a, roles)
        fb = _lora_factors(b, gb[module]) if module in gb else None
        if fa is None or fb is None:
            raise ValueError(f"{module}: both files need a plain LoRA module to merge")
        up_a, down_a, sa = fa
        up_b, down_b, sb = fb
        up = np.concatenate(
            [up_a * np.float32(weight * sa), up_b * np.float32((1 - weight) * sb)], axis=1
        )
        down = np.concatenate([down_a, down_b], axis=0)
        out[roles["down"]], out_dtypes[roles["down"]] = down, dtypes[roles["down"]]
        out[roles["up"]], out_dtypes[roles["up"]] = up, dtypes[roles["up"]]
        if "alpha" in roles:  # scale 1: the weights already carry it
            out[roles["alpha"]] = np.asarray(down.shape[0], dtype=np.float32)
            out_dtypes[roles["alpha"]] = dtypes[roles["alpha"]]
    return save(dst, out, meta or None, out_dtypes)


#: Name -> mutation of one file (the benchmark's list; ``merge`` needs a second file).
MUTATIONS: dict[str, Callable[[Path, Path], Path]] = {
    "rename": rename,
    "strip_metadata": strip_metadata,
    "replace_metadata": replace_metadata,
    "cast_f32": lambda s, d: cast(s, d, "F32"),
    "cast_bf16": lambda s, d: cast(s, d, "BF16"),
    "cast_f16": lambda s, d: cast(s, d, "F16"),
    "convert_scheme": convert_scheme,
    "reorder": reorder,
    "svd_half": svd_resize,
}
