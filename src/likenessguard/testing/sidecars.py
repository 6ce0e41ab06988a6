"""What sits next to a model on a hub: model cards, Civitai sidecars, preview images.

Evidence extraction reads these texts (card front matter, ``*.civitai.info``
listings, the generation parameters A1111/Forge and ComfyUI embed in PNGs), so
the fixtures reproduce their exact formats. Preview images are abstract shapes
and noise drawn here: no person is ever depicted and no image model is run.
The PNG encoder is our own (a few chunks and zlib) so the core needs no Pillow.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml


def make_model_card(
    directory: str | Path,
    *,
    title: str,
    tags: Sequence[str] = (),
    base_model: str | None = None,
    instance_prompt: str | None = None,
    widget_prompts: Sequence[str] = (),
    body: str = "",
    license: str = "openrail++",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``directory/README.md`` as the Hugging Face hub renders model cards.

    YAML front matter (``tags``, ``base_model``, ``instance_prompt``, ``widget``
    with ``text`` entries, ``license``, plus ``extra``), then ``# title`` and ``body``.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    front: dict[str, Any] = {"license": license, "tags": list(tags)}
    if base_model:
        front["base_model"] = base_model
    if instance_prompt:
        front["instance_prompt"] = instance_prompt
    if widget_prompts:
        front["widget"] = [
            {"text": p, "output": {"url": f"images/example_{i}.png"}}
            for i, p in enumerate(widget_prompts)
        ]
    if extra:
        front.update(extra)
    text = "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n"
    text += f"# {title}\n\n"
    if instance_prompt:
        text += (
            f"## Trigger words\n\nYou should use `{instance_prompt}` "
            "to trigger the image generation.\n\n"
        )
    if body:
        text += body.rstrip() + "\n"
    path = d / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def civitai_listing(
    *,
    model_id: int,
    version_id: int,
    name: str,
    version_name: str = "v1.0",
    model_type: str = "LORA",
    base_model: str = "SDXL 1.0",
    trained_words: Sequence[str] = (),
    description: str = "",
    tags: Sequence[str] = (),
    nsfw: bool = False,
    poi: bool = False,
    files: Iterable[Mapping[str, Any]] = (),
    images: Iterable[Mapping[str, Any]] = (),
    creator: str = "someone",
) -> dict[str, Any]:
    """A Civitai model-version record shaped like ``GET /api/v1/model-versions/{id}``,
    as Civitai Helper saves it in ``*.civitai.info`` sidecars."""
    return {
        "id": version_id,
        "modelId": model_id,
        "name": version_name,
        "createdAt": "2024-05-01T12:00:00.000Z",
        "updatedAt": "2024-05-01T12:00:00.000Z",
        "trainedWords": list(trained_words),
        "baseModel": base_model,
        "baseModelType": "Standard",
        "description": description,
        "model": {"name": name, "type": model_type, "nsfw": nsfw, "poi": poi, "tags": list(tags)},
        "creator": {"username": creator},
        "files": [dict(f) for f in files],
        "images": [dict(i) for i in images],
        "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
    }


def civitai_file_hashes(path: str | Path) -> dict[str, str]:
    """A file's ``hashes`` object as the Civitai API reports it (upper-case hex).

    ``SHA256``; ``AutoV2`` (its first 10); ``AutoV1`` (first 8 of sha256 of the
    64 KiB at 1 MiB; omitted under 2 MiB, as Civitai does); ``AutoV3`` (first
    12 of sha256 of a safetensors file's tensor data); ``BLAKE3``; ``CRC32``
    (zlib, most significant byte first). Computed independently of
    ``likenessguard.hashing`` so tests can compare the two.
    """
    import blake3  # a core dependency; imported here as only this helper needs it

    raw = Path(path).read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    out = {"SHA256": sha.upper(), "AutoV2": sha[:10].upper()}
    if len(raw) >= 2 << 20:
        out["AutoV1"] = (
            hashlib.sha256(raw[1 << 20 : (1 << 20) + (64 << 10)]).hexdigest()[:8].upper()
        )
    if raw[8:9] == b"{" and len(raw) >= 8:
        (n,) = struct.unpack("<Q", raw[:8])
        if 8 + n <= len(raw):
            out["AutoV3"] = hashlib.sha256(raw[8 + n :]).hexdigest()[:12].upper()
    out["BLAKE3"] = blake3.blake3(raw).hexdigest().upper()
    out["CRC32"] = f"{zlib.crc32(raw):08X}"
    return out


def civitai_model_object(listing: Mapping[str, Any]) -> dict[str, Any]:
    """The ``GET /api/v1/models/{id}`` object holding one model-version ``listing``
    (what bank imports read ``modelVersions[].files[].hashes`` from)."""
    model = dict(listing.get("model", {}))
    version = {k: v for k, v in listing.items() if k != "model"}
    return {
        "id": listing.get("modelId"),
        "name": model.get("name", ""),
        "type": model.get("type", "LORA"),
        "nsfw": model.get("nsfw", False),
        "poi": model.get("poi", False),
        "tags": model.get("tags", []),
        "creator": listing.get("creator", {}),
        "modelVersions": [version],
    }


LISTING_HASHES = ("AutoV1", "AutoV2", "SHA256", "CRC32", "BLAKE3")
"""The hash names a listing record carries (``../shared/data`` keeps these five)."""


def listing_record(
    *,
    model_id: int,
    model_type: str,
    name: str,
    poi: bool,
    nsfw: bool,
    tags: Sequence[str] = (),
    description: str = "",
    version_name: str = "v1.0",
    base_model: str = "SDXL 1.0",
    trained_words: Sequence[str] = (),
    files: Iterable[str | Path] = (),
    prompts: Sequence[str] = (),
) -> dict[str, Any]:
    """A listing record in the shape of ``../shared/data/civitai-2023-07-dev.jsonl``.

    ``{id, type, name, poi, nsfw, tags, description, versions: [{name, baseModel,
    trainedWords, description, files: [{name, sizeKB, hashes}], images: [{prompt}]}]}``;
    ``poi``/``nsfw`` are the labels (Civitai's "person of interest" and "not safe
    for work"). ``files`` are paths whose hashes are computed; ``hashes`` keeps
    :data:`LISTING_HASHES` (``AutoV1`` omitted under 2 MiB).
    """
    file_objs = []
    for f in files:
        path = Path(f)
        hashes = civitai_file_hashes(path)
        file_objs.append(
            {
                "name": path.name,
                "sizeKB": round(path.stat().st_size / 1024),
                "hashes": {k: hashes[k] for k in LISTING_HASHES if k in hashes},
            }
        )
    return {
        "id": model_id,
        "type": model_type,
        "name": name,
        "poi": poi,
        "nsfw": nsfw,
        "tags": list(tags),
        "description": description,
        "versions": [
            {
                "name": version_name,
                "baseModel": base_model,
                "trainedWords": list(trained_words),
                "description": "",
                "files": file_objs,
                "images": [{"prompt": p} for p in prompts],
            }
        ],
    }


def make_civitai_info(path: str | Path, listing: Mapping[str, Any]) -> Path:
    """Write a ``*.civitai.info`` sidecar (pretty JSON of a Civitai listing record).

    ``path`` is the sidecar itself (ending ``.civitai.info``) or the model file
    it belongs to (``x.safetensors`` -> ``x.civitai.info``). Returns the sidecar.
    """
    p = Path(path)
    if not p.name.endswith(".civitai.info"):
        p = p.with_name(p.name.rsplit(".", 1)[0] + ".civitai.info")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(listing, indent=4, ensure_ascii=False), encoding="utf-8")
    return p


def a1111_parameters(
    prompt: str,
    negative: str = "lowres, bad anatomy, worst quality",
    *,
    steps: int = 20,
    sampler: str = "DPM++ 2M Karras",
    cfg: float = 7.0,
    seed: int = 1234567890,
    size: tuple[int, int] = (832, 1216),
    model_hash: str = "31e35c80fc",
    model: str = "sd_xl_base_1.0",
    lora_hashes: Mapping[str, str] | None = None,
    version: str = "v1.10.1",
) -> str:
    """The ``parameters`` text AUTOMATIC1111/Forge embeds in a PNG.

    ``prompt\\nNegative prompt: ...\\nSteps: 20, Sampler: ..., Model hash: 10hex,
    Model: name, Lora hashes: "name: 12hex, name2: 12hex", Version: ...``.
    ``lora_hashes`` maps LoRA names to their AutoV3 prefix (12 hex).
    """
    fields = [
        f"Steps: {steps}",
        f"Sampler: {sampler}",
        f"CFG scale: {cfg:g}",
        f"Seed: {seed}",
        f"Size: {size[0]}x{size[1]}",
        f"Model hash: {model_hash}",
        f"Model: {model}",
    ]
    if lora_hashes:
        joined = ", ".join(f"{name}: {h}" for name, h in lora_hashes.items())
        fields.append(f'Lora hashes: "{joined}"')
    fields.append(f"Version: {version}")
    return f"{prompt}\nNegative prompt: {negative}\n" + ", ".join(fields)


def comfy_prompt(
    positive: str, *, lora_name: str | None = None, ckpt: str = "sd_xl_base_1.0.safetensors"
) -> dict[str, Any]:
    """A minimal ComfyUI API-format ``prompt`` graph: checkpoint, LoRA, text encode, sampler."""
    graph: dict[str, Any] = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["10", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 42,
                "steps": 20,
                "cfg": 7,
                "sampler_name": "euler",
                "model": ["10", 0],
            },
        },
    }
    graph["10"] = {
        "class_type": "LoraLoader",
        "inputs": {
            "lora_name": lora_name or "none.safetensors",
            "strength_model": 1.0,
            "strength_clip": 1.0,
            "model": ["4", 0],
            "clip": ["4", 1],
        },
    }
    return graph


def comfy_workflow(prompt: Mapping[str, Any]) -> dict[str, Any]:
    """A ComfyUI UI-format ``workflow`` (nodes with widgets) for an API ``prompt`` graph."""
    nodes = []
    for node_id, node in prompt.items():
        widgets = [v for v in node["inputs"].values() if not isinstance(v, list)]
        nodes.append({"id": int(node_id), "type": node["class_type"], "widgets_values": widgets})
    return {
        "last_node_id": max(int(k) for k in prompt),
        "nodes": nodes,
        "links": [],
        "version": 0.4,
    }


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _text_chunk(key: str, value: str) -> bytes:
    # Pillow (and so A1111) writes tEXt when the text is Latin-1, else iTXt.
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def png_bytes(rgb: np.ndarray[Any, Any], text: Mapping[str, str] | None = None) -> bytes:
    """Encode an (H, W, 3) uint8 array as a PNG with the given text chunks (before IDAT)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[y].astype(np.uint8).tobytes() for y in range(h))
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    for k, v in (text or {}).items():
        out += _text_chunk(k, v)
    return out + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def abstract_image(size: int = 64, *, seed: int = 0) -> np.ndarray[Any, Any]:
    """An abstract picture (gradient, discs, bars, noise) drawn from ``seed``; never a person."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    img = (c0[None, None, :] * (1 - x[..., None]) + c1[None, None, :] * y[..., None]) / 1.5
    for _ in range(3):
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.25)
        mask = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    top, left = rng.integers(0, size // 2, 2)
    img[top : top + size // 6, left : left + size // 2] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 8, img.shape)
    out: np.ndarray[Any, Any] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def make_preview_png(
    path: str | Path,
    *,
    parameters: str | None,
    comfy_workflow: Mapping[str, Any] | None = None,
    comfy_prompt: Mapping[str, Any] | None = None,
    seed: int = 0,
    size: int = 64,
) -> Path:
    """Write a small abstract PNG carrying generation text like a hub preview image.

    Args:
        parameters: A1111/Forge ``parameters`` text (see :func:`a1111_parameters`), or None.
        comfy_workflow / comfy_prompt: ComfyUI ``workflow`` and ``prompt`` JSON chunks.
        seed: picks the shapes and colours.
    """
    text: dict[str, str] = {}
    if parameters is not None:
        text["parameters"] = parameters
    if comfy_prompt is not None:
        text["prompt"] = json.dumps(comfy_prompt)
    if comfy_workflow is not None:
        text["workflow"] = json.dumps(comfy_workflow)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(png_bytes(abstract_image(size, seed=seed), text))
    return p


def read_png_text(path: str | Path) -> dict[str, str]:
    """The tEXt/iTXt chunks of a PNG (a trusted helper for tests of these fixtures)."""
    raw = Path(path).read_bytes()
    pos, out = 8, {}
    while pos + 8 <= len(raw):
        (n,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, data = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + n]
        if kind == b"tEXt":
            k, _, v = data.partition(b"\0")
            out[k.decode("latin-1")] = v.decode("latin-1")
        elif kind == b"iTXt":
            k, _, rest = data.partition(b"\0")
            # iTXt: compression flag, method, language\0, translated keyword\0, text
            parts = rest[2:].split(b"\0", 2)
            out[k.decode("latin-1")] = parts[2].decode("utf-8") if len(parts) == 3 else ""
        pos += 12 + n
    return out
