"""Full-model fixtures: checkpoints, VAEs, ControlNets and textual-inversion embeddings.

Identification must tell a LoRA from a checkpoint and SD1 from SDXL by keys and
shapes alone, so these fixtures carry the real key sets of the released files
(CompVis/Stability LDM checkpoints, the LDM VAE, lllyasviel ControlNet, A1111
embeddings). Real checkpoints are gigabytes; with ``small=True`` every key is
kept but the widths are divided by :data:`SMALL_FACTOR`, except the shapes that
identify the family (see :func:`ldm_checkpoint_tensors`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from likenessguard.testing.factory import FloatArray, write_safetensors
from likenessguard.testing.layouts import FAMILIES, SD_FAMILIES, modules_for
from likenessguard.testing.torch_pickle import make_pickle_checkpoint

SMALL_FACTOR = 32
"""Width divisor of small SD checkpoints: 320 channels become 10, CLIP-L's 768 become 24."""
SMALL_FACTOR_DIT = 64
"""Width divisor of small DiT checkpoints (their blocks are wider): Flux's 3072 become 48."""

Shape = tuple[int, ...]

_UNET: dict[str, dict[str, Any]] = {
    "sd1": {
        "ch": (320, 640, 1280, 1280),
        "depth": (1, 1, 1, 0),
        "mid": 1,
        "ctx": 768,
        "linear": False,
    },
    "sd2": {
        "ch": (320, 640, 1280, 1280),
        "depth": (1, 1, 1, 0),
        "mid": 1,
        "ctx": 1024,
        "linear": True,
    },
    "sdxl": {"ch": (320, 640, 1280), "depth": (0, 2, 10), "mid": 10, "ctx": 2048, "linear": True},
}


class _Shapes:
    """Collects (key, shape) pairs with widths scaled for small fixtures."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.items: list[tuple[str, Shape]] = []

    def w(self, n: int) -> int:
        """A width, scaled (never below 1)."""
        return max(1, n // self.scale)

    def add(self, key: str, *shape: int) -> None:
        self.items.append((key, tuple(shape)))

    def norm(self, key: str, c: int) -> None:
        self.add(f"{key}.weight", c)
        self.add(f"{key}.bias", c)

    def linear(self, key: str, i: int, o: int, bias: bool = True) -> None:
        self.add(f"{key}.weight", o, i)
        if bias:
            self.add(f"{key}.bias", o)

    def conv(self, key: str, i: int, o: int, k: int) -> None:
        self.add(f"{key}.weight", o, i, k, k)
        self.add(f"{key}.bias", o)


def _resblock(s: _Shapes, p: str, i: int, o: int, emb: int) -> None:
    s.norm(f"{p}.in_layers.0", i)
    s.conv(f"{p}.in_layers.2", i, o, 3)
    s.linear(f"{p}.emb_layers.1", emb, o)
    s.norm(f"{p}.out_layers.0", o)
    s.conv(f"{p}.out_layers.3", o, o, 3)
    if i != o:
        s.conv(f"{p}.skip_connection", i, o, 1)


def _spatial_transformer(s: _Shapes, p: str, d: int, depth: int, *, ctx: int, linear: bool) -> None:
    s.norm(f"{p}.norm", d)
    if linear:
        s.linear(f"{p}.proj_in", d, d)
    else:
        s.conv(f"{p}.proj_in", d, d, 1)
    for b in range(depth):
        t = f"{p}.transformer_blocks.{b}"
        for attn in ("attn1", "attn2"):
            kv_in = ctx if attn == "attn2" else d
            s.linear(f"{t}.{attn}.to_q", d, d, bias=False)
            s.linear(f"{t}.{attn}.to_k", kv_in, d, bias=False)
            s.linear(f"{t}.{attn}.to_v", kv_in, d, bias=False)
            s.linear(f"{t}.{attn}.to_out.0", d, d)
        s.linear(f"{t}.ff.net.0.proj", d, d * 8)
        s.linear(f"{t}.ff.net.2", d * 4, d)
        for n in ("norm1", "norm2", "norm3"):
            s.norm(f"{t}.{n}", d)
    if linear:
        s.linear(f"{p}.proj_out", d, d)
    else:
        s.conv(f"{p}.proj_out", d, d, 1)


def _unet(s: _Shapes, prefix: str, family: str, *, encoder_only: bool = False) -> list[int]:
    """LDM UNet keys under ``prefix``; returns the channel count after each input block."""
    cfg = _UNET[family]
    chans = [s.w(c) for c in cfg["ch"]]
    ctx: int = cfg["ctx"]  # the context width identifies the family: never scaled
    base, emb = chans[0], s.w(1280)
    s.linear(f"{prefix}time_embed.0", base, emb)
    s.linear(f"{prefix}time_embed.2", emb, emb)
    if family == "sdxl":
        # Pooled text embedding + size/crop conditioning: 1280 + 6 * 256 = 2816.
        s.linear(f"{prefix}label_emb.0.0", 2816, emb)
        s.linear(f"{prefix}label_emb.0.2", emb, emb)
    s.conv(f"{prefix}input_blocks.0.0", 4, base, 3)
    skips = [base]
    prev = base
    n = len(chans)
    for i, ch in enumerate(chans):
        for j in range(2):
            p = f"{prefix}input_blocks.{3 * i + j + 1}"
            _resblock(s, f"{p}.0", prev, ch, emb)
            prev = ch
            if cfg["depth"][i]:
                _spatial_transformer(
                    s, f"{p}.1", ch, cfg["depth"][i], ctx=ctx, linear=cfg["linear"]
                )
            skips.append(ch)
        if i < n - 1:
            s.conv(f"{prefix}input_blocks.{3 * i + 3}.0.op", ch, ch, 3)
            skips.append(ch)
    top = chans[-1]
    _resblock(s, f"{prefix}middle_block.0", top, top, emb)
    _spatial_transformer(
        s, f"{prefix}middle_block.1", top, cfg["mid"], ctx=ctx, linear=cfg["linear"]
    )
    _resblock(s, f"{prefix}middle_block.2", top, top, emb)
    if encoder_only:
        return skips
    out_skips = list(skips)
    prev = top
    for i in range(n):
        src = n - 1 - i
        ch = chans[src]
        for j in range(3):
            k = 3 * i + j
            p = f"{prefix}output_blocks.{k}"
            skip = out_skips.pop()
            _resblock(s, f"{p}.0", prev + skip, ch, emb)
            prev = ch
            sub = 1
            if cfg["depth"][src]:
                _spatial_transformer(
                    s, f"{p}.1", ch, cfg["depth"][src], ctx=ctx, linear=cfg["linear"]
                )
                sub = 2
            if j == 2 and src > 0:
                s.conv(f"{p}.{sub}.conv", ch, ch, 3)
    s.norm(f"{prefix}out.0", base)
    s.conv(f"{prefix}out.2", base, 4, 3)
    return skips


def _vae(s: _Shapes, prefix: str, latent: int = 4, quant: bool = True) -> None:
    """LDM AutoencoderKL keys (``encoder.down.N.block.M...``) as in the released VAEs."""
    mult = [s.w(c) for c in (128, 128, 256, 512)]
    top = mult[-1]

    def block(p: str, i: int, o: int) -> None:
        s.norm(f"{p}.norm1", i)
        s.conv(f"{p}.conv1", i, o, 3)
        s.norm(f"{p}.norm2", o)
        s.conv(f"{p}.conv2", o, o, 3)
        if i != o:
            s.conv(f"{p}.nin_shortcut", i, o, 1)

    def mid(p: str) -> None:
        block(f"{p}.mid.block_1", top, top)
        s.norm(f"{p}.mid.attn_1.norm", top)
        for n in ("q", "k", "v", "proj_out"):
            s.conv(f"{p}.mid.attn_1.{n}", top, top, 1)
        block(f"{p}.mid.block_2", top, top)

    enc = f"{prefix}encoder"
    s.conv(f"{enc}.conv_in", 3, mult[0], 3)
    prev = mult[0]
    for i, ch in enumerate(mult):
        for j in range(2):
            block(f"{enc}.down.{i}.block.{j}", prev, ch)
            prev = ch
        if i < len(mult) - 1:
            s.conv(f"{enc}.down.{i}.downsample.conv", ch, ch, 3)
    mid(enc)
    s.norm(f"{enc}.norm_out", top)
    s.conv(f"{enc}.conv_out", top, 2 * latent, 3)
    dec = f"{prefix}decoder"
    s.conv(f"{dec}.conv_in", latent, top, 3)
    mid(dec)
    prev = top
    for i in reversed(range(len(mult))):
        ch = mult[i]
        for j in range(3):
            block(f"{dec}.up.{i}.block.{j}", prev, ch)
            prev = ch
        if i > 0:
            s.conv(f"{dec}.up.{i}.upsample.conv", ch, ch, 3)
    s.norm(f"{dec}.norm_out", mult[0])
    s.conv(f"{dec}.conv_out", mult[0], 3, 3)
    if quant:
        s.conv(f"{prefix}quant_conv", 2 * latent, 2 * latent, 1)
        s.conv(f"{prefix}post_quant_conv", latent, latent, 1)


def _hf_clip(s: _Shapes, prefix: str, layers: int, width: int) -> None:
    """Hugging Face CLIPTextModel keys (``text_model.encoder.layers.N...``)."""
    w = s.w(width)
    tm = f"{prefix}text_model"
    # An int64 buffer that transformers < 4.31 saved with the weights.
    s.add(f"{tm}.embeddings.position_ids", 1, 77)
    # Vocabulary and context length identify CLIP: never scaled.
    s.add(f"{tm}.embeddings.token_embedding.weight", 49408, w)
    s.add(f"{tm}.embeddings.position_embedding.weight", 77, w)
    for n in range(layers):
        p = f"{tm}.encoder.layers.{n}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            s.linear(f"{p}.self_attn.{proj}", w, w)
        s.norm(f"{p}.layer_norm1", w)
        s.linear(f"{p}.mlp.fc1", w, 4 * w)
        s.linear(f"{p}.mlp.fc2", 4 * w, w)
        s.norm(f"{p}.layer_norm2", w)
    s.norm(f"{tm}.final_layer_norm", w)


def _open_clip(s: _Shapes, prefix: str, layers: int, width: int) -> None:
    """OpenCLIP text tower keys (``transformer.resblocks.N.attn.in_proj_weight``)."""
    w = s.w(width)
    s.add(f"{prefix}token_embedding.weight", 49408, w)
    s.add(f"{prefix}positional_embedding", 77, w)
    for n in range(layers):
        p = f"{prefix}transformer.resblocks.{n}"
        s.norm(f"{p}.ln_1", w)
        s.add(f"{p}.attn.in_proj_weight", 3 * w, w)
        s.add(f"{p}.attn.in_proj_bias", 3 * w)
        s.linear(f"{p}.attn.out_proj", w, w)
        s.norm(f"{p}.ln_2", w)
        s.linear(f"{p}.mlp.c_fc", w, 4 * w)
        s.linear(f"{p}.mlp.c_proj", 4 * w, w)
    s.norm(f"{prefix}ln_final", w)
    s.add(f"{prefix}text_projection", w, w)


def _dit(s: _Shapes, prefix: str, family: str) -> None:
    """Transformer-only checkpoints of the DiT families, in their original naming."""
    for m in modules_for(family):
        s.linear(f"{prefix}{m.native}", s.w(m.in_dim), s.w(m.out_dim))
    if family == "flux1":
        s.linear(f"{prefix}img_in", 64, s.w(3072))  # 16 latent channels * 2x2 patches
        s.linear(f"{prefix}txt_in", 4096, s.w(3072))  # T5-XXL width
        s.linear(f"{prefix}vector_in.in_layer", 768, s.w(3072))  # CLIP-L pooled
        s.linear(f"{prefix}final_layer.linear", s.w(3072), 64)
    elif family == "sd3":
        s.conv(f"{prefix}x_embedder.proj", 16, s.w(1536), 2)
        s.linear(f"{prefix}context_embedder", 4096, s.w(1536))
    elif family == "wan":
        s.add(f"{prefix}patch_embedding.weight", s.w(1536), 16, 1, 2, 2)
        s.linear(f"{prefix}text_embedding.0", 4096, s.w(1536))
    elif family == "hunyuan_video":
        s.add(f"{prefix}img_in.proj.weight", s.w(3072), 16, 1, 2, 2)
        s.linear(f"{prefix}txt_in.input_embedder", 4096, s.w(3072))
    elif family == "ltx_video":
        s.linear(f"{prefix}patchify_proj", 128, s.w(2048))
        s.linear(f"{prefix}caption_projection.linear_1", 4096, s.w(2048))


def checkpoint_shapes(family: str = "sd1", *, small: bool = True) -> list[tuple[str, Shape]]:
    """The (key, shape) list of a full checkpoint of ``family``.

    SD families: ``model.diffusion_model.`` (LDM UNet), ``first_stage_model.``
    (VAE) and the text encoders: ``cond_stage_model.transformer.`` (SD1, HF
    CLIP-L), ``cond_stage_model.model.`` (SD2, OpenCLIP-H),
    ``conditioner.embedders.0.transformer.`` + ``conditioner.embedders.1.model.``
    (SDXL, CLIP-L + OpenCLIP-bigG). DiT families: the transformer as released
    (``model.diffusion_model.`` for SD3, bare keys for Flux/Wan/Hunyuan/LTX).

    With ``small`` all widths are divided by :data:`SMALL_FACTOR` (SD) or
    :data:`SMALL_FACTOR_DIT` (DiT families) except the
    identifying ones: latent channels (4 or 16), RGB (3), the cross-attention
    context width (768/1024/2048), SDXL's 2816-wide ``label_emb`` input, the
    CLIP vocabulary (49408) and context length (77), and DiT input widths.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    factor = SMALL_FACTOR if family in SD_FAMILIES else SMALL_FACTOR_DIT
    s = _Shapes(factor if small else 1)
    if family in SD_FAMILIES:
        if family != "sdxl":
            # CompVis/Stability LDM checkpoints carry the DDPM noise schedule (1000 steps).
            for name in _SCHEDULE_BUFFERS:
                s.add(name, 1000)
        _unet(s, "model.diffusion_model.", family)
        _vae(s, "first_stage_model.")
        if family == "sd1":
            _hf_clip(s, "cond_stage_model.transformer.", 12, 768)
        elif family == "sd2":
            _open_clip(s, "cond_stage_model.model.", 24, 1024)
        else:
            _hf_clip(s, "conditioner.embedders.0.transformer.", 12, 768)
            _open_clip(s, "conditioner.embedders.1.model.", 32, 1280)
    else:
        _dit(s, "model.diffusion_model." if family == "sd3" else "", family)
    return s.items


_SCHEDULE_BUFFERS = (
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "betas",
    "log_one_minus_alphas_cumprod",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
    "posterior_variance",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
)


def _ddpm_schedule(steps: int) -> dict[str, FloatArray]:
    """The buffers LDM's ``register_schedule`` stores (scaled-linear betas, v_posterior 0)."""
    betas = np.linspace(0.00085**0.5, 0.012**0.5, steps, dtype=np.float64) ** 2
    alphas = 1.0 - betas
    ac = np.cumprod(alphas)
    ac_prev = np.append(1.0, ac[:-1])
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
    values = {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": np.sqrt(ac),
        "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - ac),
        "log_one_minus_alphas_cumprod": np.log(1.0 - ac),
        "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / ac),
        "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / ac - 1.0),
        "posterior_variance": post_var,
        "posterior_log_variance_clipped": np.log(np.maximum(post_var, 1e-20)),
        "posterior_mean_coef1": betas * np.sqrt(ac_prev) / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac),
    }
    return {k: v.astype(np.float32) for k, v in values.items()}


def _random(items: list[tuple[str, Shape]], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for key, shape in items:
        if key.endswith("position_ids"):
            out[key] = np.arange(shape[-1], dtype=np.int64).reshape(shape)
            continue
        if key in _SCHEDULE_BUFFERS:
            out[key] = _ddpm_schedule(shape[0])[key]
            continue
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        std = np.float32(1.0 / np.sqrt(max(fan_in, 1)))
        out[key] = rng.standard_normal(shape, dtype=np.float32) * std
    return out


def ldm_checkpoint_tensors(
    family: str = "sd1", *, seed: int = 0, small: bool = True
) -> dict[str, Any]:
    """Random weights for :func:`checkpoint_shapes`: float32, except int64 ``position_ids``;
    the SD1/SD2 noise-schedule buffers hold the real scaled-linear DDPM schedule."""
    return _random(checkpoint_shapes(family, small=small), seed)


def _write(
    path: str | Path,
    tensors: dict[str, Any],
    *,
    fmt: str,
    dtype: str,
    metadata: dict[str, str] | None = None,
    wrap_state_dict: bool = False,
) -> Path:
    if fmt == "safetensors":
        # Float weights take ``dtype``; integer buffers keep their type (the
        # mapping leaves them out), as a real export does.
        per_tensor = {k: dtype for k, v in tensors.items() if np.asarray(v).dtype.kind == "f"}
        return write_safetensors(path, tensors, metadata, per_tensor)
    if fmt == "pickle":
        obj: dict[str, Any] = {"state_dict": tensors} if wrap_state_dict else dict(tensors)
        return make_pickle_checkpoint(path, obj, dtype=dtype)
    raise ValueError(f"unknown format {fmt!r}; expected 'safetensors' or 'pickle'")


def make_checkpoint(
    path: str | Path,
    family: str = "sd1",
    *,
    dtype: str = "F16",
    seed: int = 0,
    small: bool = True,
    fmt: str = "safetensors",
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a full-model checkpoint of ``family`` (see :func:`checkpoint_shapes`).

    ``fmt="pickle"`` writes a torch zip pickle wrapping the weights in
    ``{"state_dict": ...}`` like the original ``.ckpt`` releases.
    """
    return _write(
        path,
        ldm_checkpoint_tensors(family, seed=seed, small=small),
        fmt=fmt,
        dtype=dtype,
        metadata=metadata,
        wrap_state_dict=True,
    )


def make_vae(
    path: str | Path,
    family: str = "sd1",
    *,
    dtype: str = "F16",
    seed: int = 0,
    small: bool = True,
    fmt: str = "safetensors",
) -> Path:
    """Write a standalone VAE with the LDM key names of the released VAE files.

    SD1/SD2/SDXL VAEs have 4 latent channels and ``quant_conv``; SD3 and Flux
    (``ae.safetensors``) have 16 and none.
    """
    s = _Shapes(SMALL_FACTOR if small else 1)
    if family in ("sd3", "flux1"):
        _vae(s, "", latent=16, quant=False)
    else:
        _vae(s, "")
    return _write(path, _random(s.items, seed), fmt=fmt, dtype=dtype)


def _controlnet_ldm(s: _Shapes, family: str) -> None:
    skips = _unet(s, "control_model.", family, encoder_only=True)
    hint = [16, 16, 32, 32, 96, 96, 256]
    prev = 3
    for i, ch in enumerate(hint):
        s.conv(f"control_model.input_hint_block.{2 * i}", prev, s.w(ch), 3)
        prev = s.w(ch)
    s.conv(f"control_model.input_hint_block.{2 * len(hint)}", prev, skips[0], 3)
    for i, ch in enumerate(skips):
        s.conv(f"control_model.zero_convs.{i}.0", ch, ch, 1)
    s.conv("control_model.middle_block_out.0", skips[-1], skips[-1], 1)


def _controlnet_diffusers(s: _Shapes, family: str) -> None:
    # The diffusers ControlNetModel: the UNet encoder in diffusers naming, plus
    # the conditioning embedding and the zero convs as controlnet_* layers.
    skips = _unet(s, "", family, encoder_only=True)
    renamed = [(_ldm_to_diffusers_encoder(k), shape) for k, shape in s.items]
    s.items = renamed
    hint = [16, 32, 96, 256]
    s.conv("controlnet_cond_embedding.conv_in", 3, s.w(hint[0]), 3)
    for i in range(len(hint) - 1):
        s.conv(f"controlnet_cond_embedding.blocks.{2 * i}", s.w(hint[i]), s.w(hint[i]), 3)
        s.conv(f"controlnet_cond_embedding.blocks.{2 * i + 1}", s.w(hint[i]), s.w(hint[i + 1]), 3)
    s.conv("controlnet_cond_embedding.conv_out", s.w(hint[-1]), skips[0], 3)
    for i, ch in enumerate(skips):
        s.conv(f"controlnet_down_blocks.{i}", ch, ch, 1)
    s.conv("controlnet_mid_block", skips[-1], skips[-1], 1)


def _ldm_to_diffusers_encoder(key: str) -> str:
    """Rename an LDM UNet-encoder key to diffusers naming (enough for ControlNet fixtures)."""
    parts = key.split(".")
    if parts[0] == "time_embed":
        return f"time_embedding.linear_{1 if parts[1] == '0' else 2}.{parts[-1]}"
    if parts[0] == "label_emb":
        return f"add_embedding.linear_{1 if parts[2] == '0' else 2}.{parts[-1]}"
    if parts[0] == "input_blocks":
        n = int(parts[1])
        if n == 0:
            return f"conv_in.{parts[-1]}"
        i, j = divmod(n - 1, 3)
        rest = ".".join(parts[3:])
        if j == 2:
            return f"down_blocks.{i}.downsamplers.0.conv.{parts[-1]}"
        if parts[2] == "0":
            return f"down_blocks.{i}.resnets.{j}.{_res(rest)}"
        return f"down_blocks.{i}.attentions.{j}.{rest}"
    if parts[0] == "middle_block":
        rest = ".".join(parts[2:])
        if parts[1] == "1":
            return f"mid_block.attentions.0.{rest}"
        return f"mid_block.resnets.{0 if parts[1] == '0' else 1}.{_res(rest)}"
    return key


def _res(rest: str) -> str:
    table = {
        "in_layers.0": "norm1",
        "in_layers.2": "conv1",
        "emb_layers.1": "time_emb_proj",
        "out_layers.0": "norm2",
        "out_layers.3": "conv2",
        "skip_connection": "conv_shortcut",
    }
    stem, _, leaf = rest.rpartition(".")
    return f"{table.get(stem, stem)}.{leaf}"


def make_controlnet(
    path: str | Path,
    family: str = "sd1",
    *,
    style: str = "ldm",
    dtype: str = "F16",
    seed: int = 0,
    small: bool = True,
    fmt: str = "safetensors",
) -> Path:
    """Write a ControlNet: ``style="ldm"`` (``control_model.`` keys, lllyasviel
    releases) or ``"diffusers"`` (``controlnet_cond_embedding``/``controlnet_down_blocks``)."""
    if family not in SD_FAMILIES:
        raise ValueError(f"ControlNet fixtures exist for {', '.join(SD_FAMILIES)}, not {family!r}")
    s = _Shapes(SMALL_FACTOR if small else 1)
    if style == "ldm":
        _controlnet_ldm(s, family)
    elif style == "diffusers":
        _controlnet_diffusers(s, family)
    else:
        raise ValueError(f"unknown ControlNet style {style!r}; expected 'ldm' or 'diffusers'")
    return _write(path, _random(s.items, seed), fmt=fmt, dtype=dtype)


_TI_WIDTHS = {"sd1": 768, "sd2": 1024}


def textual_inversion_tensors(
    family: str = "sd1", vectors: int = 4, *, seed: int = 0
) -> dict[str, FloatArray]:
    """Embedding vectors as A1111 saves them: ``emb_params`` (SD1 768 / SD2 1024 wide)
    or ``clip_l`` (768) + ``clip_g`` (1280) for SDXL."""
    rng = np.random.default_rng(seed)

    def vec(width: int) -> FloatArray:
        # CLIP token embeddings have a norm around 0.4; keep fixtures in that range.
        return rng.standard_normal((vectors, width), dtype=np.float32) * np.float32(0.015)

    if family == "sdxl":
        return {"clip_l": vec(768), "clip_g": vec(1280)}
    if family not in _TI_WIDTHS:
        raise ValueError(f"textual-inversion fixtures exist for sd1, sd2, sdxl, not {family!r}")
    return {"emb_params": vec(_TI_WIDTHS[family])}


def make_textual_inversion(
    path: str | Path,
    family: str = "sd1",
    vectors: int = 4,
    *,
    fmt: str = "safetensors",
    name: str | None = None,
    seed: int = 0,
    dtype: str = "F32",
) -> Path:
    """Write a textual-inversion embedding.

    ``fmt="safetensors"``: A1111's layout (see :func:`textual_inversion_tensors`).
    ``fmt="pt"``: the legacy A1111 pickle ``{"string_to_token": {"*": 265},
    "string_to_param": {"*": tensor}, "name", "step", "sd_checkpoint",
    "sd_checkpoint_name"}`` (SD1/SD2 only).
    """
    tensors = textual_inversion_tensors(family, vectors, seed=seed)
    if fmt == "safetensors":
        return write_safetensors(path, tensors, None, dtype)
    if fmt == "pt":
        if family == "sdxl":
            raise ValueError("SDXL embeddings exist only as safetensors")
        obj: dict[str, Any] = {
            "string_to_token": {"*": 265},
            "string_to_param": {"*": tensors["emb_params"]},
            "name": name or Path(path).stem,
            "step": 3000,
            "sd_checkpoint": "e1441589a6",
            "sd_checkpoint_name": "v1-5-pruned-emaonly",
        }
        return make_pickle_checkpoint(path, obj, dtype=dtype, zip_format=False)
    raise ValueError(f"unknown format {fmt!r}; expected 'safetensors' or 'pt'")


def iter_keys(family: str) -> Iterator[str]:
    """Key names of a full checkpoint of ``family`` (cheap: no arrays)."""
    for key, _ in checkpoint_shapes(family):
        yield key
