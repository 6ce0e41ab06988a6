"""Weight fingerprints: invariant to disguises, far apart for unrelated weights, exact maths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likenessguard.artifacts.base import BytesSource, Kind
from likenessguard.hashing import fingerprint as fpm
from likenessguard.hashing.fingerprint import (
    DIM,
    Fingerprint,
    FingerprintError,
    decode,
    fingerprint_artifact,
    module_sketches,
)
from likenessguard.hashing.keys import canonical_module
from likenessguard.testing import lora_tensors, make_lora, write_safetensors
from likenessguard.testing.mutations import (
    cast,
    kohya_to_peft,
    merge,
    peft_to_kohya,
    reorder,
    strip_metadata,
    svd_resize,
)
from tests.hashing.helpers import file_fingerprint, header_artifact


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fp")
    return make_lora(d / "a.safetensors", "sdxl", "kohya", modules=20, seed=11, rank=8)


def test_bf16_is_decoded_by_shifting_into_float32() -> None:
    bits = np.array([0x3F80, 0xC000, 0x0000], dtype="<u2")  # 1.0, -2.0, 0.0
    assert decode(bits.tobytes(), "BF16", (3,)).tolist() == [1.0, -2.0, 0.0]


@pytest.mark.parametrize("dtype", ["F32", "BF16", "F16"])
def test_dtype_casts_keep_the_fingerprint(sdxl: Path, tmp_path: Path, dtype: str) -> None:
    copy = cast(sdxl, tmp_path / "c.safetensors", dtype)
    assert file_fingerprint(copy).similarity(file_fingerprint(sdxl)) > 0.999


def test_scheme_conversion_with_alpha_baked_keeps_the_fingerprint(
    sdxl: Path, tmp_path: Path
) -> None:
    peft = kohya_to_peft(sdxl, tmp_path / "p.safetensors")
    back = peft_to_kohya(peft, tmp_path / "k.safetensors", alpha=1.0)
    base = file_fingerprint(sdxl)
    assert file_fingerprint(peft).similarity(base) > 0.999
    assert file_fingerprint(back).similarity(base) > 0.999


def test_metadata_and_order_do_not_matter(sdxl: Path, tmp_path: Path) -> None:
    a = strip_metadata(sdxl, tmp_path / "s.safetensors")
    b = reorder(sdxl, tmp_path / "r.safetensors", seed=3)
    assert file_fingerprint(a).vector.tolist() == pytest.approx(
        file_fingerprint(sdxl).vector.tolist()
    )
    assert file_fingerprint(b).similarity(file_fingerprint(sdxl)) > 0.9999


def test_resize_and_merge_stay_close_and_unrelated_stays_far(sdxl: Path, tmp_path: Path) -> None:
    other = make_lora(tmp_path / "o.safetensors", "sdxl", "kohya", modules=20, seed=12, rank=8)
    base = file_fingerprint(sdxl)
    half = file_fingerprint(svd_resize(sdxl, tmp_path / "h.safetensors"))
    mixed = file_fingerprint(merge(sdxl, other, tmp_path / "m.safetensors", 0.85))
    assert half.similarity(base) > base.threshold
    assert mixed.similarity(base) > 0.95
    assert file_fingerprint(other).similarity(base) < base.threshold


def _explicit(up: np.ndarray, down: np.ndarray, scale: float) -> np.ndarray:
    dw = up.reshape(up.shape[0], -1) @ down.reshape(down.shape[0], -1) * scale
    return (
        fpm._projection("left", dw.shape[0], fpm.SKETCH_ROWS).T
        @ dw
        @ fpm._projection("right", dw.shape[1], fpm.SKETCH_COLS)
    )


@pytest.mark.parametrize("kind", ["lora", "locon", "loha", "lokr"])
def test_module_sketch_equals_the_sketch_of_the_explicit_update(tmp_path: Path, kind: str) -> None:
    tensors = lora_tensors(
        "sd1", "kohya", kind=kind, modules=6, seed=5, rank=4, alpha=2.0, te=False
    )
    path = write_safetensors(tmp_path / "x.safetensors", tensors, dtype="F32")
    with open(path, "rb") as fh:
        source = BytesSource(fh.read(), name=str(path))
    sketches = module_sketches(header_artifact(path), source)
    checked = 0
    stems = {
        k.split(".lora_")[0] if k.endswith(".weight") else k.rsplit(".", 1)[0] for k in tensors
    }
    for stem in stems:
        if stem + ".alpha" not in tensors:
            continue
        alpha = float(tensors[stem + ".alpha"])
        if kind in ("lora", "locon"):
            up, down = tensors[stem + ".lora_up.weight"], tensors[stem + ".lora_down.weight"]
            dw_sketch = _explicit(up, down, alpha / down.shape[0])
        elif kind == "loha":
            w1 = tensors[stem + ".hada_w1_a"] @ tensors[stem + ".hada_w1_b"]
            w2 = tensors[stem + ".hada_w2_a"] @ tensors[stem + ".hada_w2_b"]
            rank = tensors[stem + ".hada_w1_b"].shape[0]
            dw_sketch = _explicit(w1 * w2, np.eye(w1.shape[1], dtype=np.float32), alpha / rank)
        else:
            w1 = tensors[stem + ".lokr_w1"]
            if stem + ".lokr_w2" in tensors:
                w2, scale = tensors[stem + ".lokr_w2"], 1.0
            else:
                w2 = tensors[stem + ".lokr_w2_a"] @ tensors[stem + ".lokr_w2_b"]
                scale = alpha / tensors[stem + ".lokr_w2_b"].shape[0]
            dw = np.kron(w1, w2)
            dw_sketch = _explicit(dw, np.eye(dw.shape[1], dtype=np.float32), scale)
        got = sketches[canonical_module(stem)]
        np.testing.assert_allclose(got, dw_sketch, rtol=2e-3, atol=1e-5 * np.abs(dw_sketch).max())
        checked += 1
    assert checked == len(sketches) >= 6


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    split=st.floats(min_value=0.05, max_value=20.0),
    alpha=st.floats(min_value=0.5, max_value=64.0),
)
def test_how_the_factors_are_split_does_not_matter(
    tmp_path: Path, split: float, alpha: float
) -> None:
    """up·c and down/c with alpha folded anywhere give the same update, so the same fingerprint."""
    tensors = lora_tensors("sd1", "kohya", modules=8, seed=7, rank=4, alpha=4.0, te=False)
    moved = {}
    for name, arr in tensors.items():
        if name.endswith(".lora_up.weight"):
            moved[name] = arr * np.float32(split * 4.0 / alpha)
        elif name.endswith(".lora_down.weight"):
            moved[name] = arr / np.float32(split)
        else:
            moved[name] = np.asarray(alpha, dtype=np.float32)
    a = write_safetensors(tmp_path / "a.safetensors", tensors, dtype="F32")
    b = write_safetensors(tmp_path / "b.safetensors", moved, dtype="F32")
    assert file_fingerprint(a).similarity(file_fingerprint(b)) > 0.9999


def test_text_round_trip_and_damage_is_reported(sdxl: Path) -> None:
    fp = file_fingerprint(sdxl)
    text = fp.to_text()
    assert text.startswith("lgfp1:adapter:20:") and len(text) < 800
    back = Fingerprint.from_text(text)
    assert back.modules == 20 and back.vector.shape == (DIM,)
    assert back.similarity(fp) > 0.9999
    with pytest.raises(ValueError, match="not a likenessguard fingerprint"):
        Fingerprint.from_text("sha256:abc")
    with pytest.raises(ValueError, match=r"damaged|bytes"):
        Fingerprint.from_text("lgfp1:adapter:3:AAAA")


def test_truncated_data_is_a_one_line_error(sdxl: Path) -> None:
    data = sdxl.read_bytes()
    art = header_artifact(sdxl)
    with pytest.raises(FingerprintError, match=r"truncated|ends after"):
        fingerprint_artifact(art, BytesSource(data[: len(data) // 2], name="cut.safetensors"))


def test_a_file_without_weights_cannot_be_fingerprinted(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "e.safetensors", {"step": np.array([3], dtype=np.int64)}, dtype="I64"
    )
    with pytest.raises(FingerprintError, match="no float weight tensors"):
        file_fingerprint(path)


def test_checkpoints_match_their_casts_and_not_other_checkpoints(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = {
        f"model.diffusion_model.input_blocks.{i}.1.proj_in.weight": rng.standard_normal(
            (320, 320)
        ).astype(np.float32)
        for i in (1, 2)
    }
    base["first_stage_model.decoder.conv_in.weight"] = rng.standard_normal((512, 4, 3, 3)).astype(
        np.float32
    )
    tuned = {k: v + 0.05 * rng.standard_normal(v.shape).astype(np.float32) for k, v in base.items()}
    renamed = {
        k.replace("model.diffusion_model.input_blocks.1.1", "unet.down_blocks.0.attentions.0"): v
        for k, v in base.items()
    }
    a = file_fingerprint(
        write_safetensors(tmp_path / "a.safetensors", base, dtype="F16"), Kind.CHECKPOINT
    )
    b = file_fingerprint(
        write_safetensors(tmp_path / "b.safetensors", base, dtype="BF16"), Kind.CHECKPOINT
    )
    c = file_fingerprint(
        write_safetensors(tmp_path / "c.safetensors", renamed, dtype="F32"), Kind.CHECKPOINT
    )
    t = file_fingerprint(
        write_safetensors(tmp_path / "t.safetensors", tuned, dtype="F16"), Kind.CHECKPOINT
    )
    assert a.kind == "weights"
    assert a.similarity(b) >= a.threshold
    assert a.similarity(c) >= a.threshold
    assert a.similarity(t) < a.threshold


def test_embeddings_are_fingerprinted_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    emb = {
        "clip_l": rng.standard_normal((4, 768)).astype(np.float32),
        "clip_g": rng.standard_normal((4, 1280)).astype(np.float32),
    }
    other = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in emb.items()}
    a = file_fingerprint(
        write_safetensors(tmp_path / "a.safetensors", emb, dtype="F32"), Kind.TEXTUAL_INVERSION
    )
    b = file_fingerprint(
        write_safetensors(tmp_path / "b.safetensors", emb, dtype="F16"), Kind.TEXTUAL_INVERSION
    )
    c = file_fingerprint(
        write_safetensors(tmp_path / "c.safetensors", other, dtype="F16"), Kind.TEXTUAL_INVERSION
    )
    assert a.kind == "embedding" and a.similarity(b) > 0.999 and a.similarity(c) < a.threshold
    lora = Fingerprint(kind="adapter", modules=a.modules, vector=a.vector)
    assert lora.similarity(a) == 0.0


def test_inconsistent_factor_shapes_are_an_error_not_a_crash(tmp_path: Path) -> None:
    bad = {
        "lora_unet_x.lora_down.weight": np.ones((4, 32), dtype=np.float32),
        "lora_unet_x.lora_up.weight": np.ones((16, 8), dtype=np.float32),  # rank 8 != 4
        "lora_unet_x.alpha": np.asarray(4.0, dtype=np.float32),
    }
    path = write_safetensors(tmp_path / "bad.safetensors", bad, dtype="F32")
    with pytest.raises(FingerprintError, match="module model_x"):
        file_fingerprint(path)


def test_non_finite_updates_are_skipped(tmp_path: Path) -> None:
    tensors = lora_tensors("sd1", "kohya", modules=4, seed=9, te=False)
    first = next(k for k in tensors if k.endswith(".lora_up.weight"))
    tensors[first] = np.full_like(tensors[first], np.nan)
    path = write_safetensors(tmp_path / "nan.safetensors", tensors, dtype="F32")
    assert file_fingerprint(path).modules == 3
