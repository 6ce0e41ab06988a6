"""Canonical module names line up across every key scheme the fixture factory writes."""

from __future__ import annotations

import pytest

from likenessguard.hashing.keys import canonical_module, dotted, fused_parts, split_key
from likenessguard.testing import module_key, modules_for
from likenessguard.testing.layouts import SD_FAMILIES


def test_kohya_and_peft_spellings_of_one_module_agree() -> None:
    kohya = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"
    peft = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"
    assert split_key(kohya) == split_key(peft)
    assert split_key(kohya) == (
        "model_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
        "down",
    )


def test_sdxl_original_block_names_map_to_diffusers_names() -> None:
    assert canonical_module("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q") == (
        "model_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q"
    )
    assert canonical_module("diffusion_model.output_blocks.2.2.conv") == (
        "model_up_blocks_0_upsamplers_0_conv"
    )
    assert canonical_module("lora_unet_input_blocks_1_0_in_layers_2") == (
        "model_down_blocks_0_resnets_0_conv1"
    )
    assert canonical_module("lora_unet_middle_block_2_emb_layers_1") == (
        "model_mid_block_resnets_1_time_emb_proj"
    )
    assert (
        canonical_module("lora_unet_input_blocks_3_0_op")
        == "model_down_blocks_0_downsamplers_0_conv"
    )


def test_roles_cover_lycoris_and_dora() -> None:
    assert split_key("lora_unet_x.hada_w1_a")[1] == "hada_w1_a"
    assert split_key("lora_unet_x.lokr_w2_b")[1] == "lokr_w2_b"
    assert split_key("lora_unet_x.alpha") == ("model_x", "alpha")
    assert split_key("unet.x.lora_magnitude_vector")[1] == "magnitude"
    assert split_key("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight") == (
        "te2_text_model_encoder_layers_0_mlp_fc1",
        "up",
    )


@pytest.mark.parametrize("family", SD_FAMILIES)
def test_every_factory_module_has_one_name_in_all_sd_schemes(family: str) -> None:
    for module in modules_for(family, convs=True):
        names = {
            canonical_module(module_key(module, family, scheme))
            for scheme in ("kohya", "diffusers_peft", "comfy")
            if not (scheme == "comfy" and module.part != "unet")
        }
        assert len(names) == 1, (module, names)


@pytest.mark.parametrize("family", ["sd3", "flux1", "wan", "hunyuan_video", "ltx_video"])
def test_kohya_and_comfy_agree_on_dit_families(family: str) -> None:
    for module in modules_for(family):
        assert canonical_module(module_key(module, family, "kohya")) == canonical_module(
            module_key(module, family, "comfy")
        )


def test_wan_native_and_diffusers_names_agree() -> None:
    native = modules_for("wan")
    diff = modules_for("wan", diffusers=True)
    assert [canonical_module(module_key(m, "wan", "comfy")) for m in native] == [
        canonical_module(module_key(m, "wan", "diffusers_peft")) for m in diff
    ]


def test_canonical_names_are_distinct_within_a_family() -> None:
    mods = modules_for("sdxl", convs=True)
    names = [canonical_module(module_key(m, "sdxl", "kohya")) for m in mods]
    assert len(set(names)) == len(names)


def test_dotted_restores_diffusers_paths() -> None:
    for module in modules_for("sdxl", diffusers=True, convs=True):
        if module.part == "unet" and module.diffusers:
            canon = canonical_module("unet." + module.diffusers)
            assert dotted(canon) == module.diffusers


@pytest.mark.parametrize("family", ["flux1", "sd3", "hunyuan_video"])
def test_fused_original_layers_split_onto_the_diffusers_layout(family: str) -> None:
    diffusers = {
        canonical_module(module_key(m, family, "diffusers_peft"))
        for m in modules_for(family, diffusers=True)
    }
    produced: list[str] = []
    for m in modules_for(family):
        canon = canonical_module(module_key(m, family, "kohya"))
        parts = fused_parts(canon, m.out_dim)
        if parts:
            assert parts[-1][2] == m.out_dim and parts[0][1] == 0
            produced += [name for name, _, _ in parts]
        else:
            produced.append(canon)
    assert len(produced) == len(set(produced))
    assert set(produced) == diffusers
