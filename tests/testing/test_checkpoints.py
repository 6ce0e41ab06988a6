"""Checkpoints, pickles, GGUF, folders and sidecars parse back with their reference readers."""

from __future__ import annotations

import io
import json
import pickletools
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest
import yaml
from safetensors import safe_open

from likenessguard.testing import (
    FAMILIES,
    Call,
    Global,
    a1111_parameters,
    checkpoint_shapes,
    civitai_listing,
    comfy_prompt,
    comfy_workflow,
    make_checkpoint,
    make_civitai_info,
    make_controlnet,
    make_diffusers_lora_folder,
    make_gguf,
    make_model_card,
    make_pickle_checkpoint,
    make_preview_png,
    make_textual_inversion,
    make_vae,
    make_zip,
    read_png_text,
)
from likenessguard.testing.torch_pickle import LEGACY_MAGIC, pickle_with_storages


def _globals(data: bytes) -> list[str]:
    return [str(arg) for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"]


def _keys(path: Path) -> dict[str, tuple[int, ...]]:
    with safe_open(str(path), framework="numpy") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable


@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoints_have_real_key_sets(tmp_path: Path, family: str) -> None:
    path = make_checkpoint(tmp_path / f"{family}.safetensors", family)
    keys = _keys(path)
    assert keys == dict(checkpoint_shapes(family))
    if family == "sd1":
        assert keys["model.diffusion_model.input_blocks.0.0.weight"] == (10, 4, 3, 3)
        assert (
            keys["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"][1]
            == 768
        )
        assert (
            keys["cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"][0]
            == 77
        )
        assert keys["first_stage_model.quant_conv.weight"] == (8, 8, 1, 1)
        assert keys["model.diffusion_model.out.2.weight"][0] == 4
    if family == "sd2":
        assert "cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight" in keys
        assert (
            keys["model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight"][1]
            == 1024
        )
    if family == "sdxl":
        assert keys["model.diffusion_model.label_emb.0.0.weight"][1] == 2816
        assert "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight" in keys
        assert "conditioner.embedders.1.model.transformer.resblocks.31.mlp.c_proj.weight" in keys
        assert (
            keys["model.diffusion_model.input_blocks.7.1.transformer_blocks.9.attn2.to_k.weight"][1]
            == 2048
        )
    if family == "flux1":
        assert keys["img_in.weight"] == (48, 64)
        assert "single_blocks.37.linear2.weight" in keys
    if family == "sd3":
        assert "model.diffusion_model.joint_blocks.23.context_block.attn.qkv.weight" in keys


def test_buffers_keep_their_types_and_values(tmp_path: Path) -> None:
    path = make_checkpoint(tmp_path / "sd1.safetensors", "sd1", dtype="F16")
    with safe_open(str(path), framework="numpy") as f:
        ids = f.get_tensor("cond_stage_model.transformer.text_model.embeddings.position_ids")
        assert ids.dtype == np.int64 and ids.tolist() == [list(range(77))]
        ac = f.get_tensor("alphas_cumprod").astype(np.float64)
        betas = f.get_tensor("betas").astype(np.float64)
        coef2 = f.get_tensor("posterior_mean_coef2").astype(np.float64)
    assert ac.shape == (1000,) and np.all(np.diff(ac) < 0)
    assert betas[0] == pytest.approx(0.00085, rel=1e-3) and betas[-1] == pytest.approx(
        0.012, rel=1e-3
    )
    assert coef2[0] == 0.0  # alphas_cumprod_prev[0] is 1
    pk = make_checkpoint(tmp_path / "sd1.ckpt", "sd1", fmt="pickle")
    data = zipfile.ZipFile(pk).read("archive/data.pkl")
    assert "torch LongStorage" in _globals(data)


def test_full_size_shapes_are_real() -> None:
    full = dict(checkpoint_shapes("sd1", small=False))
    assert full["model.diffusion_model.input_blocks.0.0.weight"] == (320, 4, 3, 3)
    assert full["cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"] == (
        49408,
        768,
    )
    assert full["model.diffusion_model.output_blocks.3.0.in_layers.2.weight"] == (1280, 2560, 3, 3)
    assert len(full) > 1000


def test_vae_controlnet_and_embeddings(tmp_path: Path) -> None:
    vae = _keys(make_vae(tmp_path / "vae.safetensors"))
    assert vae["encoder.conv_in.weight"][1] == 3 and vae["post_quant_conv.weight"] == (4, 4, 1, 1)
    ae = _keys(make_vae(tmp_path / "ae.safetensors", "flux1"))
    assert ae["decoder.conv_in.weight"][1] == 16 and "quant_conv.weight" not in ae
    cn = _keys(make_controlnet(tmp_path / "cn.safetensors"))
    assert (
        "control_model.zero_convs.11.0.weight" in cn
        and "control_model.input_hint_block.0.weight" in cn
    )
    assert "control_model.middle_block_out.0.weight" in cn
    cnd = _keys(make_controlnet(tmp_path / "cnd.safetensors", "sdxl", style="diffusers"))
    assert (
        "controlnet_cond_embedding.conv_in.weight" in cnd and "controlnet_mid_block.weight" in cnd
    )
    assert "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight" in cnd
    assert _keys(make_textual_inversion(tmp_path / "ti.safetensors", vectors=6)) == {
        "emb_params": (6, 768)
    }
    assert _keys(make_textual_inversion(tmp_path / "tx.safetensors", "sdxl", vectors=2)) == {
        "clip_l": (2, 768),
        "clip_g": (2, 1280),
    }


def test_zip_pickle_layout_and_globals(tmp_path: Path) -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = make_pickle_checkpoint(
        tmp_path / "m.ckpt", {"state_dict": {"w": w, "n": np.arange(4)}, "epoch": 3}
    )
    zf = zipfile.ZipFile(path)
    assert zf.namelist()[:4] == [
        "archive/data.pkl",
        "archive/byteorder",
        "archive/data/0",
        "archive/data/1",
    ]
    assert zf.read("archive/version") == b"3\n"
    assert zf.read("archive/data/0") == w.astype("<f2").tobytes()
    assert zf.read("archive/data/1") == np.arange(4, dtype="<i8").tobytes()
    data = zf.read("archive/data.pkl")
    assert data[:2] == b"\x80\x02"
    assert _globals(data) == [
        "collections OrderedDict",
        "torch._utils _rebuild_tensor_v2",
        "torch HalfStorage",
        "collections OrderedDict",
        "torch._utils _rebuild_tensor_v2",
        "torch LongStorage",
        "collections OrderedDict",
    ]
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert ops.count("BINPERSID") == 2 and "REDUCE" in ops
    # Sizes and strides as torch writes them: (2, 3) contiguous has stride (3, 1).
    ints = [arg for op, arg, _ in pickletools.genops(data) if op.name == "BININT1"]
    assert ints[:6] == [6, 0, 2, 3, 3, 1]


def test_legacy_pickle_layout(tmp_path: Path) -> None:
    path = make_textual_inversion(tmp_path / "emb.pt", vectors=2, fmt="pt")
    stream = io.BytesIO(path.read_bytes())
    # The first three pickles are plain data; reading them runs no code.
    import pickle

    assert pickle.load(stream) == LEGACY_MAGIC
    assert pickle.load(stream) == 1001
    assert pickle.load(stream)["little_endian"] is True
    rest = stream.read()
    globals_ = _globals(rest)
    assert "torch._utils _rebuild_tensor_v2" in globals_ and "torch FloatStorage" in globals_
    strings = [arg for op, arg, _ in pickletools.genops(rest) if op.name == "BINUNICODE"]
    assert {"string_to_param", "string_to_token", "sd_checkpoint_name"} <= set(strings)


def test_stand_ins_never_import_or_run() -> None:
    data, storages = pickle_with_storages({"x": Call(Global("os", "system"), ("echo hi",))})
    assert _globals(data) == ["os system"] and storages == []
    with pytest.raises(TypeError, match="stand-in"):
        Global("os", "system")("echo hi")


def test_torch_loads_the_pickles_when_installed(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")  # not installed here on purpose; runs where it is
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    for zip_format in (True, False):
        path = make_pickle_checkpoint(
            tmp_path / f"m{zip_format}.pt", {"w": w}, zip_format=zip_format, dtype="F32"
        )
        loaded = torch.load(path, weights_only=True)
        assert np.array_equal(loaded["w"].numpy(), w)


def test_gguf_reads_back(tmp_path: Path) -> None:
    path = make_gguf(tmp_path / "flux.gguf", "flux1", tensors=10, metadata={"general.author": "x"})
    reader = gguf.GGUFReader(path)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "flux"
    shapes = dict(checkpoint_shapes("flux1"))
    names = [t.name for t in reader.tensors]
    assert len(names) == 10 and names[0] == "double_blocks.0.img_attn.qkv.weight"
    for t in reader.tensors:  # GGUF stores dimensions innermost first
        assert tuple(int(d) for d in reversed(t.shape)) == shapes[t.name]
    assert "general.author" in reader.fields
    wan = gguf.GGUFReader(make_gguf(tmp_path / "wan.gguf", "wan", tensors=4))
    assert any(t.name.startswith("blocks.") for t in wan.tensors)


def test_gguf_q8_0_quantises_what_can_be(tmp_path: Path) -> None:
    reader = gguf.GGUFReader(make_gguf(tmp_path / "q.gguf", "flux1", tensors=48, dtype="Q8_0"))
    shapes = dict(checkpoint_shapes("flux1"))
    kinds = {t.tensor_type.name for t in reader.tensors}
    assert kinds == {"Q8_0", "F16"}
    for t in reader.tensors:
        assert tuple(int(d) for d in reversed(t.shape)) == shapes[t.name]
        if t.tensor_type.name == "Q8_0":
            values = gguf.quants.dequantize(t.data, t.tensor_type)
            assert values.shape == shapes[t.name] and np.abs(values).max() > 0
    ftype = reader.fields["general.file_type"]
    assert int(ftype.parts[ftype.data[0]][0]) == 7
    with pytest.raises(ValueError, match="unsupported GGUF dtype 'Q4_K'"):
        make_gguf(tmp_path / "x.gguf", dtype="Q4_K")


def test_diffusers_folders(tmp_path: Path) -> None:
    d = make_diffusers_lora_folder(tmp_path / "peft", "sdxl", 4, 8.0, modules=6)
    config = json.loads((d / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8.0 and config["peft_type"] == "LORA"
    keys = _keys(d / "adapter_model.safetensors")
    assert all(k.startswith("base_model.model.") for k in keys)
    assert set(config["target_modules"]) <= {
        "to_q",
        "to_k",
        "to_v",
        "0",
        "proj",
        "2",
        "proj_in",
        "proj_out",
    }
    d2 = make_diffusers_lora_folder(tmp_path / "dif", "flux1", 4, 4.0, peft=False, modules=4)
    assert all(k.startswith("transformer.") for k in _keys(d2 / "pytorch_lora_weights.safetensors"))


def test_zip_and_sidecars(tmp_path: Path) -> None:
    lora = make_zip(tmp_path / "a.zip", {"a/readme.txt": "hi", "a/b.bin": b"\0" * 10})
    assert zipfile.ZipFile(lora).namelist() == ["a/readme.txt", "a/b.bin"]
    card = make_model_card(
        tmp_path / "repo",
        title="Watercolor style",
        tags=["lora", "style"],
        base_model="stabilityai/stable-diffusion-xl-base-1.0",
        instance_prompt="wtrclr style",
        widget_prompts=["a lighthouse, wtrclr style"],
        body="Soft watercolor washes.",
    )
    text = card.read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["tags"] == ["lora", "style"] and front["instance_prompt"] == "wtrclr style"
    assert front["widget"][0]["text"] == "a lighthouse, wtrclr style"
    assert "# Watercolor style" in text
    listing = civitai_listing(model_id=1, version_id=2, name="Watercolor", trained_words=["wtrclr"])
    info = make_civitai_info(tmp_path / "repo" / "w.safetensors", listing)
    assert info.name == "w.civitai.info" and json.loads(info.read_text())["trainedWords"] == [
        "wtrclr"
    ]


def test_preview_png_text_chunks(tmp_path: Path) -> None:
    params = a1111_parameters("a lighthouse, wtrclr style", lora_hashes={"wtrclr": "0123456789ab"})
    graph = comfy_prompt("a lighthouse", lora_name="wtrclr.safetensors")
    path = make_preview_png(
        tmp_path / "p.png",
        parameters=params,
        comfy_workflow=comfy_workflow(graph),
        comfy_prompt=graph,
        seed=3,
    )
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    text = read_png_text(path)
    assert text["parameters"] == params
    assert 'Lora hashes: "wtrclr: 0123456789ab"' in params and "\nNegative prompt: " in params
    assert json.loads(text["prompt"])["10"]["inputs"]["lora_name"] == "wtrclr.safetensors"
    assert json.loads(text["workflow"])["nodes"]
    uni = read_png_text(make_preview_png(tmp_path / "u.png", parameters="café ☃"))
    assert uni == {"parameters": "café ☃"}
    assert (
        path.read_bytes()
        == make_preview_png(
            tmp_path / "q.png",
            parameters=params,
            comfy_workflow=comfy_workflow(graph),
            comfy_prompt=graph,
            seed=3,
        ).read_bytes()
    )


def test_preview_png_decodes_with_pillow(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    path = make_preview_png(tmp_path / "p.png", parameters="x", size=32)
    with image.open(path) as im:
        assert im.size == (32, 32) and im.mode == "RGB"
        assert im.info["parameters"] == "x"


@pytest.mark.parametrize("size", [1 << 20, 3 << 20])
def test_civitai_hashes_agree_with_the_hasher(tmp_path: Path, size: int) -> None:
    from likenessguard.hashing.file_hashes import hash_file
    from likenessguard.testing import civitai_file_hashes, civitai_model_object, write_safetensors

    # One tensor sized so the file lands on either side of the 2 MiB AutoV1 cut-off.
    path = write_safetensors(
        tmp_path / "l.safetensors", {"w": np.ones(size // 2, np.float16)}, {"a": "b"}
    )
    civ = civitai_file_hashes(path)
    ours = hash_file(path)
    assert civ["SHA256"] == ours.sha256.upper() and civ["AutoV2"] == ours.autov2.upper()
    assert civ["BLAKE3"] == ours.blake3.upper() and civ["CRC32"] == ours.crc32.upper()
    assert ours.autov3 is not None and civ["AutoV3"] == ours.autov3[:12].upper()
    if ours.autov1 is None:
        assert "AutoV1" not in civ
    else:
        assert civ["AutoV1"] == ours.autov1.upper()
    listing = civitai_listing(
        model_id=7, version_id=8, name="x", files=[{"name": path.name, "hashes": civ}]
    )
    model = civitai_model_object(listing)
    assert model["id"] == 7 and model["modelVersions"][0]["files"][0]["hashes"] == civ
    assert "model" not in model["modelVersions"][0]
