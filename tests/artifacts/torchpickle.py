"""Write torch-format pickles by assembling opcodes, so tests need no torch.

The byte layout matches what ``torch.save`` writes: a ``collections.OrderedDict``
built by REDUCE, each tensor a ``torch._utils._rebuild_tensor_v2`` call whose
first argument is a ``('storage', torch.<Type>Storage, key, 'cpu', numel)``
persistent id. ``payload_pickle`` writes the classic ``os.system`` REDUCE that
must never run.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Mapping

STORAGE = {
    "F16": "HalfStorage",
    "F32": "FloatStorage",
    "BF16": "BFloat16Storage",
    "F64": "DoubleStorage",
    "I64": "LongStorage",
}
ITEMSIZE = {"F16": 2, "F32": 4, "BF16": 2, "F64": 8, "I64": 8}


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def _int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)  # BININT


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def state_dict_pickle(
    tensors: Mapping[str, tuple[str, tuple[int, ...]]],
    *,
    wrap: str | None = None,
    extra: Mapping[str, str | int] | None = None,
) -> bytes:
    """A pickle of ``{name: tensor}`` (optionally ``{wrap: {...}, **extra}``)."""
    out = io.BytesIO()
    out.write(b"\x80\x02")
    if wrap:
        out.write(b"}")  # EMPTY_DICT (outer)
        for key, value in (extra or {}).items():
            out.write(_str(key) + (_int(value) if isinstance(value, int) else _str(value)) + b"s")
        out.write(_str(wrap))
    out.write(_global("collections", "OrderedDict") + b")R")  # OrderedDict()
    for i, (name, (dtype, shape)) in enumerate(tensors.items()):
        numel = 1
        for d in shape:
            numel *= d
        stride: list[int] = []
        acc = 1
        for d in reversed(shape):
            stride.insert(0, acc)
            acc *= d
        pid = _tuple(
            [
                _str("storage"),
                _global("torch", STORAGE[dtype]),
                _str(str(i)),
                _str("cpu"),
                _int(numel),
            ]
        )
        out.write(_str(name))
        out.write(_global("torch._utils", "_rebuild_tensor_v2"))
        out.write(
            b"("
            + pid
            + b"Q"
            + _int(0)
            + _tuple([_int(d) for d in shape])
            + _tuple([_int(s) for s in stride])
            + b"\x89"
            + _global("collections", "OrderedDict")
            + b")R"
            + b"tR"
        )
        out.write(b"s")  # SETITEM
    if wrap:
        out.write(b"s")
    out.write(b".")
    return out.getvalue()


def torch_zip(
    tensors: Mapping[str, tuple[str, tuple[int, ...]]], *, archive: str = "archive", **kw: object
) -> bytes:
    """A ``torch.save`` zip: data.pkl, one stored member per storage, version."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", state_dict_pickle(tensors, **kw))  # type: ignore[arg-type]
        for i, (dtype, shape) in enumerate(tensors.values()):
            numel = 1
            for d in shape:
                numel *= d
            zf.writestr(f"{archive}/data/{i}", bytes(numel * ITEMSIZE[dtype]))
        zf.writestr(f"{archive}/version", "3\n")
    return buf.getvalue()


def payload_pickle(marker: str) -> bytes:
    """``os.system('touch MARKER')`` as a REDUCE: loading it would create the file."""
    return b"\x80\x02" + _global("os", "system") + _tuple([_str(f"touch {marker}")]) + b"R."


def stack_global_payload(marker: str) -> bytes:
    """The same payload spelled with STACK_GLOBAL (protocol 4), as modern exploits do."""
    return (
        b"\x80\x04"
        + b"\x8c\x05posix\x94"
        + b"\x8c\x06system\x94\x93"
        + b"\x8c"
        + bytes([len(f"touch {marker}")])
        + f"touch {marker}".encode()
        + b"\x85R."
    )
