"""The fixture factory writes files that the reference safetensors library reads back exactly."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import load_file

from likenessguard.testing import (
    FAMILIES,
    KINDS,
    SCHEMES,
    convert_lora,
    from_bf16_bits,
    kohya_metadata,
    lora_shapes,
    lora_tensors,
    make_lora,
    module_key,
    modules_for,
    read_safetensors,
    safetensors_bytes,
    stripped_hashes,
    to_bf16_bits,
    write_safetensors,
)


def _load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
    """Tensors (BF16 widened by bit shift), metadata and dtypes via the safetensors library."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtypes = {k: v["dtype"] for k, v in header.items() if k != "__metadata__"}
    out: dict[str, np.ndarray] = {}
    bf16 = [k for k, d in dtypes.items() if d == "BF16"]
    if not bf16:
        out = load_file(str(path))
    else:
        base = 8 + n
        for k, info in header.items():
            if k == "__metadata__":
                continue
            b, e = info["data_offsets"]
            assert info["dtype"] == "BF16"
            bits = np.frombuffer(raw[base + b : base + e], dtype="<u2")
            out[k] = from_bf16_bits(bits).reshape(info["shape"])
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        assert sorted(f.keys()) == sorted(dtypes)
    return out, meta, dtypes


def test_writer_layout_is_byte_exact(tmp_path: Path) -> None:
    raw = safetensors_bytes(
        {"b": np.array([1.0, 2.0], np.float32), "a": np.array([[3.0]], np.float32)},
        {"k": "v"},
        "F32",
    )
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = raw[8 : 8 + n]
    assert header.rstrip(b" ") == (
        b'{"__metadata__":{"k":"v"},'
        b'"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},'
        b'"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
    )
    assert raw[8 + n :] == np.array([3.0, 1.0, 2.0], "<f4").tobytes()


@pytest.mark.parametrize("dtype", ["F16", "F32", "BF16", "F64"])
def test_dtypes_round_trip_bit_exact(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(1)
    tensors = {"w": rng.standard_normal((7, 5), dtype=np.float32), "s": np.float32(0.5)}
    path = write_safetensors(tmp_path / "x.safetensors", tensors, {"m": "1"}, dtype)
    loaded, meta, dtypes = _load(path)
    assert meta == {"m": "1"}
    assert set(dtypes.values()) == {dtype}
    expected = {
        "F16": lambda a: np.asarray(a, np.float16),
        "F32": lambda a: np.asarray(a, np.float32),
        "F64": lambda a: np.asarray(a, np.float64),
        "BF16": lambda a: from_bf16_bits(to_bf16_bits(a)),
    }[dtype]
    for name, arr in tensors.items():
        assert loaded[name].shape == np.shape(arr)
        assert np.asarray(loaded[name]).tobytes() == np.asarray(expected(arr)).tobytes()


def test_bf16_rounds_to_nearest_even() -> None:
    # 1 + 2^-8 is exactly half-way between two bfloat16 values: ties go to even (1.0);
    # 1 + 3*2^-8 is half-way too and rounds up to the even 1 + 2^-6... (mantissa ...10).
    values = np.array(
        [1.0 + 2**-8, 1.0 + 3 * 2**-8, 1.0 + 2**-8 + 2**-20, -2.5, np.inf], np.float32
    )
    bits = to_bf16_bits(values)
    assert list(bits) == [0x3F80, 0x3F82, 0x3F81, 0xC020, 0x7F80]
    assert np.isnan(from_bf16_bits(to_bf16_bits(np.array([np.nan], np.float32))))[0]


def test_per_tensor_dtypes(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "mixed.safetensors",
        {"a": np.ones(3, np.float32), "b": np.ones(2, np.float32), "c": np.arange(3)},
        dtype={"a": "BF16", "b": "F32"},
    )
    with safe_open(str(path), framework="numpy") as f:
        assert f.get_slice("a").get_dtype() == "BF16"
        assert f.get_slice("b").get_dtype() == "F32"
        assert f.get_slice("c").get_dtype() == "I64"


_EXACT = {
    "F16": lambda a: a.astype(np.float16),
    "F32": lambda a: a,
    "F64": lambda a: a.astype(np.float64),
    "BF16": lambda a: from_bf16_bits(to_bf16_bits(a)),
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", ["F16", "F32", "BF16", "F64"])
def test_every_family_and_scheme_parses_back(
    tmp_path: Path, family: str, scheme: str, dtype: str
) -> None:
    tensors = lora_tensors(family, scheme, rank=4, alpha=2.0, modules=6, seed=3)
    path = make_lora(
        tmp_path / "l.safetensors",
        family,
        scheme,
        rank=4,
        alpha=2.0,
        modules=6,
        seed=3,
        dtype=dtype,
    )
    loaded, meta, dtypes = _load(path)
    assert sorted(loaded) == sorted(tensors) and set(dtypes.values()) == {dtype}
    for name, arr in tensors.items():
        assert loaded[name].shape == arr.shape
        assert loaded[name].tobytes() == _EXACT[dtype](arr).tobytes(), name
    assert meta["ss_network_dim"] == "4"
    assert meta["ss_network_alpha"] == "2"
    if scheme == "kohya":
        assert all(k.startswith(("lora_unet_", "lora_te")) for k in tensors)
        assert any(k.endswith(".alpha") for k in tensors)
    elif scheme == "diffusers_peft":
        assert all(k.startswith(("unet.", "transformer.", "text_encoder")) for k in tensors)
        assert not any(k.endswith(".alpha") for k in tensors)
    else:
        assert all(k.startswith("diffusion_model.") for k in tensors)
    ups = [v for k, v in tensors.items() if k.endswith(("lora_up.weight", "lora_B.weight"))]
    assert ups and all(np.abs(u).sum() > 0 for u in ups)


@pytest.mark.parametrize("kind", KINDS)
def test_lycoris_and_dora_kinds(tmp_path: Path, kind: str) -> None:
    t = lora_tensors("sd1", "kohya", kind=kind, rank=4, modules=20, seed=0)
    suffixes = {k.split(".", 1)[1] for k in t}
    expected = {
        "lora": {"lora_down.weight", "lora_up.weight", "alpha"},
        "locon": {"lora_down.weight", "lora_up.weight", "alpha"},
        "loha": {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "alpha"},
        "lokr": {"lokr_w1", "lokr_w2_a", "lokr_w2_b", "alpha"},
        "dora": {"lora_down.weight", "lora_up.weight", "alpha", "dora_scale"},
    }[kind]
    assert expected <= suffixes
    if kind == "locon":
        convs = {k: v for k, v in t.items() if "conv1" in k and k.endswith("lora_down.weight")}
        assert convs and all(v.ndim == 4 and v.shape[2:] == (3, 3) for v in convs.values())
    path = make_lora(tmp_path / f"{kind}.safetensors", "sd1", kind=kind, rank=4, modules=20)
    loaded, meta, _ = _load(path)
    assert sorted(loaded) == sorted(t)
    if kind in ("loha", "lokr", "locon"):
        assert meta["ss_network_module"] == "lycoris.kohya"
        assert json.loads(meta["ss_network_args"])["algo"] == kind
    if kind == "dora":
        assert meta["ss_network_module"] == "lycoris.kohya"
        assert json.loads(meta["ss_network_args"]) == {"algo": "lora", "dora_wd": "True"}
    if kind == "lora":
        assert meta["ss_network_module"] == "networks.lora"


def test_real_shapes_identify_families() -> None:
    def lora_tensors(family: str, scheme: str = "kohya", **kw: object) -> dict[str, np.ndarray]:
        # Shapes only: drawing ~80 MB of arrays per family would slow the suite.
        return {k: np.empty(s) for k, s in lora_shapes(family, scheme, **kw).items()}  # type: ignore[arg-type]

    sd1 = lora_tensors("sd1")
    assert sd1[
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    ].shape == (8, 768)
    assert sd1["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"].shape == (
        8,
        320,
        1,
        1,
    )
    assert sd1["lora_te_text_model_encoder_layers_11_mlp_fc1.lora_up.weight"].shape == (3072, 8)
    sd2 = lora_tensors("sd2")
    assert sd2[
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    ].shape == (8, 1024)
    assert sd2["lora_te_text_model_encoder_layers_22_self_attn_q_proj.lora_down.weight"].shape == (
        8,
        1024,
    )
    sdxl = lora_tensors("sdxl")
    assert len(sdxl) == 3 * (722 + 72 + 192)  # unet 722 + CLIP-L 72 + bigG 192 modules
    assert sdxl[
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight"
    ].shape == (8, 2048)
    assert sdxl[
        "lora_unet_middle_block_1_transformer_blocks_9_ff_net_0_proj.lora_up.weight"
    ].shape == (10240, 8)
    assert sdxl["lora_te2_text_model_encoder_layers_31_mlp_fc2.lora_down.weight"].shape == (8, 5120)
    assert "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.alpha" in sdxl
    flux = lora_tensors("flux1")
    assert flux["lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight"].shape == (9216, 8)
    assert flux["lora_unet_single_blocks_37_linear2.lora_down.weight"].shape == (8, 15360)
    fluxd = lora_tensors("flux1", "diffusers_peft")
    assert fluxd["transformer.transformer_blocks.0.attn.to_q.lora_A.weight"].shape == (8, 3072)
    wan = lora_tensors("wan", "comfy")
    assert wan["diffusion_model.blocks.29.self_attn.q.lora_down.weight"].shape == (8, 1536)
    wan14 = lora_tensors("wan", variant="14b", modules=4)
    assert any(v.shape == (8, 5120) for v in wan14.values())
    hy = lora_tensors("hunyuan_video")
    assert hy["lora_unet_double_blocks_19_img_attn_qkv.lora_down.weight"].shape == (8, 3072)
    ltx = lora_tensors("ltx_video", "diffusers_peft")
    assert ltx["transformer.transformer_blocks.27.attn1.to_q.lora_A.weight"].shape == (8, 2048)
    sd3 = lora_tensors("sd3")
    assert sd3["lora_unet_joint_blocks_0_x_block_attn_qkv.lora_up.weight"].shape == (4608, 8)


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_match_tensors(kind: str) -> None:
    t = lora_tensors("sdxl", kind=kind, modules=9, rank=4)
    assert {k: v.shape for k, v in t.items()} == lora_shapes("sdxl", kind=kind, modules=9, rank=4)


def test_small_fixtures_keep_identifying_modules() -> None:
    t = lora_tensors("sdxl", modules=6)
    assert len(t) == 18
    assert any("attn2_to_k" in k and v.shape[-1] == 2048 for k, v in t.items())
    assert any(k.startswith("lora_te1_") for k in t) and any(k.startswith("lora_te2_") for k in t)


def test_deterministic_for_a_seed() -> None:
    a, b, c = (lora_tensors("sd1", modules=5, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_kohya_metadata_is_realistic() -> None:
    meta = kohya_metadata(output_name="my_lora")
    assert 8_000 < len(json.dumps(meta)) < 16_000
    assert meta["ss_base_model_version"] == "sdxl_base_v1-0"
    assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    freq = json.loads(meta["ss_tag_frequency"])
    assert list(freq) == ["10_ohwx woman"]
    assert freq["10_ohwx woman"]["ohwx"] == 40
    assert json.loads(meta["ss_dataset_dirs"]) == {
        "10_ohwx woman": {"n_repeats": 10, "img_count": 40}
    }
    assert all(isinstance(v, str) for v in meta.values())
    sd1 = kohya_metadata(base_model="sd1", tags={"x": 3}, trigger="jnrw", class_word="man")
    assert sd1["ss_base_model_version"] == "sd_v1"
    assert json.loads(sd1["ss_tag_frequency"]) == {"10_jnrw man": {"x": 3}}


def test_sshs_hashes_are_real(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "l.safetensors", "sd1", modules=4)
    tensors, meta = read_safetensors(path)
    stripped = write_safetensors(tmp_path / "s.safetensors", tensors, None, "F16")
    raw = stripped.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert meta["sshs_model_hash"] == hashlib.sha256(raw[8 + n :]).hexdigest()
    # Metadata does not change the tensor-data hash (AutoV3): copies match.
    full = path.read_bytes()
    (m,) = struct.unpack("<Q", full[:8])
    assert hashlib.sha256(full[8 + m :]).hexdigest() == meta["sshs_model_hash"]
    assert stripped_hashes(tensors, "F16")[0] == meta["sshs_model_hash"]


def test_metadata_false_writes_none(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "bare.safetensors", "sd1", modules=3, metadata=False)
    _, meta, _ = _load(path)
    assert meta == {}


def test_convert_kohya_to_peft_keeps_the_update() -> None:
    src = lora_tensors("sdxl", modules=10, rank=4, alpha=2.0)
    dst = convert_lora(src, "sdxl", "diffusers_peft")
    assert len(dst) == 20
    for m in modules_for("sdxl"):
        k = "lora_unet_" + m.native.replace(".", "_")
        if k + ".lora_down.weight" not in src:
            continue
        p = "unet." + (m.diffusers or "")
        delta_src = src[k + ".lora_up.weight"] @ src[k + ".lora_down.weight"] * (2.0 / 4)
        delta_dst = dst[p + ".lora_B.weight"] @ dst[p + ".lora_A.weight"]
        assert np.allclose(delta_src, delta_dst, atol=1e-6)


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown family 'sd9'"):
        lora_tensors("sd9")
    with pytest.raises(ValueError, match="LyCORIS"):
        lora_tensors("sd1", "diffusers_peft", kind="loha")
    with pytest.raises(ValueError, match="unknown base_model 'sdxl_base_v1-0'"):
        kohya_metadata(base_model="sdxl_base_v1-0")


_float_arrays = st.tuples(
    st.lists(st.integers(0, 5), min_size=0, max_size=3),
    st.integers(0, 2**32 - 1),
).map(lambda t: np.random.default_rng(t[1]).standard_normal(t[0], dtype=np.float32) * 100)


@settings(max_examples=40, deadline=None)
@given(
    tensors=st.dictionaries(
        st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
        ).filter(lambda s: s != "__metadata__"),
        _float_arrays,
        max_size=5,
    ),
    metadata=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=4),
    dtype=st.sampled_from(["F16", "F32", "F64", "BF16"]),
)
def test_any_tensors_round_trip_through_the_reference_reader(
    tensors: dict[str, np.ndarray], metadata: dict[str, str], dtype: str
) -> None:
    from safetensors.numpy import load

    raw = safetensors_bytes(tensors, metadata, dtype)
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header.get("__metadata__", {}) == metadata
    if dtype == "BF16":
        for name, arr in tensors.items():
            b, e = header[name]["data_offsets"]
            bits = np.frombuffer(raw[8 + n + b : 8 + n + e], dtype="<u2")
            assert np.array_equal(
                from_bf16_bits(bits).reshape(arr.shape), from_bf16_bits(to_bf16_bits(arr))
            )
        return
    loaded = load(raw)
    assert sorted(loaded) == sorted(tensors)
    np_dtype = {"F16": np.float16, "F32": np.float32, "F64": np.float64}[dtype]
    for name, arr in tensors.items():
        assert loaded[name].tobytes() == arr.astype(np_dtype).tobytes()


def test_convert_round_trip_peft_to_kohya() -> None:
    src = lora_tensors("sd1", modules=8, rank=4, alpha=1.0, seed=5)
    peft = convert_lora(src, "sd1", "diffusers_peft")
    back = convert_lora(peft, "sd1", "kohya", from_scheme="diffusers_peft")
    assert sorted(back) == sorted(src)
    for key in src:
        if key.endswith(".lora_down.weight"):
            stem = key.removesuffix(".lora_down.weight")
            want = src[stem + ".lora_up.weight"].reshape(src[stem + ".lora_up.weight"].shape[0], -1)
            got = back[stem + ".lora_up.weight"].reshape(want.shape[0], -1)
            rank = src[key].shape[0]
            scale_src = float(src[stem + ".alpha"]) / rank
            scale_back = float(back[stem + ".alpha"]) / rank
            down = src[key].reshape(rank, -1)
            assert np.allclose(
                want @ down * scale_src, got @ back[key].reshape(rank, -1) * scale_back, atol=1e-6
            )


def test_lycoris_factors_multiply_out_to_the_layer_shape() -> None:
    by_key = {module_key(m, "sd1", "kohya"): m for m in modules_for("sd1")}
    lokr = lora_tensors("sd1", kind="lokr", rank=4, modules=10)
    for key, w1 in lokr.items():
        if not key.endswith(".lokr_w1"):
            continue
        stem = key.removesuffix(".lokr_w1")
        w2 = lokr.get(stem + ".lokr_w2")
        if w2 is None:
            w2 = lokr[stem + ".lokr_w2_a"] @ lokr[stem + ".lokr_w2_b"]
        full = np.kron(w1, w2)  # LoKr's update is w1 (x) w2
        native = by_key[stem]
        kh, kw = native.kernel or (1, 1)
        assert full.shape == (native.out_dim, native.in_dim * kh * kw)
    loha = lora_tensors("sd1", kind="loha", rank=4, modules=10)
    for key, w1a in loha.items():
        if key.endswith(".hada_w1_a"):
            stem = key.removesuffix(".hada_w1_a")
            delta = (w1a @ loha[stem + ".hada_w1_b"]) * (
                loha[stem + ".hada_w2_a"] @ loha[stem + ".hada_w2_b"]
            )
            assert delta.shape[0] == w1a.shape[0] and np.abs(delta).sum() > 0
