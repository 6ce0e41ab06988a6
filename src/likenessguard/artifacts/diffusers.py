"""Read diffusers/PEFT folders: a LoRA saved with ``save_pretrained`` or a whole pipeline.

On Hugging Face a LoRA is often a folder (``adapter_config.json`` +
``adapter_model.safetensors``, or diffusers' ``pytorch_lora_weights.safetensors``)
and a fine-tuned base model is a pipeline folder (``model_index.json`` with
``unet/`` or ``transformer/``). Each folder is one artifact: the weights file is
read with the safetensors (or pickle) reader, and the JSON configs add what the
weights cannot say (PEFT ``r`` / ``lora_alpha``; a pipeline's denoiser class).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from likenessguard.artifacts.base import (
    Artifact,
    BaseFamily,
    FileSource,
    Format,
    Identity,
    KeyScheme,
    Kind,
)
from likenessguard.artifacts.identify import identify

#: Config files larger than this are not configs.
MAX_CONFIG_BYTES = 1_000_000

ADAPTER_WEIGHTS: tuple[str, ...] = (
    "adapter_model.safetensors",
    "pytorch_lora_weights.safetensors",
    "adapter_model.bin",
    "pytorch_lora_weights.bin",
)
#: diffusers denoiser class -> family.
DENOISER_FAMILIES: dict[str, BaseFamily] = {
    "FluxTransformer2DModel": BaseFamily.FLUX1,
    "SD3Transformer2DModel": BaseFamily.SD3,
    "WanTransformer3DModel": BaseFamily.WAN,
    "HunyuanVideoTransformer3DModel": BaseFamily.HUNYUAN_VIDEO,
    "LTXVideoTransformer3DModel": BaseFamily.LTX_VIDEO,
}
_CROSS_ATTN = {768: BaseFamily.SD1, 1024: BaseFamily.SD2, 2048: BaseFamily.SDXL}


def is_diffusers_folder(path: Path) -> bool:
    """True for a PEFT/diffusers LoRA folder or a diffusers pipeline folder."""
    return (
        (path / "adapter_config.json").is_file()
        or (path / "model_index.json").is_file()
        or (path / "pytorch_lora_weights.safetensors").is_file()
    )


def load_config(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Read a small JSON config: ``(config, None)`` or ``(None, one-line error)``."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            return None, (
                f"{path.name} in {path.parent.name} is {size} bytes, too large for a config "
                f"(limit {MAX_CONFIG_BYTES}): it was ignored"
            )
        with open(path, "rb") as fh:
            data = json.loads(fh.read(MAX_CONFIG_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, (
            f"{path.name} in {path.parent.name} is unreadable ({reason.splitlines()[0][:120]}): "
            f"it was ignored"
        )
    if not isinstance(data, dict):
        return None, f"{path.name} in {path.parent.name} is not a JSON object: it was ignored"
    return data, None


def read_diffusers_folder(path: Path) -> Artifact:
    """Read one diffusers/PEFT folder as one artifact (never raises on bad input)."""
    if (path / "model_index.json").is_file():
        return _read_pipeline(path)
    return _read_adapter(path)


def _read_weights(path: Path) -> Artifact:
    # Imported here: open.py imports this module, and the readers import identify.
    from likenessguard.artifacts.pickle import read_pickle
    from likenessguard.artifacts.safetensors import read_safetensors

    try:
        with FileSource(path) as source:
            if path.suffix == ".safetensors":
                return read_safetensors(source, f"{path.parent.name}/{path.name}")
            return read_pickle(source, f"{path.parent.name}/{path.name}")
    except OSError as exc:
        return Artifact(
            path=str(path),
            size=0,
            format=Format.DIFFUSERS,
            errors=(
                f"cannot read {path.parent.name}/{path.name}: {exc.strerror or exc}: check its "
                f"permissions; it was skipped",
            ),
        )


def _read_adapter(path: Path) -> Artifact:
    config, problem = (None, None)
    if (path / "adapter_config.json").is_file():
        config, problem = load_config(path / "adapter_config.json")
    weights = next((path / n for n in ADAPTER_WEIGHTS if (path / n).is_file()), None)
    if weights is None:
        return Artifact(
            path=str(path),
            size=0,
            format=Format.DIFFUSERS,
            errors=(
                f"{path.name} has adapter_config.json but no adapter_model.safetensors or "
                f"pytorch_lora_weights.safetensors: the upload is incomplete; it was skipped",
            ),
        )
    inner = _read_weights(weights)
    warnings = list(inner.warnings) + ([problem] if problem else [])
    decoded = dict(inner.decoded)
    identity = inner.identity
    if config is not None:
        decoded["adapter_config"] = config
        identity, more = identify(
            inner.tensors, inner.decoded, adapter_config=config, alpha_values=()
        )
        warnings += [w for w in more if w not in warnings]
        identity = _peft_reasons(identity, config)
    return replace(
        inner,
        path=str(path),
        format=Format.DIFFUSERS,
        member=weights.name,
        identity=identity,
        decoded=decoded,
        warnings=tuple(warnings),
    )


def _peft_reasons(identity: Identity, config: dict[str, Any]) -> Identity:
    reasons = list(identity.reasons)
    r, alpha = config.get("r"), config.get("lora_alpha")
    if isinstance(r, int) and identity.rank is not None and r != identity.rank:
        reasons.append(f"adapter_config.json says r={r} but the weights have rank {identity.rank}")
    if isinstance(alpha, int | float) and not isinstance(alpha, bool):
        reasons.append(f"alpha {alpha} from adapter_config.json lora_alpha")
    if config.get("use_dora") is True and identity.kind is not Kind.DORA:
        reasons.append("adapter_config.json sets use_dora but no magnitude vectors were found")
    return replace(identity, reasons=tuple(reasons))


def _read_pipeline(path: Path) -> Artifact:
    index, problem = load_config(path / "model_index.json")
    warnings = [problem] if problem else []
    reasons: list[str] = []
    family = BaseFamily.UNKNOWN
    decoded: dict[str, Any] = {"model_index": index} if index else {}
    for part in ("transformer", "unet"):
        cfg_path = path / part / "config.json"
        if not cfg_path.is_file():
            continue
        cfg, trouble = load_config(cfg_path)
        if trouble:
            warnings.append(trouble)
        if cfg is None:
            continue
        decoded[f"{part}_config"] = cfg
        cls = str(cfg.get("_class_name", ""))
        if cls in DENOISER_FAMILIES:
            family = DENOISER_FAMILIES[cls]
            reasons.append(f"{part}/config.json _class_name {cls}: {family.value}")
        cross = cfg.get("cross_attention_dim")
        if family is BaseFamily.UNKNOWN and isinstance(cross, int) and cross in _CROSS_ATTN:
            family = _CROSS_ATTN[cross]
            reasons.append(f"unet cross_attention_dim {cross}: {family.value}")
        break
    # The denoiser's weights header gives the tensor table (and a shape-based
    # check of the config); sharded weights are left to their index file.
    tensors_from: Artifact | None = None
    for part in ("transformer", "unet"):
        for fname in ("diffusion_pytorch_model.safetensors",):
            weights = path / part / fname
            if weights.is_file():
                tensors_from = _read_weights(weights)
                break
        if tensors_from is not None:
            break
    size = 0
    tensors: tuple[Any, ...] = ()
    data_offset = None
    errors: tuple[str, ...] = ()
    member = None
    if tensors_from is not None:
        tensors = tensors_from.tensors
        size = tensors_from.size
        data_offset = tensors_from.data_offset
        errors = tensors_from.errors
        member = os.path.relpath(tensors_from.path, path) if tensors_from.path else None
        shaped = tensors_from.identity.base_family
        if (
            shaped is not BaseFamily.UNKNOWN
            and family is not BaseFamily.UNKNOWN
            and (shaped is not family)
        ):
            warnings.append(
                f"pipeline config says {family.value} but the denoiser weights are "
                f"{shaped.value}-shaped; trusting the weights"
            )
            family = shaped
        elif family is BaseFamily.UNKNOWN:
            family = shaped
        reasons.extend(tensors_from.identity.reasons)
    if not reasons:
        reasons.append("model_index.json without a recognisable unet/transformer config")
    reasons.insert(0, "model_index.json: a full diffusers pipeline (checkpoint)")
    identity = Identity(
        kind=Kind.CHECKPOINT,
        base_family=family,
        key_scheme=KeyScheme.DIFFUSERS_PEFT,
        modules=len({t.name.rpartition(".")[0] for t in tensors}),
        dtype=tensors_from.identity.dtype if tensors_from is not None else None,
        reasons=tuple(reasons),
    )
    return Artifact(
        path=str(path),
        size=size,
        format=Format.DIFFUSERS,
        identity=identity,
        tensors=tensors,
        decoded=decoded,
        data_offset=data_offset,
        member=member,
        warnings=tuple(warnings),
        errors=errors,
    )
