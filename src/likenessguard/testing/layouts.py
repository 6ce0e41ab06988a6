"""Real module layouts of the base families, so synthetic LoRAs look like real ones.

A scanner identifies a LoRA from its key names and shapes, and a fingerprint
lines modules up across key schemes, so fixtures must use the names and shapes
that real trainers write. Each family is described once as a list of
:class:`Module` entries carrying every spelling of the module's name:

- ``native``: the name in the original model code (LDM ``input_blocks.4.1...``
  for SD, BFL ``double_blocks.0.img_attn.qkv`` for Flux, ``joint_blocks`` for
  SD3, ``blocks.0.self_attn.q`` for Wan, ``double_blocks.0.img_attn_qkv`` for
  HunyuanVideo, ``transformer_blocks.0.attn1.to_q`` for LTX-Video);
- ``diffusers``: the name in the diffusers model (``down_blocks.1.attentions.0...``),
  or ``None`` where the diffusers model splits or fuses the layer differently
  (the DiT families have a separate diffusers layout, see :func:`modules_for`).

Sources: diffusers' ``UNet2DConditionModel`` / ``FluxTransformer2DModel`` /
``SD3Transformer2DModel`` / ``WanTransformer3DModel`` /
``HunyuanVideoTransformer3DModel`` / ``LTXVideoTransformer3DModel`` configs,
kohya-ss sd-scripts ``networks/lora.py`` (which modules it targets and how it
names them), kohya-ss musubi-tuner and ComfyUI ``comfy/lora.py`` (key prefixes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

FAMILIES: tuple[str, ...] = (
    "sd1",
    "sd2",
    "sdxl",
    "sd3",
    "flux1",
    "wan",
    "hunyuan_video",
    "ltx_video",
)
SD_FAMILIES: tuple[str, ...] = ("sd1", "sd2", "sdxl")


@dataclass(frozen=True, slots=True)
class Module:
    """One trainable layer: its names and its (in, out[, kernel]) shape.

    ``part`` is ``unet`` (the denoiser, also for DiT transformers), ``te``,
    ``te1`` or ``te2`` (text encoders). ``kernel`` is ``None`` for a Linear
    layer and ``(kh, kw)`` for a Conv2d.
    """

    native: str
    diffusers: str | None
    in_dim: int
    out_dim: int
    part: str = "unet"
    kernel: tuple[int, int] | None = None

    @property
    def is_conv(self) -> bool:
        return self.kernel is not None


# --- Stable Diffusion UNets -------------------------------------------------------

# (block channels, transformer blocks per attention) for each diffusers down block
# index; ``None`` means the block has no attention (CrossAttn vs plain DownBlock2D).
_SD_UNET: dict[str, dict[str, object]] = {
    "sd1": {
        "channels": (320, 640, 1280, 1280),
        "attn_depth": (1, 1, 1, 0),
        "mid_depth": 1,
        "context": 768,
        "linear_proj": False,
    },
    "sd2": {
        "channels": (320, 640, 1280, 1280),
        "attn_depth": (1, 1, 1, 0),
        "mid_depth": 1,
        "context": 1024,
        "linear_proj": True,
    },
    "sdxl": {
        "channels": (320, 640, 1280),
        "attn_depth": (0, 2, 10),
        "mid_depth": 10,
        "context": 2048,
        "linear_proj": True,
    },
}


def _transformer_modules(
    native_prefix: str, diff_prefix: str, dim: int, depth: int, *, context: int, linear_proj: bool
) -> Iterator[Module]:
    kernel = None if linear_proj else (1, 1)
    yield Module(f"{native_prefix}.proj_in", f"{diff_prefix}.proj_in", dim, dim, kernel=kernel)
    for b in range(depth):
        n = f"{native_prefix}.transformer_blocks.{b}"
        d = f"{diff_prefix}.transformer_blocks.{b}"
        for attn in ("attn1", "attn2"):
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                in_dim = context if attn == "attn2" and proj in ("to_k", "to_v") else dim
                yield Module(f"{n}.{attn}.{proj}", f"{d}.{attn}.{proj}", in_dim, dim)
        # GEGLU: proj doubles the hidden width (4*dim) to gate half of it.
        yield Module(f"{n}.ff.net.0.proj", f"{d}.ff.net.0.proj", dim, dim * 8)
        yield Module(f"{n}.ff.net.2", f"{d}.ff.net.2", dim * 4, dim)
    yield Module(f"{native_prefix}.proj_out", f"{diff_prefix}.proj_out", dim, dim, kernel=kernel)


def _sd_unet(family: str, convs: bool) -> list[Module]:
    cfg = _SD_UNET[family]
    channels: tuple[int, ...] = cfg["channels"]  # type: ignore[assignment]
    depth: tuple[int, ...] = cfg["attn_depth"]  # type: ignore[assignment]
    context: int = cfg["context"]  # type: ignore[assignment]
    linear: bool = cfg["linear_proj"]  # type: ignore[assignment]
    mid_depth: int = cfg["mid_depth"]  # type: ignore[assignment]
    out: list[Module] = []
    nblocks = len(channels)
    # Down path: LDM input_blocks.{3i+j+1} holds resnet j (.0) and attention j (.1)
    # of diffusers down_blocks.i; input_blocks.{3i+3}.0.op is the downsampler.
    prev = channels[0]
    for i, ch in enumerate(channels):
        for j in range(2):
            ldm = f"input_blocks.{3 * i + j + 1}"
            if convs:
                r = f"down_blocks.{i}.resnets.{j}"
                out.append(Module(f"{ldm}.0.in_layers.2", f"{r}.conv1", prev, ch, kernel=(3, 3)))
                out.append(Module(f"{ldm}.0.out_layers.3", f"{r}.conv2", ch, ch, kernel=(3, 3)))
                if prev != ch:
                    out.append(
                        Module(
                            f"{ldm}.0.skip_connection",
                            f"{r}.conv_shortcut",
                            prev,
                            ch,
                            kernel=(1, 1),
                        )
                    )
            prev = ch
            if depth[i]:
                out.extend(
                    _transformer_modules(
                        f"{ldm}.1",
                        f"down_blocks.{i}.attentions.{j}",
                        ch,
                        depth[i],
                        context=context,
                        linear_proj=linear,
                    )
                )
        if convs and i < nblocks - 1:
            out.append(
                Module(
                    f"input_blocks.{3 * i + 3}.0.op",
                    f"down_blocks.{i}.downsamplers.0.conv",
                    ch,
                    ch,
                    kernel=(3, 3),
                )
            )
    top = channels[-1]
    if convs:
        for k, ldm in ((0, "middle_block.0"), (1, "middle_block.2")):
            r = f"mid_block.resnets.{k}"
            out.append(Module(f"{ldm}.in_layers.2", f"{r}.conv1", top, top, kernel=(3, 3)))
            out.append(Module(f"{ldm}.out_layers.3", f"{r}.conv2", top, top, kernel=(3, 3)))
    out.extend(
        _transformer_modules(
            "middle_block.1",
            "mid_block.attentions.0",
            top,
            mid_depth,
            context=context,
            linear_proj=linear,
        )
    )
    # Up path: diffusers up_blocks.i mirrors down block (nblocks-1-i), three
    # attentions each; LDM output_blocks.{3i+j}.1.
    for i in range(nblocks):
        src = nblocks - 1 - i
        if not depth[src]:
            continue
        ch = channels[src]
        for j in range(3):
            out.extend(
                _transformer_modules(
                    f"output_blocks.{3 * i + j}.1",
                    f"up_blocks.{i}.attentions.{j}",
                    ch,
                    depth[src],
                    context=context,
                    linear_proj=linear,
                )
            )
    return out


def _clip_te(part: str, layers: int, width: int) -> list[Module]:
    out: list[Module] = []
    for n in range(layers):
        p = f"text_model.encoder.layers.{n}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            name = f"{p}.self_attn.{proj}"
            out.append(Module(name, name, width, width, part=part))
        out.append(Module(f"{p}.mlp.fc1", f"{p}.mlp.fc1", width, width * 4, part=part))
        out.append(Module(f"{p}.mlp.fc2", f"{p}.mlp.fc2", width * 4, width, part=part))
    return out


def _sd_te(family: str) -> list[Module]:
    if family == "sd1":
        return _clip_te("te", 12, 768)  # CLIP ViT-L/14
    if family == "sd2":
        return _clip_te("te", 23, 1024)  # OpenCLIP ViT-H/14, penultimate layer used
    return _clip_te("te1", 12, 768) + _clip_te("te2", 32, 1280)  # CLIP-L + OpenCLIP bigG


# --- DiT families -----------------------------------------------------------------


def _dual_stream(
    diffusers: bool, double: int, single: int, native: tuple[str, str, str, str, str, str]
) -> list[Module]:
    """Flux-style MMDiT: ``double`` two-stream blocks, then ``single`` one-stream blocks.

    Flux and HunyuanVideo share the layout (3072 wide, MLP x4, fused qkv and
    linear1 in their original checkpoints) and the diffusers spelling; only the
    block counts and the original names differ. ``native`` names the original
    layers: (qkv, proj, mlp in, mlp out, modulation, single-block modulation).
    """
    h, mlp = 3072, 12288
    qkv, proj, mlp_in, mlp_out, mod, single_mod = native
    out: list[Module] = []
    if not diffusers:
        for b in range(double):
            p = f"double_blocks.{b}"
            for s in ("img", "txt"):
                out += [
                    Module(f"{p}.{s}{qkv}", None, h, 3 * h),
                    Module(f"{p}.{s}{proj}", None, h, h),
                    Module(f"{p}.{s}{mlp_in}", None, h, mlp),
                    Module(f"{p}.{s}{mlp_out}", None, mlp, h),
                    Module(f"{p}.{s}{mod}", None, h, 6 * h),
                ]
        for b in range(single):
            p = f"single_blocks.{b}"
            out += [
                Module(f"{p}.linear1", None, h, 3 * h + mlp),
                Module(f"{p}.linear2", None, h + mlp, h),
                Module(f"{p}.{single_mod}", None, h, 3 * h),
            ]
        return out
    for b in range(double):
        p = f"transformer_blocks.{b}"
        names = [
            ("attn.to_q", h, h),
            ("attn.to_k", h, h),
            ("attn.to_v", h, h),
            ("attn.to_out.0", h, h),
            ("attn.add_q_proj", h, h),
            ("attn.add_k_proj", h, h),
            ("attn.add_v_proj", h, h),
            ("attn.to_add_out", h, h),
            ("ff.net.0.proj", h, mlp),
            ("ff.net.2", mlp, h),
            ("ff_context.net.0.proj", h, mlp),
            ("ff_context.net.2", mlp, h),
            ("norm1.linear", h, 6 * h),
            ("norm1_context.linear", h, 6 * h),
        ]
        out += [Module(f"{p}.{n}", f"{p}.{n}", i, o) for n, i, o in names]
    for b in range(single):
        p = f"single_transformer_blocks.{b}"
        names = [
            ("attn.to_q", h, h),
            ("attn.to_k", h, h),
            ("attn.to_v", h, h),
            ("proj_mlp", h, mlp),
            ("proj_out", h + mlp, h),
            ("norm.linear", h, 3 * h),
        ]
        out += [Module(f"{p}.{n}", f"{p}.{n}", i, o) for n, i, o in names]
    return out


def _flux(diffusers: bool) -> list[Module]:
    native = ("_attn.qkv", "_attn.proj", "_mlp.0", "_mlp.2", "_mod.lin", "modulation.lin")
    return _dual_stream(diffusers, 19, 38, native)


def _sd3(diffusers: bool) -> list[Module]:
    # SD3 Medium: 24 joint blocks of width 1536; the last context block is
    # "pre_only" (attention input only, no output projection or MLP).
    h, blocks = 1536, 24
    out: list[Module] = []
    for b in range(blocks):
        last = b == blocks - 1
        if not diffusers:
            for side in ("x_block", "context_block"):
                p = f"joint_blocks.{b}.{side}"
                pre_only = last and side == "context_block"
                out.append(Module(f"{p}.attn.qkv", None, h, 3 * h))
                if not pre_only:
                    out += [
                        Module(f"{p}.attn.proj", None, h, h),
                        Module(f"{p}.mlp.fc1", None, h, 4 * h),
                        Module(f"{p}.mlp.fc2", None, 4 * h, h),
                    ]
                out.append(Module(f"{p}.adaLN_modulation.1", None, h, (2 if pre_only else 6) * h))
            continue
        p = f"transformer_blocks.{b}"
        names = [
            ("attn.to_q", h, h),
            ("attn.to_k", h, h),
            ("attn.to_v", h, h),
            ("attn.to_out.0", h, h),
            ("attn.add_q_proj", h, h),
            ("attn.add_k_proj", h, h),
            ("attn.add_v_proj", h, h),
            ("ff.net.0.proj", h, 4 * h),
            ("ff.net.2", 4 * h, h),
            ("norm1.linear", h, 6 * h),
            ("norm1_context.linear", h, (2 if last else 6) * h),
        ]
        if not last:
            names += [
                ("attn.to_add_out", h, h),
                ("ff_context.net.0.proj", h, 4 * h),
                ("ff_context.net.2", 4 * h, h),
            ]
        out += [Module(f"{p}.{n}", f"{p}.{n}", i, o) for n, i, o in names]
    return out


WAN_VARIANTS: dict[str, tuple[int, int, int]] = {
    # variant: (blocks, width, ffn width) from the Wan2.1 configs
    "1.3b": (30, 1536, 8960),
    "14b": (40, 5120, 13824),
}


def _wan(diffusers: bool, variant: str) -> list[Module]:
    blocks, h, ffn = WAN_VARIANTS[variant]
    out: list[Module] = []
    for b in range(blocks):
        # Native and diffusers layouts are 1:1 here, so both names are known.
        pairs = [
            ("self_attn.q", "attn1.to_q", h, h),
            ("self_attn.k", "attn1.to_k", h, h),
            ("self_attn.v", "attn1.to_v", h, h),
            ("self_attn.o", "attn1.to_out.0", h, h),
            ("cross_attn.q", "attn2.to_q", h, h),
            ("cross_attn.k", "attn2.to_k", h, h),
            ("cross_attn.v", "attn2.to_v", h, h),
            ("cross_attn.o", "attn2.to_out.0", h, h),
            ("ffn.0", "ffn.net.0.proj", h, ffn),
            ("ffn.2", "ffn.net.2", ffn, h),
        ]
        for nat, dif, i, o in pairs:
            out.append(Module(f"blocks.{b}.{nat}", f"blocks.{b}.{dif}", i, o))
    if diffusers:
        # Present the diffusers spelling as the "native" one for this scheme.
        out = [Module(m.diffusers or m.native, m.diffusers, m.in_dim, m.out_dim) for m in out]
    return out


def _hunyuan(diffusers: bool) -> list[Module]:
    native = ("_attn_qkv", "_attn_proj", "_mlp.fc1", "_mlp.fc2", "_mod.linear", "modulation.linear")
    return _dual_stream(diffusers, 20, 40, native)


def _ltx() -> list[Module]:
    h = 2048
    out: list[Module] = []
    for b in range(28):
        p = f"transformer_blocks.{b}"
        for attn in ("attn1", "attn2"):
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                out.append(Module(f"{p}.{attn}.{proj}", f"{p}.{attn}.{proj}", h, h))
        out.append(Module(f"{p}.ff.net.0.proj", f"{p}.ff.net.0.proj", h, 4 * h))
        out.append(Module(f"{p}.ff.net.2", f"{p}.ff.net.2", 4 * h, h))
    return out


def modules_for(
    family: str,
    *,
    diffusers: bool = False,
    te: bool = True,
    convs: bool = False,
    variant: str | None = None,
) -> list[Module]:
    """The trainable modules of ``family`` in the order trainers write them.

    Args:
        family: one of :data:`FAMILIES`.
        diffusers: for DiT families, return the diffusers layout (split q/k/v)
            instead of the original one (fused qkv); SD families have both names
            on every module and ignore this.
        te: include text-encoder modules (SD families only: DiT LoRAs are
            almost always trained on the transformer alone).
        convs: include the ResNet conv layers LoCon trains (SD families only).
        variant: Wan size, ``"1.3b"`` (default) or ``"14b"``.
    """
    if family in SD_FAMILIES:
        mods = _sd_unet(family, convs)
        return mods + _sd_te(family) if te else mods
    if family == "flux1":
        return _flux(diffusers)
    if family == "sd3":
        return _sd3(diffusers)
    if family == "wan":
        return _wan(diffusers, (variant or "1.3b").lower())
    if family == "hunyuan_video":
        return _hunyuan(diffusers)
    if family == "ltx_video":
        return _ltx()
    raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
