"""Extractors: kohya metadata, model cards, listings in every shape, sidecars and PNG text."""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

from likenessguard.artifacts.base import Artifact, Format
from likenessguard.evidence.base import Evidence, EvidenceContext, Extractor
from likenessguard.evidence.context import DEFAULT_EXTRACTORS, collect_local_context, extract_all
from likenessguard.evidence.image_text import image_text_evidence, parse_parameters, read_png_text
from likenessguard.evidence.listing import listing_evidence
from likenessguard.evidence.metadata import MetadataExtractor, parse_dataset_dir
from likenessguard.evidence.model_card import ModelCardExtractor, split_front_matter
from likenessguard.testing import (
    a1111_parameters,
    comfy_prompt,
    comfy_workflow,
    kohya_metadata,
    make_civitai_info,
    make_lora,
    make_model_card,
    make_preview_png,
)


def _by(evidence: list[Evidence] | tuple[Evidence, ...], signal: str) -> list[str]:
    return [e.text for e in evidence if e.signal == signal]


def test_extractors_satisfy_the_protocol() -> None:
    assert all(isinstance(x, Extractor) for x in DEFAULT_EXTRACTORS)


def test_dataset_dir_parsing() -> None:
    assert parse_dataset_dir("10_ohwx woman") == (10, "ohwx", "woman")
    assert parse_dataset_dir("5_jane roe woman") == (5, "jane roe", "woman")
    assert parse_dataset_dir("images") == (None, "images", None)


def test_kohya_metadata_evidence() -> None:
    meta = kohya_metadata(
        output_name="janeRoe_v2",
        trigger="jnroe",
        class_word="woman",
        tags={"jnroe": 40, "1girl": 38, "smile": 12},
        comment="trained on photos",
    )
    art = Artifact("x.safetensors", 1, Format.SAFETENSORS, metadata=meta)
    ev = MetadataExtractor().extract(EvidenceContext(artifact=art))
    assert "janeRoe_v2" in _by(ev, "name")
    assert "jnroe" in _by(ev, "trigger")
    assert "woman" in _by(ev, "class")
    tags = {e.text: e.count for e in ev if e.field == "ss_tag_frequency"}
    assert tags["jnroe"] >= 40 and tags["1girl"] >= 38
    assert "trained on photos" in _by(ev, "description")


def test_hostile_tag_frequency_is_bounded() -> None:
    freq = {"1_x": {f"tag{i}": i for i in range(50_000)}}
    art = Artifact("x", 1, Format.SAFETENSORS, metadata={"ss_tag_frequency": json.dumps(freq)})
    start = time.perf_counter()
    ev = MetadataExtractor().extract(EvidenceContext(artifact=art))
    assert len(ev) <= 200
    assert time.perf_counter() - start < 2.0
    # Wrong types are skipped, not fatal.
    bad = Artifact(
        "x", 1, Format.SAFETENSORS, metadata={"ss_tag_frequency": "[1,2", "ss_dataset_dirs": "7"}
    )
    assert MetadataExtractor().extract(EvidenceContext(artifact=bad)) == []


def test_model_card(tmp_path: Path) -> None:
    make_model_card(
        tmp_path,
        title="Watercolor Style",
        tags=["lora", "style"],
        base_model="stabilityai/stable-diffusion-xl-base-1.0",
        instance_prompt="wtrclr style",
        widget_prompts=["a lighthouse, wtrclr style"],
        body="A style LoRA.",
    )
    ev = ModelCardExtractor().extract(
        EvidenceContext(card_text=(tmp_path / "README.md").read_text())
    )
    assert _by(ev, "tag") == ["lora", "style"]
    assert _by(ev, "trigger") == ["wtrclr style"]
    assert _by(ev, "prompt") == ["a lighthouse, wtrclr style"]
    assert "Watercolor Style" in _by(ev, "title")
    assert _by(ev, "base-model") == ["stabilityai/stable-diffusion-xl-base-1.0"]


def test_broken_front_matter_keeps_the_body() -> None:
    front, body = split_front_matter("---\ntags: [unclosed\n---\n# Title\nbody")
    assert front == {} and "body" in body
    front, _ = split_front_matter("---\n!!python/object:os.system ls\n---\n")
    assert front == {}


DEV_RECORD = {
    "id": 7,
    "type": "LORA",
    "name": "Mary Major",
    "tags": ["person"],
    "description": "<p>A <b>likeness</b></p>",
    "poi": True,
    "nsfw": False,
    "versions": [
        {
            "name": "v1",
            "baseModel": "SD 1.5",
            "trainedWords": ["mmajor"],
            "files": [{"name": "maryMajor_v1.safetensors"}],
            "images": [{"prompt": "photo of mmajor, smiling"}],
        }
    ],
}

API_RECORD = {
    "id": 8,
    "name": "Mary Major",
    "type": "LORA",
    "nsfw": True,
    "tags": [{"name": "person"}, "portrait"],
    "creator": {"username": "uploader1"},
    "modelVersions": [
        {
            "name": "v1",
            "baseModel": "SDXL 1.0",
            "trainedWords": ["mmajor"],
            "files": [{"name": "maryMajor.safetensors", "hashes": {"SHA256": "AB"}}],
            "images": [{"meta": {"prompt": "mmajor at the beach"}}, {"meta": None}],
        }
    ],
}


def test_listing_shapes() -> None:
    dev = listing_evidence(DEV_RECORD)
    assert _by(dev, "title") == ["Mary Major"]
    assert _by(dev, "description") == ["A likeness"]
    assert _by(dev, "prompt") == ["photo of mmajor, smiling"]
    assert _by(dev, "name") == ["maryMajor_v1.safetensors"]
    # Labels are never evidence.
    assert not any(e.field in ("poi", "nsfw") for e in dev)
    api = listing_evidence(API_RECORD)
    assert _by(api, "tag") == ["person", "portrait"]
    assert _by(api, "prompt") == ["mmajor at the beach"]
    assert _by(api, "handle") == ["uploader1"]
    info = listing_evidence(
        {"model": {"name": "Mary Major", "type": "LORA"}, **API_RECORD["modelVersions"][0]}
    )  # type: ignore[dict-item]
    assert _by(info, "title") == ["Mary Major"] and _by(info, "trigger") == ["mmajor"]
    a1111 = listing_evidence(
        {"activation text": "mmajor, smiling", "sd version": "SDXL", "description": "x"}
    )
    assert _by(a1111, "trigger") == ["mmajor", "smiling"]
    assert listing_evidence({"name": 5, "tags": "x", "versions": "nope"})[0].text == "5"


def test_parameters_parsing() -> None:
    text = a1111_parameters(
        "photo of mmajor, smiling",
        "child, nsfw",
        lora_hashes={"maryMajor_v1": "0123456789ab", "detail": "ba9876543210"},
    )
    p = parse_parameters(text)
    assert p["prompt"] == "photo of mmajor, smiling"
    assert p["negative_prompt"] == "child, nsfw"
    assert p["model_hash"] == "31e35c80fc"
    assert p["lora_hashes"] == [("maryMajor_v1", "0123456789ab"), ("detail", "ba9876543210")]
    ev = image_text_evidence("a.png", {"parameters": text})
    # The negative prompt is kept apart so it never fires a detector.
    assert _by(ev, "negative-prompt") == ["child, nsfw"]
    assert "maryMajor_v1: 0123456789ab" in _by(ev, "hash")


def test_png_text_a1111_and_comfy(tmp_path: Path) -> None:
    graph = comfy_prompt("mmajor in a garden", lora_name="maryMajor_v1.safetensors")
    png = make_preview_png(
        tmp_path / "m.png",
        parameters=a1111_parameters("photo of mmajor"),
        comfy_prompt=graph,
        comfy_workflow=comfy_workflow(graph),
    )
    chunks = read_png_text(png)
    assert set(chunks) >= {"parameters", "prompt", "workflow"}
    ev = image_text_evidence("m.png", chunks)
    assert "photo of mmajor" in _by(ev, "prompt")
    assert "mmajor in a garden" in _by(ev, "prompt")
    assert "maryMajor_v1.safetensors" in _by(ev, "name")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_png_compressed_and_hostile(tmp_path: Path) -> None:
    sig = b"\x89PNG\r\n\x1a\n"
    itxt = b"parameters\0\x01\0\0\0" + zlib.compress(b"mmajor portrait\nSteps: 20")
    ztxt = b"comment\0\0" + zlib.compress(b"hello")
    p = tmp_path / "c.png"
    p.write_bytes(sig + _chunk(b"iTXt", itxt) + _chunk(b"zTXt", ztxt) + _chunk(b"IEND", b""))
    assert read_png_text(p) == {"parameters": "mmajor portrait\nSteps: 20", "comment": "hello"}
    # A zip bomb in a text chunk is cut at 1 MiB; a lying length ends reading quietly.
    bomb = b"parameters\0\x01\0\0\0" + zlib.compress(b"a" * (50 << 20))
    p.write_bytes(sig + _chunk(b"iTXt", bomb) + struct.pack(">I4s", 0xFFFFFFF0, b"tEXt") + b"x")
    got = read_png_text(p)
    assert len(got["parameters"]) == 1 << 20
    p.write_bytes(b"not a png")
    assert read_png_text(p) == {}


def test_collect_local_context(tmp_path: Path) -> None:
    repo = tmp_path / "mary-major-lora"
    lora = make_lora(
        repo / "maryMajor_v1.safetensors",
        "sd1",
        metadata=kohya_metadata(
            output_name="maryMajor_v1", trigger="mmajor", class_word="woman", base_model="sd1"
        ),
    )
    make_model_card(repo, title="Mary Major", tags=["person"])
    make_civitai_info(lora, API_RECORD["modelVersions"][0] | {"model": {"name": "Mary Major"}})  # type: ignore[operator]
    (repo / "maryMajor_v1.json").write_text(json.dumps({"activation text": "mmajor"}))
    make_preview_png(
        repo / "maryMajor_v1.preview.png", parameters=a1111_parameters("mmajor, portrait")
    )
    (repo / "maryMajor_v1.broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    ctx = collect_local_context(lora)
    assert ctx.artifact is not None and ctx.artifact.metadata
    assert ctx.repo_name == "mary-major-lora"
    assert ctx.card_text and "Mary Major" in ctx.card_text
    assert set(ctx.sidecars) == {"maryMajor_v1.civitai.info", "maryMajor_v1.json"}
    assert set(ctx.image_texts) == {"maryMajor_v1.preview.png"}
    ev = extract_all(ctx)
    sources = {e.source for e in ev}
    assert sources >= {
        "file-name",
        "repo-name",
        "safetensors-metadata",
        "model-card",
        "sidecar",
        "image-text",
    }
    assert len(ev) == len(set(ev))
