"""A small hostile corpus for scan tests: every file must become one error record, never a crash.

Built in code (nothing committed), in the spirit of safetensors' ``attacks/``
scripts. Returns the paths so tests can check one record per bad file.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path


def _header(obj: object) -> bytes:
    raw = json.dumps(obj).encode()
    return struct.pack("<Q", len(raw)) + raw


def build_hostile(root: Path, marker: Path) -> dict[str, Path]:
    """Write bad files under ``root``; a pickle in it would create ``marker`` if ever run."""
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        path = root / name
        path.write_bytes(data)
        out[name] = path

    put("empty.safetensors", b"")
    put(
        "truncated.safetensors",
        _header({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}) + b"\x00" * 3,
    )
    put("huge-header.safetensors", struct.pack("<Q", 2**60) + b"{}")
    put("longer-than-file.safetensors", struct.pack("<Q", 4096) + b'{"a": 1}')
    put("invalid-json.safetensors", struct.pack("<Q", 9) + b"{not json" + b"\x00" * 8)
    put("not-utf8.safetensors", struct.pack("<Q", 4) + b"\xff\xfe\xfd\xfc")
    put(
        "overlap.safetensors",
        _header(
            {
                "a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]},
                "b": {"dtype": "F16", "shape": [4], "data_offsets": [4, 12]},
            }
        )
        + b"\x00" * 12,
    )
    put(
        "unknown-dtype.safetensors",
        _header({"a": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 2]}}) + b"\x00\x00",
    )
    # GLOBAL os.system, the command, REDUCE: what torch.load would execute.
    command = f"touch {marker}".encode()
    payload = (
        b"\x80\x02cos\nsystem\nq\x00X"
        + struct.pack("<I", len(command))
        + command
        + b"\x85q\x01Rq\x02."
    )
    put("evil.ckpt", payload)
    bomb = root / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.safetensors", b"\x00" * (8 * 1024 * 1024))
    out["bomb.zip"] = bomb
    folder = root / "folder.safetensors"
    folder.mkdir()
    out["folder.safetensors"] = folder
    loop = root / "loop.safetensors"
    os.symlink(loop.name, loop)
    out["loop.safetensors"] = loop
    return out
