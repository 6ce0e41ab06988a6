"""Generation text embedded in preview images, read as text (never pixels).

AUTOMATIC1111/Forge write a PNG ``tEXt``/``iTXt`` chunk ``parameters``::

    <prompt>
    Negative prompt: <negative>
    Steps: 20, Sampler: Euler a, Model hash: 6ce0161689, Lora hashes: "jane_roe: 1a2b3c4d5e6f"

ComfyUI writes ``prompt`` (the API graph) and ``workflow`` (the UI graph) as
JSON. The chunk parser is written here with ``struct`` and hard size bounds so
a hostile PNG cannot make us allocate or decompress without limit.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

from likenessguard.evidence._util import clip
from likenessguard.evidence.base import Evidence, EvidenceContext

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOURCE = "image-text"
# Text chunks larger than this are not generation text; stop reading them.
MAX_CHUNK = 1 << 20
MAX_CHUNKS = 64
MAX_DECOMPRESSED = 1 << 20
TEXT_TYPES = (b"tEXt", b"iTXt", b"zTXt")


def _inflate(data: bytes) -> str | None:
    d = zlib.decompressobj()
    try:
        raw = d.decompress(data, MAX_DECOMPRESSED)
    except zlib.error:
        return None
    return raw.decode("utf-8", "replace")


def _decode_chunk(ctype: bytes, data: bytes) -> tuple[str, str] | None:
    key, sep, rest = data.partition(b"\0")
    if not sep or not key:
        return None
    name = key.decode("latin-1")
    if ctype == b"tEXt":
        return name, rest.decode("latin-1")
    if ctype == b"zTXt":
        text = _inflate(rest[1:]) if rest[:1] == b"\0" else None
        return (name, text) if text is not None else None
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return None
    flag = rest[0]
    _lang, _, rest2 = rest[2:].partition(b"\0")
    _trans, _, body = rest2.partition(b"\0")
    if flag:
        text = _inflate(body)
        return (name, text) if text is not None else None
    return name, body.decode("utf-8", "replace")


def read_png_text(path: str | Path) -> dict[str, str]:
    """The text chunks of a PNG file (key -> text); ``{}`` when it is not a readable PNG.

    Image data chunks are skipped with ``seek``; only text chunks are read.
    """
    out: dict[str, str] = {}
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != PNG_SIGNATURE:
                return {}
            for _ in range(4096):
                head = fh.read(8)
                if len(head) < 8:
                    break
                length, ctype = struct.unpack(">I4s", head)
                if ctype == b"IEND":
                    break
                if ctype in TEXT_TYPES and length <= MAX_CHUNK and len(out) < MAX_CHUNKS:
                    data = fh.read(length)
                    if len(data) < length:
                        break
                    fh.seek(4, 1)  # CRC
                    decoded = _decode_chunk(ctype, data)
                    if decoded:
                        out[decoded[0]] = decoded[1]
                else:
                    fh.seek(length + 4, 1)
    except OSError:
        return out
    return out


def parse_parameters(text: str) -> dict[str, Any]:
    """Split an A1111 ``parameters`` text into prompt, negative prompt and settings.

    Returns ``{"prompt", "negative_prompt", "model_hash", "model", "lora_hashes": [(name, hash)]}``.
    """
    lines = text.strip().splitlines()
    settings = ""
    if lines and lines[-1].lstrip().startswith("Steps:"):
        settings = lines.pop()
    prompt_lines: list[str] = []
    neg_lines: list[str] = []
    target = prompt_lines
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = neg_lines
            target.append(line[len("Negative prompt:") :])
        else:
            target.append(line)
    result: dict[str, Any] = {
        "prompt": "\n".join(prompt_lines).strip(),
        "negative_prompt": "\n".join(neg_lines).strip(),
        "model_hash": None,
        "model": None,
        "lora_hashes": [],
    }
    for key, value in _settings(settings):
        if key == "Model hash":
            result["model_hash"] = value
        elif key == "Model":
            result["model"] = value
        elif key == "Lora hashes":
            pairs = []
            for part in value.split(",")[:64]:
                name, sep, h = part.rpartition(":")
                if sep and name.strip():
                    pairs.append((name.strip(), h.strip()))
            result["lora_hashes"] = pairs
    return result


def _settings(line: str) -> list[tuple[str, str]]:
    """``Key: value, Key2: "quoted, value"`` pairs, one linear pass honouring quotes."""
    pairs: list[tuple[str, str]] = []
    buf: list[str] = []
    quoted = False
    parts: list[str] = []
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    for part in parts:
        key, sep, value = part.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def _comfy_texts(data: Any) -> tuple[list[str], list[str]]:
    """Prompt strings and LoRA names from a ComfyUI ``prompt`` or ``workflow`` graph."""
    prompts: list[str] = []
    loras: list[str] = []
    nodes: list[Any] = []
    if isinstance(data, dict) and isinstance(data.get("nodes"), list):
        nodes = data["nodes"][:500]
        for node in nodes:
            if not isinstance(node, dict):
                continue
            ntype = str(node.get("type", ""))
            for w in (
                (node.get("widgets_values") or [])[:20]
                if isinstance(node.get("widgets_values"), list)
                else []
            ):
                if isinstance(w, str) and w.strip():
                    if "Lora" in ntype and w.endswith((".safetensors", ".pt", ".ckpt")):
                        loras.append(w)
                    elif "TextEncode" in ntype:
                        prompts.append(w)
    elif isinstance(data, dict):
        for node in list(data.values())[:500]:
            if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
                continue
            ctype = str(node.get("class_type", ""))
            inputs = node["inputs"]
            if "TextEncode" in ctype and isinstance(inputs.get("text"), str):
                prompts.append(inputs["text"])
            if "Lora" in ctype and isinstance(inputs.get("lora_name"), str):
                loras.append(inputs["lora_name"])
    return prompts, loras


def image_text_evidence(image: str, chunks: dict[str, str] | Any) -> list[Evidence]:
    """Evidence from one image's text chunks. Negative prompts are kept apart (signal
    ``negative-prompt``): they list what the user wanted to avoid and must not fire detectors."""
    out: list[Evidence] = []
    if not isinstance(chunks, dict):
        return out
    params = chunks.get("parameters")
    if isinstance(params, str) and params.strip():
        p = parse_parameters(clip(params, 64 * 1024))
        if p["prompt"]:
            out.append(Evidence(SOURCE, "parameters.prompt", clip(p["prompt"]), "prompt"))
        if p["negative_prompt"]:
            out.append(
                Evidence(
                    SOURCE,
                    "parameters.negative_prompt",
                    clip(p["negative_prompt"]),
                    "negative-prompt",
                )
            )
        if p["model"]:
            out.append(Evidence(SOURCE, "parameters.model", clip(p["model"], 300), "base-model"))
        if p["model_hash"]:
            out.append(Evidence(SOURCE, "parameters.model_hash", clip(p["model_hash"], 80), "hash"))
        for name, h in p["lora_hashes"]:
            out.append(
                Evidence(
                    SOURCE, "parameters.lora_hashes", f"{clip(name, 200)}: {clip(h, 80)}", "hash"
                )
            )
            out.append(Evidence(SOURCE, "parameters.lora_hashes", clip(name, 200), "name"))
    for key in ("prompt", "workflow"):
        raw = chunks.get(key)
        if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
            continue
        try:
            graph = json.loads(raw[:MAX_DECOMPRESSED])
        except ValueError:
            continue
        prompts, loras = _comfy_texts(graph)
        for t in prompts[:20]:
            out.append(Evidence(SOURCE, f"comfyui.{key}", clip(t), "prompt"))
        for name in loras[:20]:
            out.append(Evidence(SOURCE, f"comfyui.{key}", clip(name, 300), "name"))
        if prompts or loras:
            break  # the workflow graph repeats the prompt graph
    return out


class ImageTextExtractor:
    """Emits prompts, model and LoRA references from preview images' text chunks."""

    name = "image-text"

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        out: list[Evidence] = []
        for image, chunks in list(context.image_texts.items())[:16]:
            out.extend(image_text_evidence(image, chunks))
        return out
