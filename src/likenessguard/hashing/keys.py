"""Canonical module names: one name per weight module whatever key scheme a file uses.

A copy of a banned LoRA is often converted to another key scheme (kohya
``lora_unet_…`` to diffusers/PEFT ``unet.….lora_A.weight``, or to ComfyUI's
``diffusion_model.…``) precisely because that defeats a hash. Fingerprints
compare weights module by module, so both spellings must land on the same name.

The canonical form is the module path with every ``.`` turned into ``_``
(kohya already joins with ``_``, so this is the one spelling every scheme can
reach without a vocabulary), with one prefix per component:

- ``model_``: the denoiser (``unet``, ``transformer``, ``diffusion_model``,
  ``lora_unet``, ``lora_transformer``), with SD/SDXL original (LDM/SGM) block
  names (``input_blocks_4_1``) rewritten to diffusers names (``down_blocks_1_attentions_0``);
- ``te1_`` / ``te2_`` / ``te3_``: the first, second and third text encoder.

:func:`dotted` goes back from a canonical name to a dotted diffusers path using
a vocabulary of the multi-word module names that diffusers, transformers, BFL
(Flux) and Wan use, for writers that need real dotted keys.

Example::

    >>> split_key("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight")
    ('model_down_blocks_0_attentions_0_proj_in', 'down')
    >>> split_key("unet.down_blocks.0.attentions.0.proj_in.lora_A.weight")
    ('model_down_blocks_0_attentions_0_proj_in', 'down')
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Tensor-name suffixes -> role. Longest suffixes first so ``.lora_A.default.weight``
#: wins over ``.weight``. Roles: ``down``/``up``/``mid`` (LoRA factors, ``mid`` is
#: LoCon's Tucker core), ``alpha``, ``hada_*`` (LoHa), ``lokr_*`` (LoKr),
#: ``diff`` (a full weight difference), ``magnitude`` (DoRA), ``weight``/``bias``
#: (plain weights of a checkpoint), ``embedding`` (textual inversion).
ROLE_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".lora_A.default.weight", "down"),
    (".lora_B.default.weight", "up"),
    (".lora_A.weight", "down"),
    (".lora_B.weight", "up"),
    (".lora_down.weight", "down"),
    (".lora_up.weight", "up"),
    (".lora_mid.weight", "mid"),
    (".lora.down.weight", "down"),
    (".lora.up.weight", "up"),
    (".lora_magnitude_vector", "magnitude"),
    (".lora_magnitude_vector.default.weight", "magnitude"),
    (".dora_scale", "magnitude"),
    (".hada_w1_a", "hada_w1_a"),
    (".hada_w1_b", "hada_w1_b"),
    (".hada_w2_a", "hada_w2_a"),
    (".hada_w2_b", "hada_w2_b"),
    (".hada_t1", "hada_t1"),
    (".hada_t2", "hada_t2"),
    (".lokr_w1_a", "lokr_w1_a"),
    (".lokr_w1_b", "lokr_w1_b"),
    (".lokr_w2_a", "lokr_w2_a"),
    (".lokr_w2_b", "lokr_w2_b"),
    (".lokr_w1", "lokr_w1"),
    (".lokr_w2", "lokr_w2"),
    (".lokr_t2", "lokr_t2"),
    (".alpha", "alpha"),
    (".diff_b", "diff_bias"),
    (".diff", "diff"),
    (".weight", "weight"),
    (".bias", "bias"),
)

# Prefixes in the order they must be tried (longest and most specific first).
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("base_model.model.unet.", "model_"),
    ("base_model.model.transformer.", "model_"),
    ("base_model.model.text_encoder_2.", "te2_"),
    ("base_model.model.text_encoder.", "te1_"),
    ("base_model.model.", "model_"),
    ("model.diffusion_model.", "model_"),
    ("diffusion_model.", "model_"),
    ("transformer.", "model_"),
    ("unet.", "model_"),
    ("text_encoder_3.", "te3_"),
    ("text_encoder_2.", "te2_"),
    ("text_encoder.", "te1_"),
    ("text_encoders.clip_l.transformer.", "te1_"),
    ("text_encoders.clip_g.transformer.", "te2_"),
    ("text_encoders.t5xxl.transformer.", "te3_"),
    ("conditioner.embedders.0.transformer.", "te1_"),
    ("conditioner.embedders.1.model.", "te2_"),
    ("cond_stage_model.transformer.", "te1_"),
    ("lora_unet_", "model_"),
    ("lora_transformer_", "model_"),
    ("lycoris_", "model_"),
    ("lora_te1_", "te1_"),
    ("lora_te2_", "te2_"),
    ("lora_te3_", "te3_"),
    ("lora_te_", "te1_"),
)

# Inside a ResNet block the original SD code and diffusers name the layers differently.
_RESNET_LAYERS: tuple[tuple[str, str], ...] = (
    ("in_layers_0", "norm1"),
    ("in_layers_2", "conv1"),
    ("out_layers_0", "norm2"),
    ("out_layers_3", "conv2"),
    ("emb_layers_1", "time_emb_proj"),
    ("skip_connection", "conv_shortcut"),
)

_TOP_LEVEL: tuple[tuple[str, str], ...] = (
    ("time_embed_0", "time_embedding_linear_1"),
    ("time_embed_2", "time_embedding_linear_2"),
    ("label_emb_0_0", "add_embedding_linear_1"),
    ("label_emb_0_2", "add_embedding_linear_2"),
    ("input_blocks_0_0", "conv_in"),
    ("out_0", "conv_norm_out"),
    ("out_2", "conv_out"),
)

_INPUT = re.compile(r"^input_blocks_(\d+)_(\d+)_(.+)$")
_OUTPUT = re.compile(r"^output_blocks_(\d+)_(\d+)_(.+)$")
_MIDDLE = re.compile(r"^middle_block_(\d+)_(.+)$")
# Wan's original code vs its diffusers port (1:1, only the names differ).
_WAN_ATTN = re.compile(r"^blocks_(\d+)_(self_attn|cross_attn)_(q|k|v|o)$")
_WAN_FFN = re.compile(r"^blocks_(\d+)_ffn_(0|2)$")
_WAN_PROJ = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out_0"}

#: Multi-word module names (as ``_``-joined token runs) that :func:`dotted` keeps whole.
VOCABULARY: frozenset[str] = frozenset(
    {
        # diffusers UNet
        "down_blocks",
        "up_blocks",
        "mid_block",
        "transformer_blocks",
        "proj_in",
        "proj_out",
        "to_q",
        "to_k",
        "to_v",
        "to_out",
        "time_emb_proj",
        "conv_shortcut",
        "conv_in",
        "conv_out",
        "conv_norm_out",
        "time_embedding",
        "linear_1",
        "linear_2",
        "add_embedding",
        "norm_out",
        "add_q_proj",
        "add_k_proj",
        "add_v_proj",
        "to_add_out",
        "norm_added_q",
        "norm_added_k",
        "proj_mlp",
        "single_transformer_blocks",
        "context_embedder",
        "x_embedder",
        "time_text_embed",
        "ff_context",
        "norm1_context",
        # transformers CLIP / T5
        "text_model",
        "self_attn",
        "q_proj",
        "k_proj",
        "v_proj",
        "out_proj",
        "layer_norm1",
        "layer_norm2",
        "final_layer_norm",
        "token_embedding",
        "position_embedding",
        "text_projection",
        "layer_norm",
        "relative_attention_bias",
        "wi_0",
        "wi_1",
        # BFL Flux
        "double_blocks",
        "single_blocks",
        "img_attn",
        "txt_attn",
        "img_mlp",
        "txt_mlp",
        "img_mod",
        "txt_mod",
        "img_in",
        "txt_in",
        "time_in",
        "vector_in",
        "guidance_in",
        "final_layer",
        "in_layer",
        "out_layer",
        "query_norm",
        "key_norm",
        "adaLN_modulation",
        # Wan / Hunyuan / LTX
        "cross_attn",
        "norm_q",
        "norm_k",
        "k_img",
        "v_img",
        "text_embedding",
        "time_projection",
        "patch_embedding",
        "double_stream",
        "single_stream",
        "linear1",
        "linear2",
    }
)
_MAX_WORDS = max(len(v.split("_")) for v in VOCABULARY)


def split_key(key: str) -> tuple[str, str]:
    """Split a tensor key into (canonical module name, role).

    Args:
        key: a tensor name as stored in the file, in any supported scheme.

    Returns:
        The canonical module name (see the module docstring) and the tensor's
        role (``down``, ``up``, ``alpha``, ``weight``, ``hada_w1_a``, ...). Keys
        with no known suffix get the role ``""`` and the whole key as module.
    """
    role = ""
    module = key
    for suffix, name in ROLE_SUFFIXES:
        if key.endswith(suffix):
            module, role = key[: -len(suffix)], name
            break
    return canonical_module(module), role


@lru_cache(maxsize=65536)
def canonical_module(module: str) -> str:
    """The canonical name of a module path written in any supported scheme."""
    prefix = ""
    rest = module
    for raw, canon in _PREFIXES:
        if module.startswith(raw):
            prefix, rest = canon, module[len(raw) :]
            break
    rest = rest.replace(".", "_")
    if prefix in ("model_", ""):
        rest = _ldm_to_diffusers(rest)
    if prefix == "te1_" and rest.startswith("transformer_text_model"):
        rest = rest[len("transformer_") :]
    return (prefix or "model_") + rest


def _ldm_to_diffusers(name: str) -> str:
    """Rewrite original SD/SDXL UNet and Wan names (as kohya SDXL, ComfyUI and musubi use)
    to diffusers'."""
    for raw, canon in _TOP_LEVEL:
        if name == raw or name.startswith(raw + "_"):
            return canon + name[len(raw) :]
    m = _INPUT.match(name)
    if m:
        n, sub, tail = int(m[1]), int(m[2]), m[3]
        block, layer = (n - 1) // 3, (n - 1) % 3
        if layer == 2:  # the third slot of each level is the downsampler
            return f"down_blocks_{block}_downsamplers_0_conv" + tail.removeprefix("op")
        if sub == 0:
            return f"down_blocks_{block}_resnets_{layer}_" + _resnet(tail)
        return f"down_blocks_{block}_attentions_{layer}_{tail}"
    m = _OUTPUT.match(name)
    if m:
        n, sub, tail = int(m[1]), int(m[2]), m[3]
        block, layer = n // 3, n % 3
        if sub == 0:
            return f"up_blocks_{block}_resnets_{layer}_" + _resnet(tail)
        if tail.startswith("conv"):  # an upsampler sits at .1 or .2 of the last slot
            return f"up_blocks_{block}_upsamplers_0_{tail}"
        return f"up_blocks_{block}_attentions_{layer}_{tail}"
    m = _MIDDLE.match(name)
    if m:
        n, tail = int(m[1]), m[2]
        if n == 1:
            return f"mid_block_attentions_0_{tail}"
        return f"mid_block_resnets_{n // 2}_" + _resnet(tail)
    m = _WAN_ATTN.match(name)
    if m:
        attn = "attn1" if m[2] == "self_attn" else "attn2"
        return f"blocks_{m[1]}_{attn}_{_WAN_PROJ[m[3]]}"
    m = _WAN_FFN.match(name)
    if m:
        return f"blocks_{m[1]}_ffn_net_0_proj" if m[2] == "0" else f"blocks_{m[1]}_ffn_net_2"
    if name.startswith(("double_blocks_", "single_blocks_", "joint_blocks_")):
        for pattern, repl in _DIT_RENAMES:
            if pattern.match(name):
                return pattern.sub(repl, name)
    return name


# BFL (Flux), HunyuanVideo and SD3 original names -> diffusers names, 1:1 layers.
_DIT_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(a), b)
    for a, b in (
        (r"^double_blocks_(\d+)_img_attn_proj$", r"transformer_blocks_\1_attn_to_out_0"),
        (r"^double_blocks_(\d+)_txt_attn_proj$", r"transformer_blocks_\1_attn_to_add_out"),
        (r"^double_blocks_(\d+)_img_mlp_(?:0|fc1)$", r"transformer_blocks_\1_ff_net_0_proj"),
        (r"^double_blocks_(\d+)_img_mlp_(?:2|fc2)$", r"transformer_blocks_\1_ff_net_2"),
        (
            r"^double_blocks_(\d+)_txt_mlp_(?:0|fc1)$",
            r"transformer_blocks_\1_ff_context_net_0_proj",
        ),
        (r"^double_blocks_(\d+)_txt_mlp_(?:2|fc2)$", r"transformer_blocks_\1_ff_context_net_2"),
        (r"^double_blocks_(\d+)_img_mod_lin(?:ear)?$", r"transformer_blocks_\1_norm1_linear"),
        (
            r"^double_blocks_(\d+)_txt_mod_lin(?:ear)?$",
            r"transformer_blocks_\1_norm1_context_linear",
        ),
        (r"^single_blocks_(\d+)_linear2$", r"single_transformer_blocks_\1_proj_out"),
        (
            r"^single_blocks_(\d+)_modulation_lin(?:ear)?$",
            r"single_transformer_blocks_\1_norm_linear",
        ),
        (r"^joint_blocks_(\d+)_x_block_attn_proj$", r"transformer_blocks_\1_attn_to_out_0"),
        (r"^joint_blocks_(\d+)_context_block_attn_proj$", r"transformer_blocks_\1_attn_to_add_out"),
        (r"^joint_blocks_(\d+)_x_block_mlp_fc1$", r"transformer_blocks_\1_ff_net_0_proj"),
        (r"^joint_blocks_(\d+)_x_block_mlp_fc2$", r"transformer_blocks_\1_ff_net_2"),
        (
            r"^joint_blocks_(\d+)_context_block_mlp_fc1$",
            r"transformer_blocks_\1_ff_context_net_0_proj",
        ),
        (r"^joint_blocks_(\d+)_context_block_mlp_fc2$", r"transformer_blocks_\1_ff_context_net_2"),
        (r"^joint_blocks_(\d+)_x_block_adaLN_modulation_1$", r"transformer_blocks_\1_norm1_linear"),
        (
            r"^joint_blocks_(\d+)_context_block_adaLN_modulation_1$",
            r"transformer_blocks_\1_norm1_context_linear",
        ),
    )
)

# Fused layers of the original code that diffusers splits: (pattern, [(target, start, stop)])
# with row ranges as fractions of the fused output (q, k, v thirds; Flux/Hunyuan
# single blocks fuse q, k, v (h rows each) and the MLP input (4h rows): 7h in all).
_QKV = ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0))
_FUSED: tuple[tuple[re.Pattern[str], tuple[tuple[str, float, float], ...]], ...] = tuple(
    (re.compile(a), parts)
    for a, parts in (
        (
            r"^double_blocks_(\d+)_img_attn_qkv$",
            tuple(
                zip(("attn_to_q", "attn_to_k", "attn_to_v"), *zip(*_QKV, strict=True), strict=True)
            ),
        ),
        (
            r"^double_blocks_(\d+)_txt_attn_qkv$",
            tuple(
                zip(
                    ("attn_add_q_proj", "attn_add_k_proj", "attn_add_v_proj"),
                    *zip(*_QKV, strict=True),
                    strict=True,
                )
            ),
        ),
        (
            r"^joint_blocks_(\d+)_x_block_attn_qkv$",
            tuple(
                zip(("attn_to_q", "attn_to_k", "attn_to_v"), *zip(*_QKV, strict=True), strict=True)
            ),
        ),
        (
            r"^joint_blocks_(\d+)_context_block_attn_qkv$",
            tuple(
                zip(
                    ("attn_add_q_proj", "attn_add_k_proj", "attn_add_v_proj"),
                    *zip(*_QKV, strict=True),
                    strict=True,
                )
            ),
        ),
        (
            r"^single_blocks_(\d+)_linear1$",
            (
                ("attn_to_q", 0.0, 1 / 7),
                ("attn_to_k", 1 / 7, 2 / 7),
                ("attn_to_v", 2 / 7, 3 / 7),
                ("proj_mlp", 3 / 7, 1.0),
            ),
        ),
    )
)


def fused_parts(canonical: str, rows: int) -> list[tuple[str, int, int]] | None:
    """How a fused layer of the original code splits into diffusers layers.

    Returns:
        ``[(canonical name, first row, end row), ...]`` over the fused output's
        ``rows``, or None when ``canonical`` is not a fused layer. Lets a Flux,
        SD3 or HunyuanVideo LoRA in original names line up with a diffusers one.
    """
    rest = canonical.removeprefix("model_")
    for pattern, parts in _FUSED:
        m = pattern.match(rest)
        if m:
            block = (
                "single_transformer_blocks" if rest.startswith("single") else "transformer_blocks"
            )
            return [
                (f"model_{block}_{m[1]}_{name}", round(a * rows), round(b * rows))
                for name, a, b in parts
            ]
    return None


def _resnet(tail: str) -> str:
    for raw, canon in _RESNET_LAYERS:
        if tail == raw or tail.startswith(raw + "_"):
            return canon + tail[len(raw) :]
    return tail


@lru_cache(maxsize=65536)
def dotted(canonical: str) -> str:
    """A dotted diffusers-style path for a canonical name (without the component prefix).

    Runs of ``_``-separated words that form a known multi-word module name
    stay joined; every other ``_`` becomes ``.``.

    >>> dotted("model_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q")
    'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
    """
    words = canonical.split("_")[1:]
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(_MAX_WORDS, len(words) - i), 1, -1):
            joined = "_".join(words[i : i + n])
            if joined in VOCABULARY:
                out.append(joined)
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return ".".join(out)


def component(canonical: str) -> str:
    """The component prefix of a canonical name: ``model``, ``te1``, ``te2`` or ``te3``."""
    return canonical.split("_", 1)[0]


#: Prefix of each component's keys in diffusers/PEFT files.
DIFFUSERS_PREFIX: dict[str, str] = {
    "model": "unet",
    "te1": "text_encoder",
    "te2": "text_encoder_2",
    "te3": "text_encoder_3",
}

#: Prefix of each component's keys in kohya files.
KOHYA_PREFIX: dict[str, str] = {
    "model": "lora_unet",
    "te1": "lora_te1",
    "te2": "lora_te2",
    "te3": "lora_te3",
}
