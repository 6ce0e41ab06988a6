"""Identification from tensor names and shapes: every family x scheme x kind of the factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from likenessguard.artifacts.base import BaseFamily, KeyScheme, Kind, TensorInfo
from likenessguard.artifacts.identify import family_from_metadata, identify
from likenessguard.artifacts.open import read_artifacts
from likenessguard.testing import FAMILIES, SCHEMES, make_lora
from likenessguard.testing.checkpoints import (
    make_checkpoint,
    make_controlnet,
    make_textual_inversion,
    make_vae,
)

KINDS = ("lora", "locon", "loha", "lokr", "dora")
SD = ("sd1", "sd2", "sdxl")
CASES = [
    (family, scheme, kind)
    for family in FAMILIES
    for scheme in SCHEMES
    for kind in KINDS
    if not (scheme == "diffusers_peft" and kind in ("loha", "lokr", "locon"))
]


def expected_kind(family: str, kind: str) -> tuple[Kind, str | None]:
    if kind in ("loha", "lokr"):
        return Kind.LYCORIS, kind
    if kind == "locon":
        # LoCon differs from LoRA only by its conv layers, which exist in SD UNets;
        # on a DiT the weights are a plain LoRA whatever the trainer called them.
        return (Kind.LYCORIS, "locon") if family in SD else (Kind.LORA, None)
    if kind == "dora":
        return Kind.DORA, None
    return Kind.LORA, None


def expected_scheme(scheme: str, kind: str) -> KeyScheme:
    if kind in ("loha", "lokr"):
        return KeyScheme.LYCORIS
    return KeyScheme(scheme)


@pytest.mark.parametrize(("family", "scheme", "kind"), CASES, ids=["-".join(c) for c in CASES])
def test_every_family_scheme_and_kind(tmp_path: Path, family: str, scheme: str, kind: str) -> None:
    # No metadata: the weights alone must decide (metadata is evidence, not truth).
    path = make_lora(
        tmp_path / "disguised_name.safetensors",
        family,
        scheme,
        kind=kind,
        rank=4,
        alpha=2.0,
        modules=6,
        metadata=False,
    )
    (artifact,) = read_artifacts(path)
    ident = artifact.identity
    assert artifact.errors == ()
    assert ident.base_family is BaseFamily(family), ident.reasons
    assert (ident.kind, ident.algo) == expected_kind(family, kind), ident.reasons
    assert ident.key_scheme is expected_scheme(scheme, kind), ident.reasons
    assert ident.modules == 6
    assert ident.dtype == "F16"
    if kind != "lokr":
        assert ident.rank == 4
    # PEFT stores no alpha tensors; everything else carries alpha per module.
    assert ident.alpha == (None if scheme == "diffusers_peft" else 2.0)
    assert ident.reasons and all(isinstance(r, str) and r for r in ident.reasons)
    assert artifact.warnings == ()


def test_reasons_are_human_readable(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "x.safetensors", "sdxl", modules=8, metadata=False)
    (a,) = read_artifacts(path)
    assert "cross-attention k in-dim 2048: SDXL" in a.identity.reasons
    assert "lora_unet_/lora_te_ prefixes: kohya key scheme" in a.identity.reasons


def test_sdxl_from_te2_keys_alone() -> None:
    tensors = [
        TensorInfo("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", "F16",
                   (4, 1280), 0, 10240),
        TensorInfo("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", "F16",
                   (5120, 4), 0, 40960),
    ]  # fmt: skip
    ident, _ = identify(tensors)
    assert ident.base_family is BaseFamily.SDXL
    assert "te2 keys present (lora_te2_* / text_encoder_2): SDXL" in ident.reasons


def test_metadata_disagreement_is_a_warning_and_weights_win(tmp_path: Path) -> None:
    path = make_lora(
        tmp_path / "x.safetensors",
        "sdxl",
        modules=6,
        metadata={"ss_base_model_version": "sd_v1", "modelspec.architecture": "flux-1-dev/lora"},
    )
    (a,) = read_artifacts(path)
    assert a.identity.base_family is BaseFamily.SDXL
    assert a.warnings == (
        "metadata says sd_v1 but weights are SDXL-shaped (ss_base_model_version); "
        "trusting the weights",
        "metadata says flux-1-dev/lora but weights are SDXL-shaped (modelspec.architecture); "
        "trusting the weights",
    )


def test_agreeing_metadata_is_noted(tmp_path: Path) -> None:
    (a,) = read_artifacts(make_lora(tmp_path / "x.safetensors", "flux1", modules=6))
    assert a.warnings == ()
    assert "ss_base_model_version flux1 agrees" in a.identity.reasons


def test_lycoris_claim_on_plain_lora_weights_is_reported(tmp_path: Path) -> None:
    (a,) = read_artifacts(make_lora(tmp_path / "x.safetensors", "flux1", kind="locon", modules=6))
    assert a.identity.kind is Kind.LORA
    assert (
        "metadata says LyCORIS locon, but no tensor needs LyCORIS: the weights are a plain LoRA"
        in a.identity.reasons
    )


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("fmt", ["safetensors", "pickle"])
def test_full_checkpoints(tmp_path: Path, family: str, fmt: str) -> None:
    suffix = "safetensors" if fmt == "safetensors" else "ckpt"
    (a,) = read_artifacts(make_checkpoint(tmp_path / f"model.{suffix}", family, fmt=fmt))
    assert a.errors == ()
    assert a.identity.kind is Kind.CHECKPOINT
    assert a.identity.base_family is BaseFamily(family), a.identity.reasons
    assert a.identity.modules > 10


@pytest.mark.parametrize("family", ["sd1", "sdxl", "flux1"])
def test_vae_kind_and_honest_family(tmp_path: Path, family: str) -> None:
    (a,) = read_artifacts(make_vae(tmp_path / "vae.safetensors", family))
    assert a.identity.kind is Kind.VAE
    # SD1/SD2/SDXL VAEs share every shape, as do SD3/Flux: the family stays unknown.
    assert a.identity.base_family is BaseFamily.UNKNOWN
    latent = "16 latent channels" if family == "flux1" else "4 latent channels"
    assert any(r.startswith(latent) for r in a.identity.reasons)


@pytest.mark.parametrize("family", SD)
@pytest.mark.parametrize("style", ["ldm", "diffusers"])
def test_controlnet(tmp_path: Path, family: str, style: str) -> None:
    (a,) = read_artifacts(make_controlnet(tmp_path / "cn.safetensors", family, style=style))
    assert a.identity.kind is Kind.CONTROLNET
    assert a.identity.base_family is BaseFamily(family)
    assert a.identity.key_scheme is (KeyScheme.LDM if style == "ldm" else KeyScheme.DIFFUSERS_PEFT)


@pytest.mark.parametrize(
    ("family", "fmt"),
    [("sd1", "safetensors"), ("sd2", "safetensors"), ("sdxl", "safetensors"), ("sd1", "pt"),
     ("sd2", "pt")],
)  # fmt: skip
def test_textual_inversion(tmp_path: Path, family: str, fmt: str) -> None:
    path = make_textual_inversion(
        tmp_path / f"emb.{fmt}", family, vectors=6, fmt=fmt, name="mary-major"
    )
    (a,) = read_artifacts(path)
    assert a.errors == ()
    assert a.identity.kind is Kind.TEXTUAL_INVERSION
    assert a.identity.base_family is BaseFamily(family)
    assert a.identity.rank == 6  # vectors per token
    if fmt == "pt":
        assert a.metadata["name"] == "mary-major"
        assert a.findings == ()


@pytest.mark.parametrize(
    ("value", "family"),
    [
        ("sd_v1", BaseFamily.SD1),
        ("sd_v2_768_v", BaseFamily.SD2),
        ("sdxl_base_v1-0", BaseFamily.SDXL),
        ("stable-diffusion-xl-v1-base/lora", BaseFamily.SDXL),
        ("stable-diffusion-3-medium/lora", BaseFamily.SD3),
        ("flux-1-dev/lora", BaseFamily.FLUX1),
        ("wan2.1-t2v-1.3b/lora", BaseFamily.WAN),
        ("hunyuan_video", BaseFamily.HUNYUAN_VIDEO),
        ("ltx-video/lora", BaseFamily.LTX_VIDEO),
        ("", BaseFamily.UNKNOWN),
        ("my-own-model", BaseFamily.UNKNOWN),
    ],
)
def test_family_from_metadata(value: str, family: BaseFamily) -> None:
    assert family_from_metadata(value) is family


def test_unknown_tensors_are_unknown() -> None:
    ident, warnings = identify([TensorInfo("foo", "F32", (3,), 0, 12)])
    assert (ident.kind, ident.base_family, ident.key_scheme) == (
        Kind.UNKNOWN,
        BaseFamily.UNKNOWN,
        KeyScheme.UNKNOWN,
    )
    assert warnings == []


def _pair(module: str, down: tuple[int, ...], up: tuple[int, ...]) -> list[TensorInfo]:
    return [
        TensorInfo(f"{module}.lora_down.weight", "F16", down, 0, 0),
        TensorInfo(f"{module}.lora_up.weight", "F16", up, 0, 0),
    ]


def test_sdxl_from_te1_only_lora() -> None:
    ident, _ = identify(_pair("lora_te1_text_model_encoder_layers_0_mlp_fc1", (4, 768), (3072, 4)))
    assert ident.base_family is BaseFamily.SDXL
    assert "te1 keys (lora_te1_*) of a dual text encoder: SDXL" in ident.reasons


def test_old_diffusers_attention_processor_keys() -> None:
    stem = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora"
    tensors = [
        TensorInfo(f"{stem}.down.weight", "F32", (4, 1024), 0, 0),
        TensorInfo(f"{stem}.up.weight", "F32", (640, 4), 0, 0),
    ]
    ident, _ = identify(tensors)
    assert (ident.kind, ident.base_family, ident.key_scheme, ident.rank) == (
        Kind.LORA,
        BaseFamily.SD2,
        KeyScheme.DIFFUSERS_PEFT,
        4,
    )
