"""Fixtures in the other containers hubs serve: GGUF, diffusers/PEFT folders, zip archives.

Quantised DiT checkpoints circulate as GGUF (city96's ComfyUI-GGUF layout:
original tensor names, ``general.architecture`` = ``flux``/``wan``/...),
diffusers-trained LoRAs as folders, and Civitai downloads as zips; the readers
of each need the real layout.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from likenessguard.testing.factory import lora_tensors, write_safetensors
from likenessguard.testing.layouts import SD_FAMILIES
from likenessguard.testing.torch_pickle import zip_member

GGUF_ARCHITECTURES: dict[str, str] = {
    # ComfyUI-GGUF's names for the model families it converts.
    "flux1": "flux",
    "sd3": "sd3",
    "sdxl": "sdxl",
    "sd1": "sd1",
    "wan": "wan",
    "hunyuan_video": "hyvid",
    "ltx_video": "ltxv",
}


def make_gguf(
    path: str | Path,
    family: str = "flux1",
    *,
    tensors: int | None = 48,
    seed: int = 0,
    dtype: str = "F16",
    metadata: Mapping[str, str | int | float] | None = None,
    name: str | None = None,
) -> Path:
    """Write a GGUF checkpoint with the original tensor names of ``family``.

    Tensors are those of a small :func:`~likenessguard.testing.checkpoints.checkpoint_shapes`
    checkpoint (real names, scaled widths; GGUF stores shapes reversed, which
    the ``gguf`` writer handles). KV pairs: ``general.architecture`` (ComfyUI-GGUF
    names, :data:`GGUF_ARCHITECTURES`), ``general.name``,
    ``general.quantization_version``, ``general.file_type`` and ``metadata``.

    Args:
        tensors: keep this many tensors, spread over the network (a real Flux
            GGUF holds ~780; tests need few). ``None`` keeps all.
        dtype: ``F16``, ``F32``, or ``Q8_0`` (quantised with the ``gguf``
            package; as ComfyUI-GGUF does, 1-D tensors and those whose rows
            are not a multiple of the 32-value block stay F16).
    """
    import gguf  # imported here: only GGUF fixtures need it

    from likenessguard.testing.checkpoints import checkpoint_shapes

    if family not in GGUF_ARCHITECTURES:
        raise ValueError(f"no GGUF layout for {family!r}")
    shapes = checkpoint_shapes(family, small=True)
    if tensors is not None and tensors < len(shapes):
        picks = np.linspace(0, len(shapes) - 1, num=max(tensors, 1)).round().astype(int)
        shapes = [shapes[int(i)] for i in sorted(set(picks))]
    if dtype not in ("F16", "F32", "Q8_0"):
        raise ValueError(f"unsupported GGUF dtype {dtype!r}; expected F16, F32 or Q8_0")
    rng = np.random.default_rng(seed)
    np_dtype = np.float32 if dtype == "F32" else np.float16
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(p), GGUF_ARCHITECTURES[family])
    writer.add_name(name or p.stem)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    # llama.cpp file types: 0 = all F32, 1 = mostly F16, 7 = mostly Q8_0.
    writer.add_file_type({"F32": 0, "F16": 1, "Q8_0": 7}[dtype])
    for key, value in (metadata or {}).items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_int64(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        else:
            writer.add_string(key, str(value))
    for key, shape in shapes:
        w = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        q8 = gguf.GGMLQuantizationType.Q8_0
        if dtype == "Q8_0" and len(shape) > 1 and shape[-1] % gguf.GGML_QUANT_SIZES[q8][0] == 0:
            writer.add_tensor(key, gguf.quants.quantize(w, q8), raw_dtype=q8)
        else:
            writer.add_tensor(key, w.astype(np_dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return p


def make_diffusers_lora_folder(
    directory: str | Path,
    family: str = "sdxl",
    rank: int = 8,
    alpha: float = 8.0,
    *,
    peft: bool = True,
    seed: int = 0,
    modules: int | None = None,
    dtype: str = "F16",
    use_dora: bool = False,
    base_model: str | None = None,
) -> Path:
    """Write a LoRA folder as diffusers/PEFT training scripts save it.

    ``peft=True``: ``adapter_config.json`` (``r``, ``lora_alpha``,
    ``target_modules``, ``peft_type``...) + ``adapter_model.safetensors`` with
    PEFT keys ``base_model.model.<diffusers name>.lora_A.weight``.
    ``peft=False``: ``pytorch_lora_weights.safetensors`` with diffusers keys
    (``unet.``/``transformer.`` prefixes), as ``save_lora_weights`` writes.
    Alpha lives only in the config, never in the tensors. Returns the folder.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = lora_tensors(
        family,
        "diffusers_peft",
        kind="dora" if use_dora else "lora",
        rank=rank,
        alpha=alpha,
        seed=seed,
        modules=modules,
        te=False,
    )
    if not peft:
        write_safetensors(d / "pytorch_lora_weights.safetensors", tensors, None, dtype)
        return d
    prefix = "unet." if family in SD_FAMILIES else "transformer."
    renamed = {"base_model.model." + k.removeprefix(prefix): v for k, v in tensors.items()}
    targets = sorted(
        {
            k.removeprefix("base_model.model.").rsplit(".lora_", 1)[0].rsplit(".", 1)[-1]
            for k in renamed
            if ".lora_A." in k
        }
    )
    config: dict[str, Any] = {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base_model or _BASE_REPOS.get(family, ""),
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": "gaussian",
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": rank,
        "rank_pattern": {},
        "revision": None,
        "target_modules": targets,
        "task_type": None,
        "use_dora": use_dora,
        "use_rslora": False,
    }
    (d / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    write_safetensors(d / "adapter_model.safetensors", renamed, {"format": "pt"}, dtype)
    return d


_BASE_REPOS = {
    "sd1": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sd2": "stabilityai/stable-diffusion-2-1",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "sd3": "stabilityai/stable-diffusion-3-medium-diffusers",
    "flux1": "black-forest-labs/FLUX.1-dev",
    "wan": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
    "hunyuan_video": "hunyuanvideo-community/HunyuanVideo",
    "ltx_video": "Lightricks/LTX-Video",
}


def make_zip(
    path: str | Path,
    members: Mapping[str, bytes | str | Path],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write a zip archive: member name -> bytes, text, or a file to copy in.

    Members carry a fixed timestamp, so the archive is byte-identical on every run.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(p, "w", compression=compression) as zf:
        for name, content in members.items():
            if isinstance(content, Path):
                zf.writestr(zip_member(name, compression), content.read_bytes())
            else:
                zf.writestr(zip_member(name, compression), content)
    return p
