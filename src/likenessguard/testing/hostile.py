"""Broken and hostile inputs, built by code so none is ever committed.

A scanner for model hubs reads files uploaded by anyone, including people who
want it to crash, hang, run their code or exhaust memory. Every case below is a
file (or a path) the readers must turn into a one-line error in the record,
while the scan goes on; :func:`build_hostile_corpus` writes them all. As in
huggingface/safetensors' ``attacks/`` folder, the files are generated, not stored.

Pickle payloads would only create a marker file (``PWNED-<case>`` next to the
corpus) if they ever ran, so a test can prove they did not: see
:func:`marker_path`.

Running as root (as the tests here do), ``chmod 000`` does not stop reads, so
the corpus also holds paths that fail for root: a FIFO named
``fifo.safetensors`` (not a regular file; opening it for reading would block
forever, so readers must check the file type first) and a path whose parent is
a regular file (``open`` fails with ENOTDIR for everyone).
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from likenessguard.testing.factory import safetensors_bytes
from likenessguard.testing.torch_pickle import (
    Call,
    Global,
    pickle_with_storages,
    torch_legacy_bytes,
    torch_zip_from_parts,
    zip_member,
)

HOSTILE_CASES: dict[str, str] = {
    "truncated": "valid header, tensor data cut short",
    "header_2_60": "header length field says 2^60 bytes",
    "header_longer_than_file": "header length larger than the file",
    "invalid_json": "header is not JSON",
    "non_utf8": "header bytes are not UTF-8",
    "header_not_object": "header is a JSON list, not an object",
    "json_deep_nesting": "metadata nested 100,000 levels deep (recursion bomb)",
    "duplicate_keys": "the same tensor name twice (the reference library keeps the last)",
    "overlapping_offsets": "two tensors share bytes",
    "out_of_bounds_offsets": "data_offsets beyond the end of the file",
    "negative_offsets": "data_offsets with a negative begin",
    "unknown_dtype": "dtype F17",
    "shape_size_mismatch": "shape says 4x4 F16 (32 bytes), offsets span 16",
    "huge_shape": "shape whose element count overflows 64 bits",
    "data_not_covered": "bytes after the last tensor that no tensor claims",
    "non_string_metadata": "__metadata__ values that are numbers and objects",
    "metadata_not_object": "__metadata__ is a string",
    "empty": "zero-byte file",
    "seven_bytes": "shorter than the 8-byte length field",
    "directory": "a directory named x.safetensors",
    "unreadable": "mode 000 (root can still read it)",
    "fifo": "a FIFO named fifo.safetensors (fails for root too; never open it)",
    "parent_not_dir": "a path whose parent is a regular file (ENOTDIR)",
    "symlink_loop": "two symlinks pointing at each other",
    "dangling_symlink": "a symlink to nothing",
    "pickle_os_system": "torch zip checkpoint whose data.pkl calls os.system",
    "pickle_legacy_exec": "legacy torch .pt whose pickle calls builtins.exec",
    "pickle_bin_popen": "pytorch_model.bin (zip) calling subprocess.Popen",
    "pickle_raw_reduce": "a bare pickle named model.pth (no torch framing) calling posix.system",
    "zip_bomb": "a zip whose 1 GiB member compresses ~1000:1",
    "zip_path_traversal": "a zip member named ../../escape.safetensors",
    "gguf_bad_magic": "GGUF file with magic GGUX",
    "gguf_truncated": "GGUF magic and version, then nothing",
}


def marker_path(directory: str | Path, case: str) -> Path:
    """Where the payload of pickle ``case`` would create its marker if it ever ran."""
    return Path(directory).resolve() / f"PWNED-{case}"


def _valid_parts() -> tuple[dict[str, Any], bytes]:
    """A tiny valid LoRA (header dict without padding, data bytes)."""
    tensors = {
        "lora_unet_a.lora_down.weight": np.ones((2, 4), np.float32),
        "lora_unet_a.lora_up.weight": np.full((4, 2), 0.5, np.float32),
    }
    raw = safetensors_bytes(tensors, {"ss_network_dim": "2"}, "F16")
    (n,) = struct.unpack("<Q", raw[:8])
    header: dict[str, Any] = json.loads(raw[8 : 8 + n])
    return header, raw[8 + n :]


def _st(header: dict[str, Any] | bytes, data: bytes, *, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _safetensors_cases() -> dict[str, bytes]:
    header, data = _valid_parts()
    valid = _st(header, data)
    down, up = "lora_unet_a.lora_down.weight", "lora_unet_a.lora_up.weight"

    def edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        h: dict[str, Any] = json.loads(json.dumps(header))
        edit(h)
        return h

    def set_offsets(name: str, begin: int, end: int) -> Callable[[dict[str, Any]], None]:
        return lambda h: h[name].__setitem__("data_offsets", [begin, end])

    deep = b'{"__metadata__":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    dup = json.dumps(header)[:-1] + ',"' + down + '":' + json.dumps(header[down]) + "}"
    return {
        "truncated": valid[: len(valid) - 7],
        "header_2_60": struct.pack("<Q", 1 << 60) + valid[8:],
        "header_longer_than_file": _st(header, data, length=len(valid) * 4),
        "invalid_json": _st(b'{"a": {"dtype": "F16", "shape": [1], ', data),
        "non_utf8": _st(b'{"__metadata__":{"k":"\xff\xfe\xc3\x28"}}', b""),
        "header_not_object": _st(b"[1, 2, 3]", b""),
        "json_deep_nesting": _st(deep, b""),
        "duplicate_keys": _st(dup.encode(), data),
        "overlapping_offsets": _st(edited(set_offsets(up, 8, 24)), data),
        "out_of_bounds_offsets": _st(edited(set_offsets(up, 16, 4096)), data),
        "negative_offsets": _st(edited(set_offsets(down, -16, 16)), data),
        "unknown_dtype": _st(edited(lambda h: h[down].__setitem__("dtype", "F17")), data),
        "shape_size_mismatch": _st(edited(lambda h: h[down].__setitem__("shape", [4, 4])), data),
        "huge_shape": _st(edited(lambda h: h[down].__setitem__("shape", [2**40, 2**40])), data),
        "data_not_covered": _st(header, data + b"\0" * 64),
        "non_string_metadata": _st(
            edited(lambda h: h.__setitem__("__metadata__", {"ss_network_dim": 8, "x": {"a": [1]}})),
            data,
        ),
        "metadata_not_object": _st(edited(lambda h: h.__setitem__("__metadata__", "oops")), data),
        "empty": b"",
        "seven_bytes": b"\x10\0\0\0\0\0\0",
    }


def _payload(case: str, directory: Path) -> Call:
    marker = marker_path(directory, case)
    if case == "pickle_legacy_exec":
        return Call(Global("builtins", "exec"), (f"open({str(marker)!r}, 'w').write('ran')",))
    if case == "pickle_bin_popen":
        return Call(Global("subprocess", "Popen"), (["touch", str(marker)],))
    if case == "pickle_raw_reduce":
        return Call(Global("posix", "system"), (f"touch '{marker}'",))
    return Call(Global("os", "system"), (f"touch '{marker}'",))


def hostile_pickle_bytes(case: str, directory: str | Path, *, zip_format: bool = True) -> bytes:
    """A torch-like checkpoint whose pickle would run ``case``'s payload first.

    The payload key comes first, so a naive ``pickle.load`` runs it before it
    reaches the tensors; a real ``torch.load`` (without ``weights_only``) would too.
    """
    obj = {
        "__payload__": _payload(case, Path(directory)),
        "state_dict": {"model.diffusion_model.out.2.weight": np.ones((4, 2), np.float32)},
    }
    if not zip_format:
        return torch_legacy_bytes(obj)
    data_pkl, storages = pickle_with_storages(obj)
    return torch_zip_from_parts(data_pkl, storages)


def zip_bomb_bytes(member: str = "model.safetensors", size: int = 1 << 30) -> bytes:
    """A zip whose single deflated ``member`` expands to ``size`` zero bytes.

    Built without compressing ``size`` bytes: 1 MiB of zeros is deflated once
    with a full flush (which resets the window, so every such block is
    identical), and that block is repeated. The CRC is computed over the zeros.
    """
    chunk = 1 << 20
    if size % chunk:
        raise ValueError("size must be a multiple of 1 MiB")
    zero = bytes(chunk)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(zero) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.flush(zlib.Z_FINISH)
    n = size // chunk
    body = block * n + tail
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zero, crc)
    name = member.encode()
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0)
        + name
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            len(body),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + name
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


def build_hostile_corpus(directory: str | Path) -> dict[str, Path]:
    """Write every hostile case into ``directory``; returns case name -> path.

    File names carry the extension the scanner dispatches on (``.safetensors``,
    ``.ckpt``, ``.pt``, ``.bin``, ``.pkl``, ``.zip``, ``.gguf``). Cases that
    need privileges the process lacks (e.g. ``mkfifo`` on some filesystems)
    are left out of the result rather than failing the build.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for case, raw in _safetensors_cases().items():
        p = d / f"{case}.safetensors"
        p.write_bytes(raw)
        out[case] = p
    directory_case = d / "x.safetensors"
    directory_case.mkdir(exist_ok=True)
    out["directory"] = directory_case
    unreadable = d / "unreadable.safetensors"
    if unreadable.exists():
        unreadable.chmod(0o600)  # a rebuild by a non-root user must be able to rewrite it
    unreadable.write_bytes(_st(*_valid_parts()))
    unreadable.chmod(0)
    out["unreadable"] = unreadable
    fifo = d / "fifo.safetensors"
    try:
        if not fifo.exists():
            os.mkfifo(fifo)
        out["fifo"] = fifo
    except OSError:
        pass
    blocker = d / "regular_file"
    blocker.write_bytes(b"not a directory")
    out["parent_not_dir"] = blocker / "model.safetensors"
    loop_a, loop_b = d / "loop_a.safetensors", d / "loop_b.safetensors"
    for link, target in ((loop_a, loop_b.name), (loop_b, loop_a.name)):
        if not link.is_symlink():
            link.symlink_to(target)
    out["symlink_loop"] = loop_a
    dangling = d / "dangling.safetensors"
    if not dangling.is_symlink():
        dangling.symlink_to("does-not-exist.safetensors")
    out["dangling_symlink"] = dangling
    pickles = {
        "pickle_os_system": ("model.ckpt", True),
        "pickle_legacy_exec": ("embedding.pt", False),
        "pickle_bin_popen": ("pytorch_model.bin", True),
    }
    for case, (name, zipped) in pickles.items():
        p = d / f"{case}-{name}"
        p.write_bytes(hostile_pickle_bytes(case, d, zip_format=zipped))
        out[case] = p
    raw_pickle = d / "pickle_raw_reduce-model.pth"
    raw_pickle.write_bytes(pickle_with_storages(_payload("pickle_raw_reduce", d))[0])
    out["pickle_raw_reduce"] = raw_pickle
    bomb = d / "zip_bomb.zip"
    bomb.write_bytes(zip_bomb_bytes())
    out["zip_bomb"] = bomb
    traversal = d / "zip_path_traversal.zip"
    with zipfile.ZipFile(traversal, "w") as zf:
        zf.writestr(zip_member("../../escape.safetensors"), _st(*_valid_parts()))
    out["zip_path_traversal"] = traversal
    gguf_bad = d / "gguf_bad_magic.gguf"
    gguf_bad.write_bytes(b"GGUX" + struct.pack("<IQQ", 3, 1, 1) + b"\0" * 64)
    out["gguf_bad_magic"] = gguf_bad
    gguf_short = d / "gguf_truncated.gguf"
    gguf_short.write_bytes(b"GGUF" + struct.pack("<I", 3))
    out["gguf_truncated"] = gguf_short
    return out
