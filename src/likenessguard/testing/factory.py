"""Write realistic model files from random tensors: the fixtures every test and the demo use.

Trust-and-safety code must be tested against files that look exactly like the
ones on model hubs (real key names, real shapes, real kohya metadata), yet the
repository may hold no model weights and no imagery. So every fixture is drawn
here from a seeded random generator, in the same byte layout real tools write.

The safetensors writer is our own (the ``safetensors`` package is a dev
dependency only, used by the tests to check these files parse back). Layouts of
each family are in :mod:`likenessguard.testing.layouts`.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from likenessguard.testing.layouts import FAMILIES, SD_FAMILIES, Module, modules_for

FloatArray = npt.NDArray[np.float32]

SCHEMES: tuple[str, ...] = ("kohya", "diffusers_peft", "comfy")
KINDS: tuple[str, ...] = ("lora", "locon", "loha", "lokr", "dora")
DTYPES: tuple[str, ...] = ("F16", "F32", "BF16", "F64")

# safetensors dtype name -> (numpy dtype used to store the bytes, bytes per item)
_NP_DTYPES: dict[str, np.dtype[Any]] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "BOOL": np.dtype("?"),
}
_NATIVE_NAMES: dict[str, str] = {
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "int8": "I8",
    "uint8": "U8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "bool": "BOOL",
}


# --- safetensors -------------------------------------------------------------------


def to_bf16_bits(values: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    """bfloat16 bit patterns of ``values``: the upper 16 bits of float32, rounded to nearest even.

    NaNs stay (quiet) NaNs; rounding may carry into the exponent and produce
    infinity for values above the bfloat16 range, as torch does.
    """
    shape = np.shape(values)
    # ascontiguousarray makes 0-d arrays 1-d; the shape is restored on return.
    f = np.ascontiguousarray(values, dtype=np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    out = ((bits + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(f)
    if nan.any():
        out[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return out.reshape(shape)


def from_bf16_bits(bits: npt.ArrayLike) -> FloatArray:
    """float32 values of bfloat16 bit patterns (exact: bfloat16 is a float32 prefix)."""
    b = np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16
    return b.view(np.float32)


def _encoded(array: npt.ArrayLike, dtype: str) -> np.ndarray[Any, Any]:
    """``array`` as a contiguous little-endian array holding the bytes of safetensors ``dtype``."""
    if dtype not in _NP_DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {', '.join(_NP_DTYPES)}")
    if dtype == "BF16":
        return to_bf16_bits(array)
    return np.ascontiguousarray(array, dtype=_NP_DTYPES[dtype])


def encode_tensor(array: npt.ArrayLike, dtype: str) -> bytes:
    """Little-endian bytes of ``array`` cast to safetensors ``dtype`` (BF16: nearest even)."""
    return _encoded(array, dtype).tobytes()


def _dtype_for(name: str, array: np.ndarray[Any, Any], dtype: str | Mapping[str, str]) -> str:
    if isinstance(dtype, str):
        return dtype
    if name in dtype:
        return dtype[name]
    native = _NATIVE_NAMES.get(array.dtype.name)
    if native is None:
        raise ValueError(f"tensor {name!r} has numpy dtype {array.dtype} and no dtype was given")
    return native


def _layout(
    tensors: Mapping[str, npt.ArrayLike],
    metadata: Mapping[str, str] | None,
    dtype: str | Mapping[str, str],
) -> tuple[bytes, list[np.ndarray[Any, Any]]]:
    """The 8-byte length + padded header, and the encoded arrays in file order."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays: list[np.ndarray[Any, Any]] = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dt = _dtype_for(name, array, dtype)
        data = _encoded(array, dt)
        header[name] = {
            "dtype": dt,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + data.nbytes],
        }
        arrays.append(data)
        offset += data.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # The format pads the header with spaces so the data region starts 8-aligned.
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, arrays


def safetensors_bytes(
    tensors: Mapping[str, npt.ArrayLike],
    metadata: Mapping[str, str] | None = None,
    dtype: str | Mapping[str, str] = "F16",
) -> bytes:
    """The bytes :func:`write_safetensors` would write (see there)."""
    head, arrays = _layout(tensors, metadata, dtype)
    return head + b"".join(a.tobytes() for a in arrays)


def write_safetensors(
    path: str | Path,
    tensors: Mapping[str, npt.ArrayLike],
    metadata: Mapping[str, str] | None = None,
    dtype: str | Mapping[str, str] = "F16",
) -> Path:
    """Write a .safetensors file exactly as the reference implementation lays it out.

    An 8-byte little-endian header length, a compact JSON header (``__metadata__``
    first, then tensors sorted by name with contiguous ``data_offsets``), padded
    with spaces to a multiple of 8, then the tensor bytes in the same order.

    Args:
        path: where to write (parent folders are created).
        tensors: name -> array (any float/int array; cast on write).
        metadata: string -> string map stored as ``__metadata__`` (omitted if empty).
        dtype: one of F16, F32, BF16, F64 (also I8/U8/I16/I32/I64/BOOL) for all
            tensors, or a mapping name -> dtype; tensors missing from the
            mapping keep their numpy dtype.

    Returns:
        The path written.

    Example:
        >>> write_safetensors(tmp / "x.safetensors", {"w": np.ones((2, 2))}, {"a": "b"}, "BF16")
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    head, arrays = _layout(tensors, metadata, dtype)
    # Stream each array's buffer: no joined copy of the whole file in memory.
    with p.open("wb") as f:
        f.write(head)
        for a in arrays:
            f.write(a.data)
    return p


def read_safetensors(path: str | Path) -> tuple[dict[str, FloatArray], dict[str, str]]:
    """Read back a file written by :func:`write_safetensors` (float tensors as float32).

    A small trusted reader for fixtures and tests (demo copies are derived from
    originals with it); the scanner's hardened reader lives in ``artifacts``.
    """
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out: dict[str, FloatArray] = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        buf = raw[base + begin : base + end]
        dt = info["dtype"]
        if dt == "BF16":
            arr = from_bf16_bits(np.frombuffer(buf, dtype="<u2"))
        else:
            arr = np.frombuffer(buf, dtype=_NP_DTYPES[dt]).astype(np.float32)
        out[name] = arr.reshape(info["shape"])
    return out, dict(meta)


# --- LoRA tensors --------------------------------------------------------------------

_TE_PREFIX = {
    # part -> (kohya prefix, diffusers/PEFT prefix)
    "te": ("lora_te_", "text_encoder."),
    "te1": ("lora_te1_", "text_encoder."),
    "te2": ("lora_te2_", "text_encoder_2."),
}


def module_key(module: Module, family: str, scheme: str) -> str:
    """The key stem of ``module`` in ``scheme`` (without ``.lora_down.weight`` etc.).

    kohya: ``lora_unet_`` + the name with dots as underscores; sd-scripts uses
    diffusers names for SD1/SD2 and the original (LDM/BFL/...) names for SDXL
    and the DiT families. diffusers_peft: ``unet.``/``transformer.``/
    ``text_encoder.`` + the diffusers name. comfy: ``diffusion_model.`` + the
    original name (ComfyUI and musubi-tuner).
    """
    if module.part != "unet":
        kohya_prefix, peft_prefix = _TE_PREFIX[module.part]
        if scheme == "diffusers_peft":
            return peft_prefix + (module.diffusers or module.native)
        if scheme == "comfy":
            return "text_encoders." + module.native
        return kohya_prefix + module.native.replace(".", "_")
    if scheme == "kohya":
        name = module.diffusers if family in ("sd1", "sd2") else module.native
        return "lora_unet_" + (name or module.native).replace(".", "_")
    if scheme == "diffusers_peft":
        prefix = "unet." if family in SD_FAMILIES else "transformer."
        return prefix + (module.diffusers or module.native)
    if scheme == "comfy":
        return "diffusion_model." + module.native
    raise ValueError(f"unknown key scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")


def _select(mods: list[Module], count: int | None) -> list[Module]:
    """Keep ``count`` modules, always including the ones that identify the family.

    The first module of each part and of each top-level block group, and the
    first cross-attention key projection, carry the discriminating shapes
    (context width, text-encoder width); the rest are spread evenly so a small
    fixture still spans the whole network.
    """
    if count is None or count >= len(mods):
        return mods
    if count <= 0:
        raise ValueError("modules must be positive")
    keep: list[int] = []
    seen: set[tuple[str, str]] = set()
    cross_seen = False
    for i, m in enumerate(mods):
        group = (m.part, m.native.split(".", 1)[0])
        if group not in seen:
            seen.add(group)
            keep.append(i)
        if not cross_seen and (".attn2.to_k" in m.native or ".cross_attn.k" in m.native):
            cross_seen = True
            keep.append(i)
    keep = sorted(set(keep))[:count]
    rest = [i for i in range(len(mods)) if i not in set(keep)]
    need = count - len(keep)
    if need > 0 and rest:
        picks = np.linspace(0, len(rest) - 1, num=need).round().astype(int)
        keep = sorted(set(keep) | {rest[i] for i in picks})
    return [mods[i] for i in keep]


def _factor(n: int) -> tuple[int, int]:
    """LyCORIS ``factorization(n, -1)``: the split a*b=n with a<=b closest to sqrt(n)."""
    a = int(np.sqrt(n))
    while n % a:
        a -= 1
    return a, n // a


def lora_tensors(
    family: str = "sdxl",
    scheme: str = "kohya",
    *,
    kind: str = "lora",
    rank: int = 8,
    alpha: float = 4.0,
    seed: int = 0,
    modules: int | None = None,
    te: bool = True,
    variant: str | None = None,
) -> dict[str, FloatArray]:
    """Random LoRA/LyCORIS/DoRA weights with real key names and shapes for ``family``.

    Args:
        family: sd1, sd2, sdxl, sd3, flux1, wan, hunyuan_video, ltx_video.
        scheme: ``kohya`` (``lora_down``/``lora_up``/``alpha``),
            ``diffusers_peft`` (``lora_A``/``lora_B``, no alpha tensors) or
            ``comfy`` (``diffusion_model.`` + ``lora_down``/``lora_up``/``alpha``).
        kind: ``lora``; ``locon`` (kohya keys, adds 3x3/1x1 conv layers with 4-D
            factors on SD families); ``loha`` (``hada_w1_a/b``, ``hada_w2_a/b``);
            ``lokr`` (``lokr_w1`` + ``lokr_w2`` or ``lokr_w2_a/b``); ``dora``
            (LoRA + ``dora_scale``, or ``lora_magnitude_vector`` for PEFT).
        rank: network dim. alpha: network alpha (stored per module, not for PEFT).
        seed: the same seed gives the same arrays.
        modules: keep only this many modules (small, fast fixtures); the
            family-identifying ones are always kept. ``None`` = the full set.
        te: include text-encoder modules (SD families; never for ``comfy``).
        variant: Wan size ``"1.3b"`` (default) or ``"14b"``.

    Returns:
        name -> float32 array. Up/B factors are non-zero (a freshly initialised
        LoRA has zero up weights; a trained one does not, and fingerprints need it).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, FloatArray] = {}
    for name, shape, init in _lora_plan(
        family, scheme, kind=kind, rank=rank, modules=modules, te=te, variant=variant
    ):
        if init == "alpha":
            out[name] = np.asarray(alpha, dtype=np.float32)
        elif init == "magnitude":
            # DoRA magnitudes are column norms of the base weight: positive.
            out[name] = (np.abs(rng.standard_normal(shape, dtype=np.float32)) + 0.5).astype(
                np.float32
            )
        else:
            out[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(init)
    return out


def lora_shapes(
    family: str = "sdxl",
    scheme: str = "kohya",
    *,
    kind: str = "lora",
    rank: int = 8,
    modules: int | None = None,
    te: bool = True,
    variant: str | None = None,
) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes :func:`lora_tensors` would return, without drawing arrays."""
    return {
        n: s
        for n, s, _ in _lora_plan(
            family, scheme, kind=kind, rank=rank, modules=modules, te=te, variant=variant
        )
    }


def _lora_plan(
    family: str,
    scheme: str,
    *,
    kind: str,
    rank: int,
    modules: int | None,
    te: bool,
    variant: str | None,
) -> list[tuple[str, tuple[int, ...], float | str]]:
    """(name, shape, init) for each tensor: init is a normal std, "alpha" or "magnitude"."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown key scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if scheme == "diffusers_peft" and kind in ("loha", "lokr", "locon"):
        raise ValueError(f"{kind} is a LyCORIS format: use scheme 'kohya' or 'comfy'")
    mods = modules_for(
        family,
        diffusers=scheme == "diffusers_peft",
        te=te and scheme != "comfy",
        convs=kind == "locon",
        variant=variant,
    )
    plan: list[tuple[str, tuple[int, ...], float | str]] = []
    for m in _select(mods, modules):
        stem = module_key(m, family, scheme)
        kh, kw = m.kernel or (1, 1)
        fan_in = m.in_dim * kh * kw
        inv = float(1.0 / np.sqrt(fan_in))
        if kind in ("lora", "locon", "dora"):
            # kohya LoCon: the down conv carries the kernel, the up conv is 1x1.
            down = (rank, m.in_dim, kh, kw) if m.is_conv else (rank, m.in_dim)
            up = (m.out_dim, rank, 1, 1) if m.is_conv else (m.out_dim, rank)
            if scheme == "diffusers_peft":
                plan += [(f"{stem}.lora_A.weight", down, inv), (f"{stem}.lora_B.weight", up, 0.02)]
                if kind == "dora":
                    plan.append((f"{stem}.lora_magnitude_vector", (m.out_dim,), "magnitude"))
                continue
            plan += [
                (f"{stem}.lora_down.weight", down, inv),
                (f"{stem}.lora_up.weight", up, 0.02),
                (f"{stem}.alpha", (), "alpha"),
            ]
            if kind == "dora":
                shape = (1, m.out_dim, 1, 1) if m.is_conv else (1, m.out_dim)
                plan.append((f"{stem}.dora_scale", shape, "magnitude"))
        elif kind == "loha":
            plan += [
                (f"{stem}.hada_w1_a", (m.out_dim, rank), 0.05),
                (f"{stem}.hada_w1_b", (rank, fan_in), inv),
                (f"{stem}.hada_w2_a", (m.out_dim, rank), 0.05),
                (f"{stem}.hada_w2_b", (rank, fan_in), inv),
                (f"{stem}.alpha", (), "alpha"),
            ]
        else:  # lokr
            a, b = _factor(m.out_dim)
            c, d = _factor(fan_in)
            plan.append((f"{stem}.lokr_w1", (a, c), 0.1))
            # LyCORIS decomposes w2 only when the rank is small next to its sides.
            if rank < max(b, d) / 2:
                plan += [
                    (f"{stem}.lokr_w2_a", (b, rank), 0.05),
                    (f"{stem}.lokr_w2_b", (rank, d), float(1.0 / np.sqrt(d))),
                ]
            else:
                plan.append((f"{stem}.lokr_w2", (b, d), 0.02))
            plan.append((f"{stem}.alpha", (), "alpha"))
    return plan


# --- kohya metadata ------------------------------------------------------------------

BASE_MODEL_VERSIONS: dict[str, str] = {
    "sd1": "sd_v1",
    "sd2": "sd_v2",
    "sdxl": "sdxl_base_v1-0",
    "sd3": "sd3",
    "flux1": "flux1",
    "wan": "wan2.1",
    "hunyuan_video": "hunyuan_video",
    "ltx_video": "ltx_video",
}
MODELSPEC_ARCHITECTURES: dict[str, str] = {
    "sd1": "stable-diffusion-v1/lora",
    "sd2": "stable-diffusion-v2-512/lora",
    "sdxl": "stable-diffusion-xl-v1-base/lora",
    "sd3": "stable-diffusion-3-medium/lora",
    "flux1": "flux-1-dev/lora",
    "wan": "wan2.1-t2v-1.3b/lora",
    "hunyuan_video": "hunyuan-video/lora",
    "ltx_video": "ltx-video/lora",
}
_DEFAULT_BASE_NAMES: dict[str, str] = {
    "sd1": "v1-5-pruned-emaonly.safetensors",
    "sd2": "v2-1_768-ema-pruned.safetensors",
    "sdxl": "sd_xl_base_1.0.safetensors",
    "sd3": "sd3_medium.safetensors",
    "flux1": "flux1-dev.safetensors",
    "wan": "wan2.1_t2v_1.3B_bf16.safetensors",
    "hunyuan_video": "mp_rank_00_model_states.pt",
    "ltx_video": "ltx-video-2b-v0.9.safetensors",
}
_RESOLUTIONS: dict[str, int] = {"sd1": 512, "sd2": 768}

# Neutral captioning vocabulary (WD14/BLIP-style); nothing sexual: callers pass
# their own tag tables for sexual or minor-risk fixtures.
_TAG_WORDS: tuple[str, ...] = (
    "solo",
    "looking at viewer",
    "smile",
    "simple background",
    "upper body",
    "portrait",
    "realistic",
    "photorealistic",
    "outdoors",
    "indoors",
    "day",
    "sky",
    "cloud",
    "tree",
    "closed mouth",
    "open mouth",
    "teeth",
    "lips",
    "nose",
    "makeup",
    "eyelashes",
    "jewelry",
    "earrings",
    "necklace",
    "watch",
    "bracelet",
    "ring",
    "glasses",
    "sunglasses",
    "hat",
    "scarf",
    "jacket",
    "coat",
    "sweater",
    "hoodie",
    "t-shirt",
    "collared shirt",
    "dress",
    "skirt",
    "pants",
    "jeans",
    "shorts",
    "boots",
    "sneakers",
    "standing",
    "sitting",
    "walking",
    "from side",
    "from behind",
    "from above",
    "from below",
    "close-up",
    "cowboy shot",
    "full body",
    "depth of field",
    "blurry background",
    "bokeh",
    "film grain",
    "lens flare",
    "sunlight",
    "backlighting",
    "night",
    "city",
    "street",
    "building",
    "window",
    "curtains",
    "plant",
    "flower",
    "grass",
    "beach",
    "ocean",
    "mountain",
    "snow",
    "rain",
    "umbrella",
    "holding",
    "holding cup",
    "cup",
    "book",
    "phone",
    "bag",
    "handbag",
    "table",
    "chair",
    "couch",
    "bed",
    "lamp",
    "wooden floor",
    "wall",
    "brick wall",
    "looking away",
    "looking to the side",
    "head tilt",
    "hand up",
    "arms crossed",
    "hand on hip",
    "short sleeves",
    "long sleeves",
)
_COLOURS: tuple[str, ...] = (
    "black",
    "white",
    "brown",
    "blonde",
    "red",
    "blue",
    "green",
    "grey",
    "pink",
    "purple",
    "orange",
    "yellow",
    "aqua",
    "beige",
)
_ITEMS: tuple[str, ...] = (
    "hair",
    "eyes",
    "shirt",
    "dress",
    "jacket",
    "background",
    "skirt",
    "pants",
    "hat",
    "scarf",
    "sweater",
    "nails",
    "headwear",
    "footwear",
    "bow",
    "ribbon",
)


def default_tag_table(
    trigger: str, class_word: str, *, images: int = 40, seed: int = 0, size: int = 320
) -> dict[str, int]:
    """A realistic caption-tag frequency table: trigger and class on every image, a long tail after.

    ``size`` tags (~10 KB of JSON at the default), counts falling off like real
    WD14-captioned datasets; deterministic for ``seed``.
    """
    rng = np.random.default_rng(seed)
    vocab = list(_TAG_WORDS) + [f"{c} {i}" for c in _COLOURS for i in _ITEMS]
    order = rng.permutation(len(vocab))
    table: dict[str, int] = {trigger: images, class_word: images - 2}
    for rank, idx in enumerate(order[: max(0, size - 2)]):
        tag = vocab[int(idx)]
        if tag in table:
            continue
        # Zipf-like tail: a few tags on most images, most tags on one or two.
        count = max(1, int(images * 0.9 / (1 + rank * 0.35)))
        table[tag] = count
    return table


def _date(digest: str) -> str:
    day, hour = 1 + int(digest[0:2], 16) % 28, int(digest[2:4], 16) % 24
    minute, second = int(digest[4:6], 16) % 60, int(digest[6:8], 16) % 60
    return f"2024-05-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def kohya_metadata(
    *,
    output_name: str = "my_lora",
    trigger: str = "ohwx",
    class_word: str = "woman",
    tags: Mapping[str, int] | None = None,
    base_model: str = "sdxl",
    sd_model_name: str | None = None,
    dataset_dirs: Mapping[str, Mapping[str, int]] | None = None,
    comment: str | None = None,
    extra: Mapping[str, str] | None = None,
    rank: int = 8,
    alpha: float = 4.0,
    network_module: str = "networks.lora",
    network_args: Mapping[str, str] | None = None,
    model_hash: str | None = None,
    legacy_hash: str | None = None,
    images: int = 40,
    repeats: int = 10,
    seed: int = 0,
) -> dict[str, str]:
    """The ``__metadata__`` kohya-ss sd-scripts writes into a trained LoRA.

    JSON-valued keys (``ss_tag_frequency``, ``ss_dataset_dirs``,
    ``ss_network_args``, ``ss_bucket_info``) are JSON strings, as in real files.
    The dataset folder is ``"{repeats}_{trigger} {class_word}"``. With the
    defaults the map is ~10 KB, like an SDXL LoRA's.

    Args:
        tags: caption tag -> count; default is :func:`default_tag_table`.
        base_model: family, mapped to ``ss_base_model_version`` and
            ``modelspec.architecture``.
        sd_model_name: ``ss_sd_model_name``, the base checkpoint trained on.
        dataset_dirs: overrides ``ss_dataset_dirs`` (folder -> {n_repeats, img_count}).
        comment: ``ss_training_comment`` (None writes the literal "None", as sd-scripts does).
        extra: more keys, added last (overriding).
        model_hash, legacy_hash: ``sshs_model_hash``/``sshs_legacy_hash``;
            :func:`make_lora` fills in the real ones.
    """
    if base_model not in FAMILIES:
        raise ValueError(
            f"unknown base_model {base_model!r}; expected one of {', '.join(FAMILIES)}"
        )
    family = base_model
    folder = f"{repeats}_{trigger} {class_word}".strip()
    table = (
        dict(tags)
        if tags is not None
        else default_tag_table(trigger, class_word, images=images, seed=seed)
    )
    dirs = (
        {k: dict(v) for k, v in dataset_dirs.items()}
        if dataset_dirs is not None
        else {folder: {"n_repeats": repeats, "img_count": images}}
    )
    reso = _RESOLUTIONS.get(family, 1024)
    steps = images * repeats * 10 // 2
    digest = hashlib.sha256(f"{output_name}/{seed}".encode()).hexdigest()
    started = 1_700_000_000 + (int(digest[:6], 16) % 30_000_000)
    args = dict(network_args) if network_args is not None else {}
    if network_module == "lycoris.kohya" and not args:
        args = {"algo": "locon", "conv_dim": str(rank), "conv_alpha": str(alpha)}
    meta: dict[str, str] = {
        "ss_session_id": str(int(digest[6:14], 16)),
        "ss_training_started_at": f"{started}.{int(digest[14:20], 16) % 1000000}",
        "ss_output_name": output_name,
        "ss_learning_rate": "0.0001",
        "ss_text_encoder_lr": "5e-05",
        "ss_unet_lr": "0.0001",
        "ss_num_train_images": str(images * repeats),
        "ss_num_reg_images": "0",
        "ss_num_batches_per_epoch": str(images * repeats // 2),
        "ss_num_epochs": "10",
        "ss_epoch": "10",
        "ss_batch_size_per_device": "2",
        "ss_total_batch_size": "2",
        "ss_gradient_checkpointing": "True",
        "ss_gradient_accumulation_steps": "1",
        "ss_max_train_steps": str(steps),
        "ss_steps": str(steps),
        "ss_lr_warmup_steps": "0",
        "ss_lr_scheduler": "cosine_with_restarts",
        "ss_network_module": network_module,
        "ss_network_dim": str(rank),
        "ss_network_alpha": f"{alpha:g}",
        "ss_network_dropout": "None",
        "ss_network_args": json.dumps(args),
        "ss_mixed_precision": "bf16",
        "ss_full_fp16": "False",
        "ss_v2": str(family == "sd2"),
        "ss_base_model_version": BASE_MODEL_VERSIONS[family],
        "ss_clip_skip": "2" if family == "sd1" else "None",
        "ss_max_token_length": "225",
        "ss_cache_latents": "True",
        "ss_seed": str(42 + seed),
        "ss_lowram": "False",
        "ss_noise_offset": "0.0357",
        "ss_multires_noise_iterations": "None",
        "ss_multires_noise_discount": "0.3",
        "ss_adaptive_noise_scale": "None",
        "ss_zero_terminal_snr": "False",
        "ss_training_comment": comment if comment is not None else "None",
        "ss_sd_scripts_commit_hash": digest[20:60],
        "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit(weight_decay=0.01)",
        "ss_max_grad_norm": "1.0",
        "ss_caption_dropout_rate": "0.0",
        "ss_caption_dropout_every_n_epochs": "0",
        "ss_caption_tag_dropout_rate": "0.0",
        "ss_face_crop_aug_range": "None",
        "ss_prior_loss_weight": "1.0",
        "ss_min_snr_gamma": "5.0",
        "ss_scale_weight_norms": "None",
        "ss_ip_noise_gamma": "None",
        "ss_debiased_estimation": "False",
        "ss_loss_type": "l2",
        "ss_huber_schedule": "snr",
        "ss_huber_c": "0.1",
        "ss_training_finished_at": str(started + steps * 2),
        "ss_resolution": f"({reso}, {reso})",
        "ss_enable_bucket": "True",
        "ss_min_bucket_reso": "256",
        "ss_max_bucket_reso": str(reso * 2),
        "ss_bucket_no_upscale": "False",
        "ss_bucket_info": json.dumps(
            {
                "buckets": {
                    "0": {
                        "resolution": [reso * 7 // 8, reso * 9 // 8],
                        "count": images * repeats // 2,
                    },
                    "1": {"resolution": [reso, reso], "count": images * repeats // 2},
                },
                "mean_img_ar_error": 0.021,
            }
        ),
        "ss_tag_frequency": json.dumps({next(iter(dirs), folder): table}),
        "ss_dataset_dirs": json.dumps(dirs),
        "ss_reg_dataset_dirs": "{}",
        "ss_keep_tokens": "1",
        "ss_shuffle_caption": "True",
        "ss_color_aug": "False",
        "ss_flip_aug": "False",
        "ss_random_crop": "False",
        "ss_sd_model_name": sd_model_name or _DEFAULT_BASE_NAMES[family],
        "ss_sd_model_hash": digest[:8],
        "ss_new_sd_model_hash": hashlib.sha256(
            (sd_model_name or _DEFAULT_BASE_NAMES[family]).encode()
        ).hexdigest(),
        "ss_vae_name": "None",
        "sshs_model_hash": model_hash or hashlib.sha256(digest.encode()).hexdigest(),
        "sshs_legacy_hash": legacy_hash or digest[:8],
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": MODELSPEC_ARCHITECTURES[family],
        "modelspec.implementation": (
            "https://github.com/Stability-AI/generative-models"
            if family in ("sdxl", "sd3")
            else "diffusers"
        ),
        "modelspec.title": output_name,
        "modelspec.resolution": f"{reso}x{reso}",
        "modelspec.date": _date(digest),
        "modelspec.prediction_type": "epsilon",
        "modelspec.trigger_phrase": trigger,
    }
    if extra:
        meta.update({str(k): str(v) for k, v in extra.items()})
    return meta


def stripped_hashes(
    tensors: Mapping[str, npt.ArrayLike], dtype: str | Mapping[str, str]
) -> tuple[str, str]:
    """sd-scripts' ``sshs_model_hash`` and ``sshs_legacy_hash`` of a LoRA.

    sd-scripts hashes the file as it would be saved with no metadata:
    ``sshs_model_hash`` is the sha256 of those bytes from offset 8 + header
    length (the tensor data, i.e. AutoV3), ``sshs_legacy_hash`` the first 8 hex
    of sha256 of the 64 KiB at 1 MiB of that file (AutoV1; of the whole data if
    shorter).
    """
    raw = safetensors_bytes(tensors, None, dtype)
    (n,) = struct.unpack("<Q", raw[:8])
    model_hash = hashlib.sha256(raw[8 + n :]).hexdigest()
    block = raw[0x100000 : 0x100000 + 0x10000] if len(raw) > 0x100000 else raw
    return model_hash, hashlib.sha256(block).hexdigest()[:8]


def make_lora(
    path: str | Path,
    family: str = "sdxl",
    scheme: str = "kohya",
    *,
    kind: str = "lora",
    rank: int = 8,
    alpha: float = 4.0,
    dtype: str | Mapping[str, str] = "F16",
    seed: int = 0,
    modules: int | None = None,
    metadata: Mapping[str, str] | Literal[False] | None = None,
    te: bool = True,
    variant: str | None = None,
) -> Path:
    """Write a LoRA file: :func:`lora_tensors` + kohya metadata, as a trainer would save it.

    ``metadata=None`` writes default :func:`kohya_metadata` for the family with
    the real ``sshs_*`` hashes; ``False`` writes no metadata at all (as a
    metadata-stripped re-upload); a mapping is written as given.
    """
    tensors = lora_tensors(
        family,
        scheme,
        kind=kind,
        rank=rank,
        alpha=alpha,
        seed=seed,
        modules=modules,
        te=te,
        variant=variant,
    )
    meta: Mapping[str, str] | None
    if metadata is False:
        meta = None
    elif metadata is None:
        model_hash, legacy = stripped_hashes(tensors, dtype)
        # sd-scripts' own networks.lora trains plain LoRA; LyCORIS trains the
        # rest, DoRA as algo "lora" with weight decomposition on.
        module = "networks.lora" if kind == "lora" else "lycoris.kohya"
        args: dict[str, str] | None = None
        if kind == "dora":
            args = {"algo": "lora", "dora_wd": "True"}
        elif module == "lycoris.kohya":
            args = {"algo": kind}
        meta = kohya_metadata(
            output_name=Path(path).stem,
            base_model=family,
            rank=rank,
            alpha=alpha,
            network_module=module,
            network_args=args,
            model_hash=model_hash,
            legacy_hash=legacy,
            seed=seed,
        )
    else:
        meta = metadata
    return write_safetensors(path, tensors, meta, dtype)


# --- key-scheme conversion (for disguised copies) ------------------------------------------


def convert_lora(
    tensors: Mapping[str, npt.ArrayLike],
    family: str,
    to_scheme: str = "diffusers_peft",
    *,
    from_scheme: str = "kohya",
    bake_alpha: bool = True,
    variant: str | None = None,
) -> dict[str, FloatArray]:
    """Rename a plain LoRA between key schemes, as conversion scripts do.

    Only for layouts with a 1:1 module mapping (SD families, Wan, LTX-Video).
    PEFT has no alpha tensors, so converting to it bakes ``alpha/rank`` into
    the up (B) factor when ``bake_alpha`` (what diffusers' converters do),
    which leaves the effective update ``up @ down * alpha / rank`` unchanged.
    """
    if family not in ("sd1", "sd2", "sdxl", "wan", "ltx_video"):
        raise ValueError(f"{family} has no 1:1 module mapping between key schemes")
    src_mods = modules_for(family, diffusers=from_scheme == "diffusers_peft", variant=variant)
    dst_mods = modules_for(family, diffusers=to_scheme == "diffusers_peft", variant=variant)
    down_s, up_s = (
        (".lora_A.weight", ".lora_B.weight")
        if from_scheme == "diffusers_peft"
        else (".lora_down.weight", ".lora_up.weight")
    )
    down_d, up_d = (
        (".lora_A.weight", ".lora_B.weight")
        if to_scheme == "diffusers_peft"
        else (".lora_down.weight", ".lora_up.weight")
    )
    out: dict[str, FloatArray] = {}
    for src, dst in zip(src_mods, dst_mods, strict=True):
        s = module_key(src, family, from_scheme)
        if s + down_s not in tensors:
            continue
        d = module_key(dst, family, to_scheme)
        down = np.asarray(tensors[s + down_s], dtype=np.float32)
        up = np.asarray(tensors[s + up_s], dtype=np.float32)
        rank = down.shape[0]
        alpha_val = (
            float(np.asarray(tensors[s + ".alpha"])) if s + ".alpha" in tensors else float(rank)
        )
        if to_scheme == "diffusers_peft":
            if bake_alpha:
                up = (up * np.float32(alpha_val / rank)).astype(np.float32)
        else:
            out[d + ".alpha"] = np.asarray(alpha_val if not bake_alpha else rank, dtype=np.float32)
        out[d + down_d] = down
        out[d + up_d] = up
    return out


__all__ = [
    "BASE_MODEL_VERSIONS",
    "DTYPES",
    "KINDS",
    "MODELSPEC_ARCHITECTURES",
    "SCHEMES",
    "convert_lora",
    "default_tag_table",
    "encode_tensor",
    "from_bf16_bits",
    "kohya_metadata",
    "lora_shapes",
    "lora_tensors",
    "make_lora",
    "module_key",
    "read_safetensors",
    "safetensors_bytes",
    "stripped_hashes",
    "to_bf16_bits",
    "write_safetensors",
]
