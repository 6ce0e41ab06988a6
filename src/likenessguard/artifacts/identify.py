"""Identify what a set of weights is from tensor names and shapes alone.

Why never the file name: uploaders rename files to dodge moderation
("landscape_v2.safetensors" that is really a person LoRA), so the names and
shapes of the tensors are the only honest evidence. Metadata written by the
trainer (kohya ``ss_base_model_version``, ``modelspec.architecture``) is
cross-checked against the weights; a disagreement is a warning, and the weights
win.

Every decision appends a human-readable reason to ``Identity.reasons`` so a
reviewer can see why a file was called an SDXL LoRA.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from likenessguard.artifacts.base import BaseFamily, Identity, KeyScheme, Kind, TensorInfo

# Last dotted component of an adapter key -> (algorithm, role).
_LEAF_ROLES: Mapping[str, tuple[str, str]] = {
    "alpha": ("", "alpha"),
    "hada_w1_a": ("loha", "w1a"),
    "hada_w1_b": ("loha", "w1b"),
    "hada_w2_a": ("loha", "w2a"),
    "hada_w2_b": ("loha", "w2b"),
    "hada_t1": ("loha", "t1"),
    "hada_t2": ("loha", "t2"),
    "lokr_w1": ("lokr", "w1"),
    "lokr_w1_a": ("lokr", "w1a"),
    "lokr_w1_b": ("lokr", "w1b"),
    "lokr_w2": ("lokr", "w2"),
    "lokr_w2_a": ("lokr", "w2a"),
    "lokr_w2_b": ("lokr", "w2b"),
    "lokr_t2": ("lokr", "t2"),
    "oft_blocks": ("oft", "blocks"),
    "oft_diag": ("oft", "blocks"),
    "dora_scale": ("dora", "scale"),
    "lora_magnitude_vector": ("dora", "scale"),
}

# Second-to-last component of ``<module>.<x>.weight`` adapter keys.
_WEIGHT_ROLES: Mapping[str, tuple[str, str]] = {
    "lora_down": ("lora", "down"),
    "lora_up": ("lora", "up"),
    "lora_mid": ("lora", "mid"),
    "lora_A": ("lora", "down"),
    "lora_B": ("lora", "up"),
    "lora_magnitude_vector": ("dora", "scale"),
}

_KOHYA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_te3_")
_LDM_PREFIXES = (
    "model.diffusion_model.",
    "first_stage_model.",
    "cond_stage_model.",
    "conditioner.embedders.",
    "text_encoders.",
    "control_model.",
)
_UNET_MARKERS = (
    "down_blocks_",
    "up_blocks_",
    "mid_block_",
    "input_blocks_",
    "output_blocks_",
    "middle_block_",
)

# Wan blocks are bare ``blocks.N.`` (no ``transformer_`` in front, unlike LTX or
# diffusers Flux), so they are matched on the dotted names, or on kohya-flattened
# names right after the ``lora_unet_`` prefix.
_WAN_DOTTED = re.compile(r"(?:^|\.)blocks\.(\d+)\.(self_attn|cross_attn|ffn|attn1|attn2)\.", re.M)
_WAN_FLAT = re.compile(r"(?:^|lora_unet_)blocks_(\d+)_(self_attn|cross_attn|ffn)_", re.M)
_BLOCK_INDEX = re.compile(r"(double_blocks|single_blocks|single_transformer_blocks)_(\d+)_")
_TI_NAMES = frozenset({"emb_params", "clip_l", "clip_g", "string_to_param.*", "*"})

_CROSS_ATTN_FAMILY = {768: BaseFamily.SD1, 1024: BaseFamily.SD2, 2048: BaseFamily.SDXL}
_CROSS_ATTN_LABEL = {768: "SD1", 1024: "SD2", 2048: "SDXL"}
_FAMILY_LABEL = {
    BaseFamily.SD1: "SD1",
    BaseFamily.SD2: "SD2",
    BaseFamily.SDXL: "SDXL",
    BaseFamily.SD3: "SD3",
    BaseFamily.FLUX1: "Flux.1",
    BaseFamily.WAN: "Wan",
    BaseFamily.HUNYUAN_VIDEO: "HunyuanVideo",
    BaseFamily.LTX_VIDEO: "LTX-Video",
}


def family_from_metadata(value: str) -> BaseFamily:
    """Map a trainer's base-model string to a family.

    Understands kohya ``ss_base_model_version`` (``sd_v1``, ``sdxl_base_v1-0``,
    ``flux1``...) and ``modelspec.architecture`` (``stable-diffusion-xl-v1-base/lora``).
    """
    v = value.strip().lower().split("/", 1)[0]
    if not v:
        return BaseFamily.UNKNOWN
    if "hunyuan" in v:
        return BaseFamily.HUNYUAN_VIDEO
    if "ltx" in v:
        return BaseFamily.LTX_VIDEO
    if v.startswith("wan") or "-wan" in v or "_wan" in v:
        return BaseFamily.WAN
    if "flux" in v:
        return BaseFamily.FLUX1
    if "xl" in v:
        return BaseFamily.SDXL
    if v.startswith("sd3") or "stable-diffusion-3" in v or "sd_3" in v:
        return BaseFamily.SD3
    if v.startswith(("sd_v2", "sd2", "stable-diffusion-v2")) or v.startswith("sd_2"):
        return BaseFamily.SD2
    if v.startswith(("sd_v1", "sd1", "stable-diffusion-v1")) or v.startswith("sd_1"):
        return BaseFamily.SD1
    return BaseFamily.UNKNOWN


def _split_adapter_key(key: str) -> tuple[str, str, str] | None:
    """``(module, algo, role)`` for an adapter tensor key, else None."""
    stem, _, leaf = key.rpartition(".")
    hit = _LEAF_ROLES.get(leaf)
    if hit is not None:
        return stem, hit[0], hit[1]
    if leaf not in ("weight", "bias"):
        return None
    module, _, comp = stem.rpartition(".")
    hit = _WEIGHT_ROLES.get(comp)
    if hit is not None:
        return module, hit[0], hit[1]
    # Old diffusers attention-processor keys: ``to_k_lora.down.weight`` and
    # ``to_k.lora.down.weight``.
    if comp in ("down", "up") and module.endswith((".lora", "_lora")):
        return module[:-5], "lora", comp
    return None


def _most_common(values: Iterable[Any]) -> Any:
    counts = Counter(values)
    if not counts:
        return None
    # Ties break toward the larger value (a LoRA with as many rank-8 as rank-16
    # modules is reported at its larger capacity), deterministically.
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def identify(
    tensors: Sequence[TensorInfo],
    decoded: Mapping[str, Any] | None = None,
    *,
    alpha_values: Sequence[float] = (),
    adapter_config: Mapping[str, Any] | None = None,
) -> tuple[Identity, list[str]]:
    """Decide kind, family, scheme, rank, alpha, module count and dtype.

    Args:
        tensors: the tensor table (names, dtypes, shapes).
        decoded: decoded metadata (kohya ``ss_*``, ``modelspec.*``), used only to
            cross-check and as a fallback for alpha.
        alpha_values: values of the ``.alpha`` tensors when the caller could read
            them (they are scalars; reading them is cheap).
        adapter_config: a PEFT ``adapter_config.json`` (``r``, ``lora_alpha``).

    Returns:
        ``(identity, warnings)``.
    """
    meta = decoded or {}
    layout = _layout(tuple([t.name for t in tensors]), tuple([t.shape for t in tensors]))
    reasons = list(layout.reasons)
    warnings: list[str] = []
    structure = layout.identity
    rank, alpha = structure.rank, structure.alpha
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) == 1:  # the usual case: no need to set the alpha scalars aside
        dtype = next(iter(dtypes))
    elif structure.kind is Kind.TEXTUAL_INVERSION:
        dtype = _most_common(t.dtype for t in tensors)
    else:
        dtype = _most_common([t.dtype for t in tensors if t.name[-6:] != ".alpha"])
    if layout.adapter:
        if layout.plain_lora_at is not None:
            claimed = _meta_algo(meta)
            if claimed:
                reasons.insert(
                    layout.plain_lora_at,
                    f"metadata says LyCORIS {claimed}, but no tensor needs LyCORIS: "
                    "the weights are a plain LoRA",
                )
        if rank is None and adapter_config is not None and isinstance(adapter_config.get("r"), int):
            rank = adapter_config["r"]
            reasons.append(f"rank {rank} from adapter_config.json r")
        alpha = _adapter_alpha(meta, alpha_values, adapter_config)
    family, more = _cross_check(structure.base_family, meta, reasons)
    warnings.extend(more)
    return (
        Identity(
            kind=structure.kind,
            base_family=family,
            key_scheme=structure.key_scheme,
            rank=rank,
            alpha=alpha,
            modules=structure.modules,
            dtype=dtype,
            reasons=tuple(reasons),
            algo=structure.algo,
        ),
        warnings,
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    """What tensor names and shapes alone decide (no dtype, metadata or alpha values).

    ``adapter``: alpha and the PEFT config apply. ``plain_lora_at``: where a
    metadata claim of LyCORIS goes among the reasons when the weights are a
    plain LoRA.
    """

    identity: Identity
    reasons: tuple[str, ...]
    adapter: bool
    plain_lora_at: int | None


# Files on a hub share their tensor layout (every SDXL kohya LoRA trained on the
# UNet and both text encoders at one rank has the same ~700 names and shapes),
# and grouping ~700 keys into modules is the costliest part of identifying a
# LoRA, so each distinct layout is worked out once per process. The key is the
# names and shapes in file order; a few dozen layouts cover a hub's common
# trainers and ranks, and an unusual file costs one miss.
@lru_cache(maxsize=64)
def _layout(names: tuple[str, ...], shapes: tuple[tuple[int, ...], ...]) -> _Layout:
    tensors = [TensorInfo(n, "", s, 0, 0) for n, s in zip(names, shapes, strict=True)]
    reasons: list[str] = []

    # --- textual inversion: a handful of embedding tensors, nothing else.
    if (
        names
        and len(names) <= 4
        and all(n in _TI_NAMES or n.startswith("string_to_param.") for n in names)
    ):
        return _Layout(_identify_embedding(tensors, reasons), tuple(reasons), False, None)

    # --- split adapter keys into modules and roles.
    modules: dict[str, dict[str, TensorInfo]] = {}
    algos: Counter[str] = Counter()
    plain: list[TensorInfo] = []
    for t in tensors:
        parts = _split_adapter_key(t.name)
        if parts is None:
            plain.append(t)
            continue
        module, algo, role = parts
        modules.setdefault(module, {})[role] = t
        if algo:
            algos[algo] += 1

    if bool(algos) and len(plain) <= len(tensors) // 2:
        identity, plain_lora_at = _identify_adapter(modules, algos, reasons)
        return _Layout(identity, tuple(reasons), True, plain_lora_at)
    return _Layout(_identify_full(tensors, reasons), tuple(reasons), False, None)


def _identify_embedding(tensors: Sequence[TensorInfo], reasons: list[str]) -> Identity:
    by_name = {t.name: t for t in tensors}
    family = BaseFamily.UNKNOWN
    if "clip_l" in by_name and "clip_g" in by_name:
        family = BaseFamily.SDXL
        reasons.append("clip_l + clip_g embedding tensors: SDXL textual inversion")
    else:
        t = next(iter(tensors))
        width = t.shape[-1] if t.shape else 0
        reasons.append(f"only embedding tensors ({', '.join(sorted(by_name))}): textual inversion")
        if width == 768:
            family = BaseFamily.SD1
            reasons.append("embedding width 768 (CLIP ViT-L): SD1")
        elif width == 1024:
            family = BaseFamily.SD2
            reasons.append("embedding width 1024 (OpenCLIP ViT-H): SD2")
        else:
            reasons.append(f"embedding width {width} matches no known text encoder")
    vectors = next(iter(tensors)).shape
    return Identity(
        kind=Kind.TEXTUAL_INVERSION,
        base_family=family,
        key_scheme=KeyScheme.UNKNOWN,
        rank=vectors[0] if len(vectors) == 2 else None,
        modules=len(tensors),
    )


def _identify_adapter(
    modules: Mapping[str, Mapping[str, TensorInfo]],
    algos: Counter[str],
    reasons: list[str],
) -> tuple[Identity, int | None]:
    """The adapter's structure, and where a metadata LyCORIS claim would go among the reasons."""
    adapted = {m: r for m, r in modules.items() if set(r) - {"alpha", "scale"}}
    count = len(adapted)

    # Kind and LyCORIS algorithm.
    algo: str | None = None
    kind = Kind.LORA
    plain_lora_at: int | None = None
    if algos["loha"]:
        kind, algo = Kind.LYCORIS, "loha"
        reasons.append("hada_w1_a/hada_w2_b factors: LyCORIS LoHa")
    elif algos["lokr"]:
        kind, algo = Kind.LYCORIS, "lokr"
        reasons.append("lokr_w1/lokr_w2 Kronecker factors: LyCORIS LoKr")
    elif algos["oft"]:
        kind, algo = Kind.LYCORIS, "oft"
        reasons.append("oft_blocks tensors: LyCORIS OFT")
    elif algos["dora"]:
        kind = Kind.DORA
        reasons.append("dora_scale / lora_magnitude_vector tensors: DoRA (weight-decomposed LoRA)")
    else:
        conv3 = sum(
            1
            for r in adapted.values()
            if (d := r.get("down")) is not None and len(d.shape) == 4 and d.shape[2:] != (1, 1)
        )
        if conv3 or any("mid" in r for r in adapted.values()):
            kind, algo = Kind.LYCORIS, "locon"
            reasons.append(f"{conv3} convolution layers adapted with 3x3 kernels: LyCORIS LoCon")
        else:
            reasons.append("lora_down/lora_up (or lora_A/lora_B) pairs: LoRA")
            plain_lora_at = len(reasons)

    # Key scheme.
    names = list(modules)
    kohya = sum(1 for m in names if m.startswith(_KOHYA_PREFIXES))
    comfy = sum(1 for m in names if m.startswith(("diffusion_model.", "lora_transformer_")))
    family = _family_from_modules(names, adapted, reasons)
    if algo in ("loha", "lokr", "oft"):
        scheme = KeyScheme.LYCORIS
        reasons.append(f"{algo} tensor names: lycoris key scheme")
    elif comfy:
        scheme = KeyScheme.COMFY
        reasons.append("diffusion_model.* keys: ComfyUI key scheme")
    elif kohya:
        scheme = KeyScheme.KOHYA
        reasons.append("lora_unet_/lora_te_ prefixes: kohya key scheme")
    else:
        scheme = KeyScheme.DIFFUSERS_PEFT
        reasons.append(
            "dotted diffusers module paths (lora_A/lora_B or .lora.down): diffusers/PEFT key scheme"
        )

    # Rank: most common inner dimension.
    ranks: list[int] = []
    for r in adapted.values():
        d = r.get("down")
        if d is not None and d.shape:
            ranks.append(d.shape[0])
            continue
        w = r.get("w1b") or r.get("w2b")
        if w is not None and w.shape:
            ranks.append(w.shape[0])
    return (
        Identity(
            kind=kind,
            base_family=family,
            key_scheme=scheme,
            rank=_most_common(ranks),
            modules=count,
            algo=algo,
        ),
        plain_lora_at,
    )


def _adapter_alpha(
    meta: Mapping[str, Any],
    alpha_values: Sequence[float],
    adapter_config: Mapping[str, Any] | None,
) -> float | None:
    """Alpha from the ``.alpha`` tensors, then kohya metadata, then the PEFT config."""
    if alpha_values:
        return float(_most_common(alpha_values))
    raw = meta.get("ss_network_alpha")
    try:
        alpha = float(raw) if raw not in (None, "", "None") else None
    except (TypeError, ValueError):
        alpha = None
    if alpha is None and adapter_config is not None:
        value = adapter_config.get("lora_alpha")
        if isinstance(value, int | float) and not isinstance(value, bool):
            alpha = float(value)
    return alpha


def _meta_algo(meta: Mapping[str, Any]) -> str | None:
    """The LyCORIS algorithm the trainer recorded, if any (evidence, not truth)."""
    module = meta.get("ss_network_module")
    if not (isinstance(module, str) and module.startswith("lycoris")):
        return None
    args = meta.get("ss_network_args")
    algo = args.get("algo") if isinstance(args, dict) else None
    return str(algo) if algo else "lycoris"


def _adapter_widths(
    pairs: Sequence[tuple[str, Mapping[str, TensorInfo]]], needle: str
) -> Counter[int]:
    """Input widths of adapted modules whose canonical name contains ``needle``."""
    widths: Counter[int] = Counter()
    for c, roles in pairs:
        if needle not in c:
            continue
        for role in ("down", "w1b"):
            t = roles.get(role)
            if t is not None and len(t.shape) >= 2:
                widths[t.shape[1]] += 1
                break
        else:
            # LoKr without a low-rank split: W = kron(w1, w2), so in = w1.in * w2.in.
            w1, w2 = roles.get("w1"), roles.get("w2") or roles.get("w2b")
            if w1 is not None and w2 is not None and len(w1.shape) == 2 and len(w2.shape) >= 2:
                widths[w1.shape[1] * w2.shape[1]] += 1
    return widths


def _family_from_modules(
    names: Sequence[str], adapted: Mapping[str, Mapping[str, TensorInfo]], reasons: list[str]
) -> BaseFamily:
    pairs = [(m.replace(".", "_"), r) for m, r in adapted.items()]
    return _family(names, lambda needle: _adapter_widths(pairs, needle), reasons)


def _family(
    names: Sequence[str],
    widths: Callable[[str], Counter[int]],
    reasons: list[str],
) -> BaseFamily:
    """The family decision shared by adapters and full checkpoints.

    ``names`` are module (or tensor) names as written; ``widths(needle)``
    returns a Counter of input widths of layers whose canonical (``.``→``_``)
    name contains ``needle``.
    """
    dotted = "\n".join(names)
    joined = dotted.replace(".", "_")

    def has(token: str) -> bool:
        return token in joined

    if has("te3_") or has("text_encoders_t5xxl"):
        reasons.append("a third text encoder (T5, te3) is adapted: SD3")
        return BaseFamily.SD3
    if has("joint_blocks_"):
        reasons.append("joint_blocks keys (MMDiT): SD3")
        return BaseFamily.SD3

    if has("double_blocks_") or has("single_blocks_"):
        top: dict[str, int] = {}
        for m in _BLOCK_INDEX.finditer(joined):
            top[m.group(1)] = max(top.get(m.group(1), -1), int(m.group(2)))
        hunyuan_marks = [
            mark
            for mark in (
                "img_mlp_fc",
                "img_mod_linear",
                "txt_mlp_fc",
                "individual_token_refiner",
                "img_attn_q_norm",
            )
            if has(mark)
        ]
        if hunyuan_marks:
            reasons.append(f"double_blocks with {hunyuan_marks[0]} layers: HunyuanVideo")
            return BaseFamily.HUNYUAN_VIDEO
        if top.get("double_blocks", -1) >= 19 or top.get("single_blocks", -1) >= 38:
            reasons.append(
                f"double_blocks up to {top.get('double_blocks', -1)} / single_blocks up to "
                f"{top.get('single_blocks', -1)} (Flux has 19/38): HunyuanVideo"
            )
            return BaseFamily.HUNYUAN_VIDEO
        w = widths("_blocks_")
        hidden = _top(w)
        reasons.append(
            "double_blocks/single_blocks keys"
            + (f" with hidden size {hidden}" if hidden else "")
            + ": Flux.1"
        )
        return BaseFamily.FLUX1
    if has("single_transformer_blocks_"):
        top_single = max(
            (
                int(m.group(2))
                for m in _BLOCK_INDEX.finditer(joined)
                if m.group(1) == "single_transformer_blocks"
            ),
            default=-1,
        )
        if has("token_refiner") or top_single >= 38:
            reasons.append(
                "single_transformer_blocks with a token refiner or 40 single blocks: HunyuanVideo"
            )
            return BaseFamily.HUNYUAN_VIDEO
        hidden = _top(widths("transformer_blocks_"))
        reasons.append(
            "single_transformer_blocks keys (diffusers Flux)"
            + (f" with hidden size {hidden}" if hidden else "")
            + ": Flux.1"
        )
        return BaseFamily.FLUX1

    wan = None
    if "blocks." in dotted:
        wan = _WAN_DOTTED.search(dotted)
    if wan is None and (
        "lora_unet_blocks_" in dotted or "\nblocks_" in dotted or dotted.startswith("blocks_")
    ):
        wan = _WAN_FLAT.search(dotted)
    if wan:
        hidden = _top(widths(f"_{wan.group(2)}_"))
        size = {1536: " (Wan 1.3B)", 5120: " (Wan 14B)", 3072: " (Wan 5B)"}.get(hidden or 0, "")
        reasons.append(
            f"blocks.N.{wan.group(2)} keys"
            + (f" with hidden size {hidden}{size}" if hidden else "")
            + ": Wan"
        )
        return BaseFamily.WAN

    unet = any(has(m) for m in _UNET_MARKERS)
    if not unet and has("transformer_blocks_"):
        if has("_attn2_") or has("_attn1_"):
            hidden = _top(widths("_attn1_"))
            reasons.append(
                "transformer_blocks with attn1/attn2 and no UNet blocks"
                + (f", hidden size {hidden}" if hidden else "")
                + ": LTX-Video"
            )
            return BaseFamily.LTX_VIDEO
        hidden = _top(widths("transformer_blocks_"))
        if hidden == 3072:
            reasons.append("MMDiT transformer_blocks with hidden size 3072: Flux.1")
            return BaseFamily.FLUX1
        if hidden:
            reasons.append(f"MMDiT transformer_blocks with hidden size {hidden}: SD3")
            return BaseFamily.SD3

    # UNet families: the cross-attention key projection reads the text embedding.
    # Old diffusers attention-processor LoRAs spell it ``attn2.processor.to_k_lora``.
    cross = widths("attn2_to_k") + widths("attn2_processor_to_k")
    k = _top(cross)
    if k in _CROSS_ATTN_FAMILY:
        reasons.append(f"cross-attention k in-dim {k}: {_CROSS_ATTN_LABEL[k]}")
        family = _CROSS_ATTN_FAMILY[k]
        if family is not BaseFamily.SDXL and (has("te2_") or has("text_encoder_2")):
            reasons.append("te2 keys present too: SDXL text encoders, conflicting with the UNet")
        return family
    if has("lora_te2_") or has("text_encoder_2_") or has("conditioner_embedders_1_"):
        reasons.append("te2 keys present (lora_te2_* / text_encoder_2): SDXL")
        return BaseFamily.SDXL
    if has("lora_te1_"):
        # kohya numbers text encoders only for dual-encoder models; SD3 (te3) was
        # ruled out above.
        reasons.append("te1 keys (lora_te1_*) of a dual text encoder: SDXL")
        return BaseFamily.SDXL
    if has("input_blocks_4_1_transformer_blocks_1_") or has(
        "input_blocks_7_1_transformer_blocks_9"
    ):
        reasons.append("10-deep transformer stacks in input_blocks: SDXL UNet")
        return BaseFamily.SDXL
    te = _top(widths("self_attn_q_proj"))
    if te == 768 and (has("lora_te_") or has("text_encoder_") or has("cond_stage_model")):
        reasons.append("text encoder width 768 (CLIP ViT-L) only: SD1")
        return BaseFamily.SD1
    if te == 1024:
        reasons.append("text encoder width 1024 (OpenCLIP ViT-H): SD2")
        return BaseFamily.SD2
    if unet:
        reasons.append("UNet keys but no cross-attention layer to measure: family unknown")
    else:
        reasons.append("no layer names or widths of a known family")
    return BaseFamily.UNKNOWN


def _top(counter: Counter[int]) -> int | None:
    return _most_common(counter.elements()) if counter else None


def _identify_full(tensors: Sequence[TensorInfo], reasons: list[str]) -> Identity:
    """Full models: checkpoints, VAEs, ControlNets."""
    names = [t.name for t in tensors]
    joined = "\n".join(names)
    ldm = sum(1 for n in names if n.startswith(_LDM_PREFIXES))
    modules = {n.rpartition(".")[0] for n in names if n.endswith((".weight", ".bias"))}
    shapes = {n.replace(".", "_"): t.shape for n, t in zip(names, tensors, strict=True)}

    def widths(needle: str) -> Counter[int]:
        out: Counter[int] = Counter()
        for c, shape in shapes.items():
            if needle in c and c.endswith("_weight") and len(shape) == 2:
                out[shape[1]] += 1
        return out

    controlnet = any(
        mark in joined
        for mark in (
            "control_model.",
            "input_hint_block",
            "controlnet_cond_embedding",
            "controlnet_down_blocks",
            "controlnet_blocks",
            "zero_convs",
        )
    )
    diffusion = any(
        mark in joined
        for mark in (
            "diffusion_model.",
            "input_blocks.",
            "down_blocks.",
            "double_blocks.",
            "joint_blocks.",
            "transformer_blocks.",
            "self_attn.",
            "single_blocks.",
        )
    )
    vae = (("encoder.down" in joined or "decoder.up" in joined) and "quant_conv" in joined) or (
        "decoder.conv_in" in joined and "encoder.conv_in" in joined
    )
    if controlnet:
        kind = Kind.CONTROLNET
        reasons.append("control_model / input_hint_block / controlnet_* keys: ControlNet")
    elif diffusion:
        kind = Kind.CHECKPOINT
        reasons.append("full diffusion-model weights (no adapter factors): checkpoint")
    elif vae:
        kind = Kind.VAE
        reasons.append("only autoencoder encoder/decoder keys: VAE")
    else:
        kind = Kind.UNKNOWN
        reasons.append("no adapter factors and no known model layout: kind unknown")

    if kind is Kind.VAE:
        family = BaseFamily.UNKNOWN
        conv = next((t for t in tensors if t.name.endswith("decoder.conv_in.weight")), None)
        if conv is not None and len(conv.shape) >= 2:
            latent = conv.shape[1]
            if len(conv.shape) == 5:
                family = BaseFamily.WAN
                reasons.append(f"3D (video) decoder with {latent} latent channels: Wan VAE")
            elif latent == 4:
                reasons.append("4 latent channels: an SD1/SD2/SDXL VAE (they share shapes)")
            elif latent == 16:
                reasons.append("16 latent channels: an SD3 or Flux.1 VAE (they share shapes)")
    elif kind is Kind.UNKNOWN:
        family = BaseFamily.UNKNOWN
    else:
        family = _family(names, widths, reasons)

    if ldm or kind is Kind.VAE:
        scheme = KeyScheme.LDM
        reasons.append("original-repository key names (model.diffusion_model.*, ...): ldm scheme")
    elif "down_blocks." in joined or "transformer_blocks." in joined:
        scheme = KeyScheme.DIFFUSERS_PEFT
        reasons.append("diffusers module paths: diffusers key scheme")
    elif kind is Kind.UNKNOWN:
        scheme = KeyScheme.UNKNOWN
    else:
        scheme = KeyScheme.LDM
        reasons.append("original-repository key names: ldm scheme")
    return Identity(kind=kind, base_family=family, key_scheme=scheme, modules=len(modules))


def _cross_check(
    family: BaseFamily, meta: Mapping[str, Any], reasons: list[str]
) -> tuple[BaseFamily, list[str]]:
    """Compare the weights' family with what the trainer wrote in metadata."""
    warnings: list[str] = []
    for key in ("ss_base_model_version", "modelspec.architecture"):
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        claimed = family_from_metadata(value)
        if claimed is BaseFamily.UNKNOWN:
            continue
        if family is BaseFamily.UNKNOWN:
            family = claimed
            reasons.append(
                f"no decisive weight shape; {key} says {value} (metadata only, unverified)"
            )
        elif claimed is not family:
            warnings.append(
                f"metadata says {value} but weights are {_FAMILY_LABEL[family]}-shaped "
                f"({key}); trusting the weights"
            )
        else:
            reasons.append(f"{key} {value} agrees")
    return family, warnings
