"""Test helper: the Artifact view of a safetensors file, from its header alone.

The fingerprint takes an ``Artifact`` + ``ByteSource``; this builds the
artifact the way any reader must (absolute offsets), independent of the
scanner's hardened reader so fingerprint tests do not depend on it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from likenessguard.artifacts.base import Artifact, FileSource, Format, Identity, Kind, TensorInfo
from likenessguard.hashing.fingerprint import Fingerprint, fingerprint_artifact


def header_artifact(path: str | Path, kind: Kind = Kind.UNKNOWN) -> Artifact:
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = tuple(
        TensorInfo(
            name,
            info["dtype"],
            tuple(info["shape"]),
            base + info["data_offsets"][0],
            info["data_offsets"][1] - info["data_offsets"][0],
        )
        for name, info in header.items()
    )
    return Artifact(
        path=str(path),
        size=len(raw),
        format=Format.SAFETENSORS,
        identity=Identity(kind=kind),
        tensors=tensors,
        metadata=meta,
        data_offset=base,
    )


def file_fingerprint(path: str | Path, kind: Kind = Kind.UNKNOWN) -> Fingerprint:
    with FileSource(path) as source:
        return fingerprint_artifact(header_artifact(path, kind), source)
