"""The dispatcher: every way a path can fail is a one-line result, and the scan goes on."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from likenessguard.artifacts.base import BaseFamily, BytesSource, Format, Kind
from likenessguard.artifacts.open import is_candidate, read_artifacts, read_source, sniff
from likenessguard.testing import make_lora
from likenessguard.testing.checkpoints import make_checkpoint
from likenessguard.testing.containers import make_diffusers_lora_folder, make_gguf, make_zip
from tests.artifacts.torchpickle import payload_pickle


def one_error(path: Path) -> str:
    (a,) = read_artifacts(path)
    assert len(a.errors) == 1, a
    assert "\n" not in a.errors[0]
    assert a.path == str(path)
    return a.errors[0]


def test_bad_files_in_one_folder_each_give_a_line_and_the_scan_goes_on(tmp_path: Path) -> None:
    good = make_lora(tmp_path / "good.safetensors", "sdxl", modules=4)
    raw = good.read_bytes()
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 2**60) + b"{}")
    (tmp_path / "dir.safetensors").mkdir()
    (tmp_path / "loop.safetensors").symlink_to(tmp_path / "loop.safetensors")
    os.mkfifo(tmp_path / "pipe.safetensors")
    (tmp_path / "payload.pt").write_bytes(payload_pickle(str(tmp_path / "pwned")))
    results = {}
    for path in sorted(tmp_path.iterdir()):
        results[path.name] = read_artifacts(path)
    assert results["good.safetensors"][0].errors == ()
    assert results["good.safetensors"][0].identity.base_family is BaseFamily.SDXL
    errors = {name: arts[0].errors for name, arts in results.items()}
    assert errors["empty.safetensors"] == (
        "empty.safetensors is empty (0 bytes): it is not a model file; it was skipped",
    )
    assert errors["truncated.safetensors"][0].endswith("the file is truncated; re-download it")
    assert errors["huge.safetensors"] == (
        "header of huge.safetensors declares 1.2 EB (limit 100 MB): the file is corrupt or "
        "hostile; it was skipped",
    )
    assert errors["dir.safetensors"] == (
        "dir.safetensors is a directory, not a model file; it was skipped",
    )
    assert errors["loop.safetensors"] == (
        "loop.safetensors is a symlink loop: fix or remove the link; it was skipped",
    )
    assert errors["pipe.safetensors"] == (
        "pipe.safetensors is a named pipe (FIFO), not a regular file; it was skipped",
    )
    assert results["payload.pt"][0].findings[0].code == "unsafe-pickle"
    assert not (tmp_path / "pwned").exists()


def test_truncated_lora_names_the_tensor(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "t.safetensors", "sd1", modules=2, metadata=False)
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])
    message = one_error(path)
    assert message.startswith("tensor '")
    assert message.endswith(
        f"in t.safetensors ends at data byte {len(raw) - 8 - struct.unpack('<Q', raw[:8])[0]} "
        f"but the data region has only "
        f"{len(raw) - 3 - 8 - struct.unpack('<Q', raw[:8])[0]} bytes: the file is truncated; "
        "re-download it"
    )


def test_header_longer_than_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", 4096) + b'{"a": 1}')
    assert one_error(path) == (
        "header of h.safetensors declares 4.1 KB but the file has only 8 bytes after the "
        "length prefix: the file is truncated; re-download it"
    )


def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "gone.safetensors"
    link.symlink_to(tmp_path / "missing.safetensors")
    assert one_error(link) == (
        "gone.safetensors does not exist (a broken symlink, or removed during the scan); "
        "it was skipped"
    )


@pytest.mark.skipif(not hasattr(os, "setuid"), reason="needs POSIX users")
def test_unreadable_permissions(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "secret.safetensors", "sd1", modules=2)
    path.chmod(0o000)
    if os.geteuid() != 0:
        message = one_error(path)
    else:
        # root reads everything: drop to 'nobody' in a child to get a real EACCES.
        tmp_path.chmod(0o755)
        # Import first: the interpreter's own files may not be readable by nobody.
        code = (
            "import os; from likenessguard.artifacts.open import read_artifacts;"
            "os.setgid(65534); os.setuid(65534);"
            f"print(read_artifacts({str(path)!r})[0].errors[0])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        message = out.stdout.strip()
    assert message == (
        "cannot read secret.safetensors: permission denied; grant read access or run the scan "
        "as a user who can read it; it was skipped"
    )


def test_unknown_content(tmp_path: Path) -> None:
    path = tmp_path / "notes.bin"
    path.write_bytes(b"hello world, not a model at all")
    # .bin is a pickle extension: the pickle walker tries, and says what it found.
    assert one_error(path) == (
        "notes.bin is neither a torch checkpoint nor a pickle (starts with 68 65 6c 6c 6f 20 77 "
        "6f); it was skipped"
    )
    other = tmp_path / "x.weights"
    other.write_bytes(b"hello world, not a model at all")
    assert one_error(other) == (
        "x.weights is not a model format this version reads (starts with 68 65 6c 6c 6f 20 77 "
        "6f); it was skipped"
    )


def test_sniff_prefers_content_over_extension(tmp_path: Path) -> None:
    lora = make_lora(tmp_path / "a.safetensors", "sd1", modules=2)
    disguised = tmp_path / "a.ckpt"
    disguised.write_bytes(lora.read_bytes())
    (a,) = read_artifacts(disguised)
    assert a.format is Format.SAFETENSORS
    assert a.errors == ()
    assert sniff(b"GGUF\x03\x00", "x.safetensors") is Format.GGUF
    assert sniff(b"\x80\x02}q\x00", "x.safetensors") is Format.PICKLE
    assert sniff(b"\x00" * 8, "x.sft") is Format.SAFETENSORS


def test_read_source_over_a_hub_prefix() -> None:
    # A hub read only the header; read_source works from that prefix and the size.
    raw = (struct.pack("<Q", 2) + b"{}").ljust(64, b" ")
    a = read_source(BytesSource(raw[:10], "repo/x.safetensors"), "repo/x.safetensors")
    assert a.errors == ()


def test_is_candidate(tmp_path: Path) -> None:
    for name in ("a.safetensors", "b.CKPT", "c.pt", "d.pth", "e.bin", "f.gguf", "g.zip", "h.sft"):
        (tmp_path / name).write_bytes(b"x")
        assert is_candidate(tmp_path / name), name
    for name in ("README.md", "preview.png", "a.civitai.info", "config.json", "a.json", "a.txt"):
        (tmp_path / name).write_bytes(b"x")
        assert not is_candidate(str(tmp_path / name)), name
    folder = make_diffusers_lora_folder(tmp_path / "adapter", "sd1", modules=2)
    assert is_candidate(folder)
    (tmp_path / "plain").mkdir()
    assert not is_candidate(tmp_path / "plain")
    (tmp_path / "disguised.safetensors").mkdir()
    assert is_candidate(tmp_path / "disguised.safetensors")
    assert not is_candidate(tmp_path / "does-not-exist")


def test_diffusers_folder_is_one_artifact(tmp_path: Path) -> None:
    folder = make_diffusers_lora_folder(tmp_path / "peft", "sdxl", rank=8, alpha=16.0, modules=6)
    (a,) = read_artifacts(folder)
    assert a.errors == ()
    assert a.format is Format.DIFFUSERS
    assert a.member == "adapter_model.safetensors"
    assert (a.identity.kind, a.identity.base_family, a.identity.rank, a.identity.alpha) == (
        Kind.LORA,
        BaseFamily.SDXL,
        8,
        16.0,
    )
    assert a.decoded["adapter_config"]["r"] == 8
    assert a.data_offset is not None


def test_diffusers_folder_without_weights(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"r": 4}')
    assert one_error(folder) == (
        "broken has adapter_config.json but no adapter_model.safetensors or "
        "pytorch_lora_weights.safetensors: the upload is incomplete; it was skipped"
    )


def test_diffusers_pipeline_folder(tmp_path: Path) -> None:
    folder = tmp_path / "pipe"
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    (folder / "transformer" / "config.json").write_text('{"_class_name": "FluxTransformer2DModel"}')
    (a,) = read_artifacts(folder)
    assert a.errors == ()
    assert (a.identity.kind, a.identity.base_family) == (Kind.CHECKPOINT, BaseFamily.FLUX1)
    assert "transformer/config.json _class_name FluxTransformer2DModel: flux1" in (
        a.identity.reasons
    )


def test_gguf(tmp_path: Path) -> None:
    path = make_gguf(tmp_path / "flux-q.gguf", "flux1", tensors=24, metadata={"note": "x"})
    (a,) = read_artifacts(path)
    assert a.errors == ()
    assert a.format is Format.GGUF
    assert a.identity.base_family is BaseFamily.FLUX1
    assert a.metadata["general.architecture"] == "flux"
    assert a.metadata["note"] == "x"
    assert len(a.tensors) == 24
    assert all(t.dtype in ("F16", "F32") for t in a.tensors)


def test_broken_gguf(tmp_path: Path) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    message = one_error(path)
    assert message.startswith("bad.gguf is not a readable GGUF file (")
    assert message.endswith("): the file is corrupt or hostile; it was skipped")


def test_zip_archive_members(tmp_path: Path) -> None:
    lora = make_lora(tmp_path / "src" / "jane_roe.safetensors", "sdxl", modules=4)
    ckpt = make_checkpoint(tmp_path / "src" / "m.ckpt", "sd1", fmt="pickle")
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        path = make_zip(
            tmp_path / f"pack{compression}.zip",
            {"loras/jane_roe.safetensors": lora, "m.ckpt": ckpt, "README.md": "hello"},
            compression=compression,
        )
        arts = read_artifacts(path)
        assert [a.member for a in arts] == ["loras/jane_roe.safetensors", "m.ckpt"]
        assert all(a.path == str(path) and a.errors == () for a in arts)
        assert arts[0].identity.base_family is BaseFamily.SDXL
        assert arts[1].identity.kind is Kind.CHECKPOINT


def test_zip_with_a_payload_member(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"evil.pt": payload_pickle(str(tmp_path / "pwned"))})
    (a,) = read_artifacts(path)
    assert a.member == "evil.pt"
    assert a.findings[0].message == (
        "imports os.system: loading this file would run code; do not load it"
    )
    assert not (tmp_path / "pwned").exists()


def test_zip_bomb_is_bounded_in_time_and_memory(tmp_path: Path) -> None:
    # 200 MB of zeros deflates to ~200 KB: ratio ~1000, far past any model file.
    path = tmp_path / "bomb.zip"
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("model.safetensors", "w", force_zip64=True) as fh:
            for _ in range(200):
                fh.write(chunk)
        zf.writestr("ok.safetensors", make_lora(tmp_path / "l.safetensors", "sd1", modules=2)
                    .read_bytes())  # fmt: skip
    tracemalloc.start()
    started = time.perf_counter()
    arts = read_artifacts(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 20 * 1024 * 1024
    bomb, ok = arts
    assert bomb.errors[0].startswith("model.safetensors in bomb.zip expands ")
    assert bomb.errors[0].endswith("(ratio limit 200): a zip bomb; it was skipped")
    assert ok.errors == ()


def test_zip_member_lying_about_its_size(tmp_path: Path) -> None:
    # The central directory says 100 bytes; the deflate stream holds 50 MB.
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.safetensors", b"\x10" + b"\0" * (50 << 20))
    raw = bytearray(path.read_bytes())
    # Patch the uncompressed size in the central directory and local header.
    size = (50 << 20) + 1
    packed = struct.pack("<I", size)
    for idx in [i for i in range(len(raw) - 4) if raw[i : i + 4] == packed]:
        raw[idx : idx + 4] = struct.pack("<I", 100)
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    (a,) = read_artifacts(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert len(a.errors) == 1


def test_shared_hostile_corpus_is_one_error_each(tmp_path: Path) -> None:
    from tests.pipeline.hostile import build_hostile

    marker = tmp_path / "pwned"
    corpus = build_hostile(tmp_path / "corpus", marker)
    for name, path in corpus.items():
        arts = read_artifacts(path)
        assert arts, name
        for a in arts:
            problems = list(a.errors) + [f.message for f in a.findings]
            assert problems, (name, a)
            assert all("\n" not in p for p in problems), name
    assert not marker.exists()


def test_mutated_gguf_never_raises(tmp_path: Path) -> None:
    import random

    good = make_gguf(tmp_path / "good.gguf", "flux1", tensors=4).read_bytes()
    rng = random.Random(7)
    path = tmp_path / "m.gguf"
    for _ in range(60):
        raw = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            raw[rng.randrange(4, min(len(raw), 700))] = rng.randrange(256)
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(4, len(raw))]
        path.write_bytes(bytes(raw))
        (a,) = read_artifacts(path)
        assert len(a.errors) <= 1
        assert all("\n" not in e for e in a.errors)


def test_hub_prefix_too_short_for_a_pickle_is_an_error_not_an_exception(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "m.ckpt", "sd1", fmt="pickle").read_bytes()
    prefix = BytesSource(ckpt[:4096], "repo/m.ckpt", size=len(ckpt))
    a = read_source(prefix, "repo/m.ckpt")
    assert len(a.errors) == 1
    assert a.errors[0].startswith("cannot read repo/m.ckpt: repo/m.ckpt: bytes ")
    assert a.errors[0].endswith("are beyond the fetched prefix (error); it was skipped")
