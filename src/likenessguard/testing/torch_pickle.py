"""Write real torch pickle checkpoints without importing torch.

The scanner must analyse ``.ckpt``/``.pt``/``.bin`` files by walking pickle
opcodes, never by unpickling; its tests need byte-faithful files of both torch
layouts, and installing torch (gigabytes) for fixtures is out of the question.
So this module writes what ``torch.save`` writes:

- zip layout (torch >= 1.6): an uncompressed zip with ``archive/data.pkl``
  (pickle protocol 2), ``archive/byteorder``, ``archive/data/<key>`` (raw
  little-endian storage bytes) and ``archive/version``;
- legacy layout: five concatenated pickles (magic number, protocol version,
  sys info, the object, the storage keys) followed by each storage as an 8-byte
  element count and its bytes.

Tensors are pickled as ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, backward_hooks)`` with the storage a persistent id
``("storage", torch.HalfStorage, key, "cpu", numel)``. The ``GLOBAL`` opcodes
are written by a :class:`pickle._Pickler` subclass for stand-in objects
(:class:`Global`, :class:`Call`), so no torch module is ever imported; the
same stand-ins build hostile pickles in :mod:`likenessguard.testing.hostile`.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from likenessguard.testing.factory import encode_tensor

STORAGE_TYPES: dict[str, str] = {
    "F16": "HalfStorage",
    "F32": "FloatStorage",
    "F64": "DoubleStorage",
    "BF16": "BFloat16Storage",
    "I64": "LongStorage",
    "I32": "IntStorage",
    "I16": "ShortStorage",
    "I8": "CharStorage",
    "U8": "ByteStorage",
    "BOOL": "BoolStorage",
}
_ITEMSIZE = {
    "F16": 2,
    "BF16": 2,
    "F32": 4,
    "F64": 8,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
}
_ITEMSIZE["BOOL"] = 1
_NATIVE = {
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


@dataclass(frozen=True, slots=True)
class Global:
    """A ``GLOBAL module name`` reference, written without importing ``module``."""

    module: str
    name: str

    def __call__(self, *args: Any) -> Any:
        # Callable only so the pickler accepts it as a REDUCE target; never run.
        raise TypeError(f"{self.module}.{self.name} is a pickle stand-in and cannot be called")


@dataclass(frozen=True, slots=True)
class Call:
    """``func(*args)`` as a pickle REDUCE, e.g. ``Call(Global("collections", "OrderedDict"))``.

    ``items`` (optional) are set on the result with SETITEMS, as for an OrderedDict.
    """

    func: Global
    args: tuple[Any, ...] = ()
    items: tuple[tuple[Any, Any], ...] = field(default=())


_DISPATCH: dict[type, Callable[..., None]] = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: str
    numel: int


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler lets us write GLOBALs by hand
    def __init__(
        self, file: io.BytesIO, tensor_ref: Callable[[np.ndarray[Any, Any]], Call]
    ) -> None:
        super().__init__(file, protocol=2)
        self._tensor_ref = tensor_ref

    def _save_global_ref(self, obj: Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())  # type: ignore[attr-defined]
        self.memoize(obj)  # type: ignore[attr-defined]

    # A copy of the base table plus our stand-in: the base class stays untouched.
    dispatch: ClassVar[dict[type, Callable[..., None]]] = {  # type: ignore[assignment,misc]
        **_DISPATCH,
        Global: _save_global_ref,
    }

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            obj = self._tensor_ref(obj)
        if isinstance(obj, Call):
            items = iter(obj.items) if obj.items else None
            return (obj.func, obj.args, None, None, items)
        return NotImplemented

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRef):
            storage = Global("torch", STORAGE_TYPES[obj.dtype])
            return ("storage", storage, obj.key, "cpu", obj.numel)
        return None


def _ordered(obj: Any) -> Any:
    """Plain dicts of tensors become OrderedDicts, as ``state_dict()`` returns them."""
    if isinstance(obj, Mapping) and any(isinstance(v, np.ndarray) for v in obj.values()):
        return Call(
            Global("collections", "OrderedDict"),
            (),
            tuple((k, _ordered(v)) for k, v in obj.items()),
        )
    if isinstance(obj, Mapping):
        return {k: _ordered(v) for k, v in obj.items()}
    return obj


def pickle_with_storages(
    obj: Any, *, dtype: str = "F16", storage_key: Callable[[int], str] = str
) -> tuple[bytes, list[tuple[str, str, bytes]]]:
    """Pickle ``obj`` (nested dicts/lists/scalars, numpy arrays as tensors, :class:`Call`/
    :class:`Global` stand-ins) the way ``torch.save`` does.

    Float arrays are stored as ``dtype``; integer/bool arrays keep their type.

    Returns:
        (pickle bytes, [(storage key, dtype, raw bytes), ...]).
    """
    storages: list[tuple[str, str, bytes]] = []

    def tensor_ref(arr: np.ndarray[Any, Any]) -> Call:
        dt = _NATIVE.get(arr.dtype.name, dtype)
        key = storage_key(len(storages))
        raw = encode_tensor(arr, dt)
        storages.append((key, dt, raw))
        shape = tuple(int(d) for d in arr.shape)
        stride = tuple(int(s) for s in (np.cumprod((1, *shape[::-1]))[:-1][::-1] if shape else ()))
        ref = _StorageRef(key, dt, int(arr.size))
        hooks = Call(Global("collections", "OrderedDict"))
        return Call(
            Global("torch._utils", "_rebuild_tensor_v2"), (ref, 0, shape, stride, False, hooks)
        )

    buf = io.BytesIO()
    _TorchPickler(buf, tensor_ref).dump(_ordered(obj))
    return buf.getvalue(), storages


FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Zip member timestamp: fixed, so fixtures are byte-identical for a seed."""


def zip_member(name: str, compress_type: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    """A zip member header with :data:`FIXED_ZIP_TIME` (``writestr(name)`` stamps the clock)."""
    info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    return info


def torch_zip_from_parts(
    data_pkl: bytes, storages: list[tuple[str, str, bytes]], *, archive: str = "archive"
) -> bytes:
    """Assemble the torch zip layout from a pickle and its storages (see the module docstring)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zip_member(f"{archive}/data.pkl"), data_pkl)
        zf.writestr(zip_member(f"{archive}/byteorder"), "little")
        for key, _, raw in storages:
            zf.writestr(zip_member(f"{archive}/data/{key}"), raw)
        zf.writestr(zip_member(f"{archive}/version"), "3\n")
        zf.writestr(
            zip_member(f"{archive}/.data/serialization_id"),
            "1234567890123456789012345678901234567890",
        )
    return out.getvalue()


def torch_zip_bytes(obj: Any, *, dtype: str = "F16", archive: str = "archive") -> bytes:
    """The bytes of ``torch.save(obj, f)`` in the zip layout (see the module docstring)."""
    data_pkl, storages = pickle_with_storages(obj, dtype=dtype)
    return torch_zip_from_parts(data_pkl, storages, archive=archive)


def torch_legacy_bytes(obj: Any, *, dtype: str = "F16") -> bytes:
    """The bytes of ``torch.save(obj, f, _use_new_zipfile_serialization=False)``."""
    data_pkl, storages = pickle_with_storages(
        obj, dtype=dtype, storage_key=lambda i: str(94000000 + i)
    )
    sys_info = {
        "protocol_version": LEGACY_PROTOCOL,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, sys_info):
        out.write(pickle.dumps(header, protocol=2))
    out.write(data_pkl)
    out.write(pickle.dumps([key for key, _, _ in storages], protocol=2))
    for _, dt, raw in storages:
        out.write(struct.pack("<q", len(raw) // _ITEMSIZE[dt]))
        out.write(raw)
    return out.getvalue()


def make_pickle_checkpoint(
    path: str | Path,
    tensors: Mapping[str, Any],
    *,
    zip_format: bool = True,
    dtype: str = "F16",
) -> Path:
    """Write a torch-loadable pickle checkpoint of ``tensors`` without torch.

    Args:
        path: where to write (``.ckpt``, ``.pt``, ``.pth``, ``.bin``).
        tensors: name -> numpy array, or any nesting of dicts (e.g.
            ``{"state_dict": {...}, "global_step": 1000}``); dicts holding
            arrays are written as OrderedDicts, like ``state_dict()``.
        zip_format: the zip layout (default, torch >= 1.6) or the legacy one.
        dtype: storage type of float arrays (F16, F32, BF16, F64).

    Example:
        >>> make_pickle_checkpoint(tmp / "m.ckpt", {"state_dict": {"w": np.ones(3)}})
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = (
        torch_zip_bytes(tensors, dtype=dtype)
        if zip_format
        else torch_legacy_bytes(tensors, dtype=dtype)
    )
    p.write_bytes(raw)
    return p
