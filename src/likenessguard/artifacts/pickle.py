"""Read PyTorch pickle checkpoints (``.ckpt .pt .pth .bin``) without unpickling them.

Unpickling runs whatever the file says (``os.system`` is one opcode away), so
this module never calls :mod:`pickle` loaders. It walks the opcode stream with
:func:`pickletools.genops` and simulates just enough of the pickle machine to
recover the tensor table (names, shapes, dtypes from
``torch._utils._rebuild_tensor_v2`` calls and their storage persistent ids) and
to list every import the file would perform. Imports outside a small
allow-list (the one AUTOMATIC1111's safe unpickler also trusts) become
``unsafe-pickle`` findings.

Both container layouts are handled: the zip format of ``torch.save`` since 1.6
(``archive/data.pkl`` + ``archive/data/<key>`` storages; zip bombs are bounded)
and the legacy format (magic number, protocol, sys info, then the object
pickle and raw storages). Walking is bounded in opcodes, memo size and nesting
so a hostile pickle becomes an error, not a hang.
"""

from __future__ import annotations

import errno
import io
import pickletools
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, cast

from likenessguard.artifacts.base import (
    Artifact,
    ByteSource,
    Finding,
    Format,
    TensorInfo,
)
from likenessguard.artifacts.identify import identify

#: Hard limits for walking one pickle stream.
MAX_OPCODES = 3_000_000
MAX_MEMO = 1_000_000
MAX_DEPTH = 10_000
MAX_PICKLE_BYTES = 256 * 1024 * 1024
#: At most this many scalar values (strings, numbers) are kept as metadata.
MAX_METADATA_ITEMS = 256
MAX_METADATA_VALUE = 1024

ZIP_MAGIC = b"PK\x03\x04"
#: The first pickle of a legacy ``torch.save`` file is this number.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

#: Globals a tensor checkpoint legitimately needs (AUTOMATIC1111's allow-list, plus
#: the numpy and torch spellings of newer releases). Anything else would run code
#: or construct arbitrary objects when loaded.
_STORAGE_DTYPES: dict[str, str] = {
    "HalfStorage": "F16",
    "FloatStorage": "F32",
    "DoubleStorage": "F64",
    "BFloat16Storage": "BF16",
    "LongStorage": "I64",
    "IntStorage": "I32",
    "ShortStorage": "I16",
    "CharStorage": "I8",
    "ByteStorage": "U8",
    "BoolStorage": "BOOL",
    "ComplexFloatStorage": "C64",
    "Float8_e4m3fnStorage": "F8_E4M3",
    "Float8_e5m2Storage": "F8_E5M2",
}
_TORCH_DTYPES: dict[str, str] = {
    "float16": "F16",
    "half": "F16",
    "float32": "F32",
    "float": "F32",
    "float64": "F64",
    "double": "F64",
    "bfloat16": "BF16",
    "int64": "I64",
    "long": "I64",
    "int32": "I32",
    "int": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
_DTYPE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U8": 1, "BOOL": 1, "C64": 8, "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip
_REBUILD_TENSOR = frozenset(
    {
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
    }
)
_REBUILD_PARAMETER = frozenset(
    {"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"}
)
SAFE_GLOBALS: frozenset[str] = frozenset(
    {
        "collections.OrderedDict",
        "builtins.set",
        "builtins.frozenset",
        "builtins.slice",
        "__builtin__.set",
        "_codecs.encode",
        "torch.Size",
        "torch.device",
        "torch.storage.UntypedStorage",
        "torch.storage._load_from_bytes",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch.nn.modules.container.ParameterDict",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    }
    | _REBUILD_TENSOR
    | _REBUILD_PARAMETER
    | {f"torch.{name}" for name in _STORAGE_DTYPES}
    | {f"torch.{name}" for name in _TORCH_DTYPES}
)

_SUFFIX = "the file is corrupt or hostile; it was skipped"


#: Opcodes whose whole effect is to push their decoded argument.
_PUSH_ARG = frozenset(
    {
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
        "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
        "BYTEARRAY8", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
        "FLOAT", "BINFLOAT",
    }
)  # fmt: skip


class _Mark:
    """The MARK sentinel on the simulated stack."""


_MARK = _Mark()


@dataclass(frozen=True, slots=True)
class _Global:
    path: str


@dataclass(frozen=True, slots=True)
class _Storage:
    dtype: str | None
    key: str
    numel: int | None


@dataclass(frozen=True, slots=True)
class _Tensor:
    dtype: str | None
    shape: tuple[int, ...]
    storage_key: str | None
    storage_offset: int


@dataclass(frozen=True, slots=True)
class _Opaque:
    """Any object we do not model (its constructor is never called)."""

    what: str


class PickleWalkError(Exception):
    """The opcode stream is malformed or exceeds a limit (message is one line)."""


@dataclass
class WalkResult:
    """What a pickle would build (as placeholders) and what it would import."""

    root: Any
    imports: list[str] = field(default_factory=list)
    opcodes: int = 0
    end: int = 0


def _global_of(value: Any) -> str | None:
    return value.path if isinstance(value, _Global) else None


class _Stream(Protocol):
    """What ``pickletools.genops`` needs from a stream."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readline(self, limit: int = -1, /) -> bytes: ...

    def tell(self) -> int: ...


def walk_pickle(
    stream: IO[bytes] | _Stream,
    name: str,
    *,
    max_opcodes: int = MAX_OPCODES,
    max_memo: int = MAX_MEMO,
) -> WalkResult:
    """Simulate the pickle machine over ``stream`` without executing anything.

    Args:
        stream: the pickle bytes (reading stops at STOP).
        name: display name for messages.
        max_opcodes: give up after this many opcodes (time bound).
        max_memo: give up when the memo grows past this (memory bound).

    Raises:
        PickleWalkError: malformed stream or a limit was hit.
    """
    stack: list[Any] = []
    metastack: list[list[Any]] = []
    memo: dict[int, Any] = {}
    imports: list[str] = []
    count = 0
    pos = 0

    def pop_mark() -> list[Any]:
        nonlocal stack
        items = stack
        if not metastack:
            raise PickleWalkError(f"pickle in {name} pops a MARK that was never set: {_SUFFIX}")
        stack = metastack.pop()
        return items

    try:
        for opcode, arg, op_pos in pickletools.genops(cast(IO[bytes], stream)):
            pos = op_pos or 0
            count += 1
            if count > max_opcodes:
                raise PickleWalkError(
                    f"pickle in {name} has more than {max_opcodes:,} opcodes: "
                    f"the file is hostile or not a checkpoint; it was skipped"
                )
            op = opcode.name
            # The commonest opcodes of a state dict first: an if-chain walked to
            # its end for every string would dominate the walk.
            if op in _PUSH_ARG:
                if isinstance(arg, bytes | bytearray) and len(arg) > MAX_METADATA_VALUE:
                    stack.append(_Opaque("bytes"))
                else:
                    stack.append(arg)
                continue
            if op in ("BINPUT", "LONG_BINPUT", "PUT"):
                _memo_put(memo, _index(arg), stack[-1], name, max_memo)
                continue
            if op in ("PROTO", "FRAME"):
                continue
            if op == "STOP":
                break
            if op == "MARK":
                if len(metastack) >= MAX_DEPTH:
                    raise PickleWalkError(f"pickle in {name} nests too deeply: {_SUFFIX}")
                metastack.append(stack)
                stack = []
            elif op in ("EMPTY_DICT",):
                stack.append({})
            elif op in ("EMPTY_LIST",):
                stack.append([])
            elif op in ("EMPTY_TUPLE",):
                stack.append(())
            elif op in ("EMPTY_SET",):
                stack.append(_Opaque("set"))
            elif op == "DICT":
                items = pop_mark()
                stack.append(_pairs_to_dict(items))
            elif op == "LIST":
                # Pop first: ``stack.append(pop_mark())`` would bind the old stack.
                items = pop_mark()
                stack.append(items)
            elif op == "TUPLE":
                items = pop_mark()
                stack.append(tuple(items))
            elif op == "TUPLE1":
                stack[-1:] = [tuple(stack[-1:])]
            elif op == "TUPLE2":
                stack[-2:] = [tuple(stack[-2:])]
            elif op == "TUPLE3":
                stack[-3:] = [tuple(stack[-3:])]
            elif op in ("FROZENSET", "ADDITEMS"):
                pop_mark()
                if op == "FROZENSET":
                    stack.append(_Opaque("frozenset"))
            elif op == "SETITEM":
                value = stack.pop()
                key = stack.pop()
                target = stack[-1]
                if isinstance(target, dict) and _hashable(key):
                    target[key] = value
            elif op == "SETITEMS":
                items = pop_mark()
                target = stack[-1]
                if isinstance(target, dict):
                    target.update(_pairs_to_dict(items))
            elif op == "APPEND":
                value = stack.pop()
                if isinstance(stack[-1], list):
                    stack[-1].append(value)
            elif op == "APPENDS":
                items = pop_mark()
                if isinstance(stack[-1], list):
                    stack[-1].extend(items)
            elif op in ("PUT", "BINPUT", "LONG_BINPUT"):
                _memo_put(memo, _index(arg), stack[-1], name, max_memo)
            elif op == "MEMOIZE":
                _memo_put(memo, len(memo), stack[-1], name, max_memo)
            elif op in ("GET", "BINGET", "LONG_BINGET"):
                if _index(arg) not in memo:
                    raise PickleWalkError(
                        f"pickle in {name} reads memo slot {arg} that was never written: {_SUFFIX}"
                    )
                stack.append(memo[_index(arg)])
            elif op in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                path = f"{module}.{attr}"
                imports.append(path)
                if op == "INST":
                    pop_mark()
                    stack.append(_Opaque(path))  # pop_mark rebinds stack first
                else:
                    stack.append(_Global(path))
            elif op == "STACK_GLOBAL":
                attr = stack.pop()
                module = stack.pop()
                if isinstance(module, str) and isinstance(attr, str):
                    path = f"{module}.{attr}"
                else:
                    path = "<a name computed at load time>"
                imports.append(path)
                stack.append(_Global(path))
            elif op == "OBJ":
                items = pop_mark()
                found = _global_of(items[0]) if items else None
                stack.append(_Opaque(found or "object"))
            elif op == "REDUCE":
                args = stack.pop()
                func = stack.pop()
                stack.append(_reduce(_global_of(func), args))
            elif op in ("NEWOBJ", "NEWOBJ_EX"):
                if op == "NEWOBJ_EX":
                    stack.pop()
                stack.pop()
                cls = stack.pop()
                found = _global_of(cls)
                stack.append(
                    {} if found == "collections.OrderedDict" else _Opaque(found or "object")
                )
            elif op == "BUILD":
                stack.pop()
            elif op == "BINPERSID":
                stack.append(_storage(stack.pop()))
            elif op == "PERSID":
                stack.append(_Opaque("persistent id"))
            elif op == "POP":
                stack.pop()
            elif op == "POP_MARK":
                pop_mark()
            elif op == "DUP":
                stack.append(stack[-1])
            elif op in ("EXT1", "EXT2", "EXT4"):
                imports.append(f"<copyreg extension {arg}>")
                stack.append(_Global(f"<copyreg extension {arg}>"))
            elif op in ("NONE",):
                stack.append(None)
            elif op == "NEWTRUE":
                stack.append(True)
            elif op == "NEWFALSE":
                stack.append(False)
            elif op in ("NEXT_BUFFER", "READONLY_BUFFER"):
                if op == "NEXT_BUFFER":
                    stack.append(_Opaque("out-of-band buffer"))
            # Every remaining opcode pushes its decoded argument (ints,
            # floats, strings, bytes).
            elif isinstance(arg, bytes | bytearray) and len(arg) > MAX_METADATA_VALUE:
                stack.append(_Opaque("bytes"))
            else:
                stack.append(arg)
        else:
            raise PickleWalkError(f"pickle in {name} ends without STOP: {_SUFFIX}")
    except PickleWalkError:
        raise
    except (IndexError, TypeError, KeyError, AttributeError):
        raise PickleWalkError(
            f"pickle in {name} is malformed at byte {pos} (stack underflow): {_SUFFIX}"
        ) from None
    except ValueError as exc:
        if "exhausted before seeing STOP" in str(exc) or "remain" in str(exc):
            raise PickleWalkError(
                f"pickle in {name} is truncated (no STOP after byte {pos}): the file is "
                f"incomplete or corrupt; re-download it"
            ) from None
        detail = str(exc).splitlines()[0][:120] if str(exc) else "bad opcode"
        where = "" if detail.startswith("at position") else f" at byte {pos}"
        raise PickleWalkError(
            f"pickle in {name} is malformed{where} ({detail}): {_SUFFIX}"
        ) from None
    except (EOFError, struct.error, UnicodeDecodeError):
        raise PickleWalkError(f"pickle in {name} is truncated at byte {pos}: {_SUFFIX}") from None
    root = stack[-1] if stack else None
    return WalkResult(root=root, imports=imports, opcodes=count, end=int(stream.tell()))


def _index(arg: Any) -> int:
    if not isinstance(arg, int):
        raise PickleWalkError("memo index is not an integer")
    return arg


def _hashable(key: Any) -> bool:
    return isinstance(key, str | int | float | bool | bytes | tuple) or key is None


def _pairs_to_dict(items: list[Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for i in range(0, len(items) - 1, 2):
        if _hashable(items[i]):
            out[items[i]] = items[i + 1]
    return out


def _memo_put(memo: dict[int, Any], index: int, value: Any, name: str, limit: int) -> None:
    if index not in memo and len(memo) >= limit:
        raise PickleWalkError(
            f"pickle in {name} stores more than {limit:,} memo entries: {_SUFFIX}"
        )
    memo[index] = value


def _storage(pid: Any) -> Any:
    """Model a ``('storage', StorageType, key, location, numel)`` persistent id."""
    if isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage":
        stype = _global_of(pid[1])
        dtype = None
        if stype is not None:
            short = stype.rpartition(".")[2]
            dtype = _STORAGE_DTYPES.get(short) or _TORCH_DTYPES.get(short)
        numel = pid[4] if len(pid) > 4 and isinstance(pid[4], int) else None
        return _Storage(dtype, str(pid[2]), numel)
    return _Opaque("persistent id")


def _reduce(func: str | None, args: Any) -> Any:
    if func is None or not isinstance(args, tuple):
        return _Opaque(func or "call")
    if func in _REBUILD_TENSOR and len(args) >= 3:
        storage, offset, size = args[0], args[1], args[2]
        if isinstance(size, tuple) and all(isinstance(d, int) for d in size):
            dtype = storage.dtype if isinstance(storage, _Storage) else None
            if func.endswith("_v3") and len(args) > 6:
                # v3 carries the dtype explicitly (untyped storages).
                dtype = _TORCH_DTYPES.get((_global_of(args[6]) or "").rpartition(".")[2], dtype)
            key = storage.key if isinstance(storage, _Storage) else None
            return _Tensor(dtype, size, key, offset if isinstance(offset, int) else 0)
    if func in _REBUILD_PARAMETER and args and isinstance(args[0], _Tensor):
        return args[0]
    if func == "collections.OrderedDict":
        return {}
    if func == "torch.Size" and args and isinstance(args[0], tuple):
        return args[0]
    return _Opaque(func)


def _flatten(
    root: Any,
) -> tuple[list[tuple[str, _Tensor]], dict[str, str]]:
    """Tensors and scalar metadata of a state dict, keys joined with dots.

    Lightning-style checkpoints nest the weights under ``state_dict``; that
    level is used as the root so names match safetensors conversions.
    """
    if isinstance(root, dict) and isinstance(root.get("state_dict"), dict):
        meta_source = {k: v for k, v in root.items() if k != "state_dict"}
        root_items: dict[Any, Any] = root["state_dict"]
    else:
        meta_source = {}
        root_items = root if isinstance(root, dict) else {}
    tensors: list[tuple[str, _Tensor]] = []
    metadata: dict[str, str] = {}

    def visit(prefix: str, value: Any, depth: int, sink_meta: bool) -> None:
        if depth > 32:
            return
        if isinstance(value, _Tensor):
            if not sink_meta:
                tensors.append((prefix, value))
        elif isinstance(value, dict):
            for k, v in value.items():
                visit(f"{prefix}.{k}" if prefix else str(k), v, depth + 1, sink_meta)
        elif isinstance(value, str | int | float | bool) and len(metadata) < MAX_METADATA_ITEMS:
            text = str(value)
            metadata[prefix] = text[:MAX_METADATA_VALUE]

    visit("", root_items, 0, False)
    visit("", meta_source, 0, True)
    return tensors, metadata


class _SourceFile(io.RawIOBase):
    """A seekable, read-only file object over a :class:`ByteSource` (for zipfile)."""

    def __init__(self, source: ByteSource, start: int = 0) -> None:
        self._source = source
        self._pos = start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            pos = offset
        elif whence == 1:
            pos = self._pos + offset
        else:
            pos = self._source.size + offset
        if pos < 0:
            # As a real file does: zipfile turns this into BadZipFile for a
            # hostile central directory that points before the start.
            raise OSError(errno.EINVAL, f"negative seek position {pos} in {self._source.name}")
        self._pos = pos
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self._source.read_at(self._pos, len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _BoundedReader(io.RawIOBase):
    """A buffered, read-only stream over a :class:`ByteSource` that never over-allocates.

    ``pickletools`` reads length-prefixed arguments with ``f.read(n)`` where
    ``n`` comes from the file; a hostile 2**62 would make ``BufferedReader``
    allocate that much. Reads here are capped at what the source holds.
    """

    def __init__(self, source: ByteSource, chunk: int = 1 << 16) -> None:
        self._source = source
        self._size = source.size
        self._chunk = chunk
        self._buf = b""
        self._buf_start = 0
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def _fill(self) -> None:
        if not self._buf_start <= self._pos < self._buf_start + len(self._buf):
            self._buf_start = self._pos
            self._buf = self._source.read_at(self._pos, min(self._chunk, self._size - self._pos))

    def read(self, n: int | None = -1) -> bytes:
        remaining = max(0, self._size - self._pos)
        want = remaining if n is None or n < 0 else min(n, remaining)
        if want <= 0:
            return b""
        self._fill()
        offset = self._pos - self._buf_start
        if offset + want <= len(self._buf):
            data = self._buf[offset : offset + want]
        else:
            data = self._source.read_at(self._pos, want)
        self._pos += len(data)
        return data

    def readline(self, limit: int | None = -1) -> bytes:
        # Protocol-0 opcodes carry newline-terminated arguments; bound them.
        cap = 1 << 20 if limit is None or limit < 0 else limit
        out = bytearray()
        while len(out) < cap:
            chunk = self.read(min(4096, cap - len(out)))
            if not chunk:
                break
            cut = chunk.find(b"\n")
            if cut >= 0:
                out += chunk[: cut + 1]
                self._pos -= len(chunk) - cut - 1
                break
            out += chunk
        return bytes(out)


def _artifact_from_walk(
    source: ByteSource,
    name: str,
    result: WalkResult,
    offsets: dict[str, int],
    warnings: list[str],
) -> Artifact:
    findings = unsafe_findings(result.imports)
    pairs, metadata = _flatten(result.root)
    tensors: list[TensorInfo] = []
    for tname, t in pairs:
        dtype = t.dtype or "unknown"
        numel = 1
        for d in t.shape:
            numel *= d
        nbytes = numel * _DTYPE_BYTES.get(dtype, 0)
        base = offsets.get(t.storage_key or "", -1)
        offset = base + t.storage_offset * _DTYPE_BYTES.get(dtype, 0) if base >= 0 else -1
        tensors.append(TensorInfo(tname, dtype, t.shape, offset, nbytes))
    if not tensors and not findings:
        warnings.append(f"{name} holds a pickle with no tensors: it is not a model checkpoint")
    identity, id_warnings = identify(tensors, metadata)
    return Artifact(
        path=name,
        size=source.size,
        format=Format.PICKLE,
        identity=identity,
        tensors=tuple(tensors),
        metadata=metadata,
        decoded=dict(metadata),
        findings=findings,
        warnings=tuple(warnings + id_warnings),
    )


def unsafe_findings(imports: list[str]) -> tuple[Finding, ...]:
    """One ``unsafe-pickle`` finding per distinct import outside :data:`SAFE_GLOBALS`."""
    seen: dict[str, None] = {}
    for path in imports:
        if path not in SAFE_GLOBALS:
            seen.setdefault(path, None)
    return tuple(
        Finding(
            code="unsafe-pickle",
            message=f"imports {path}: loading this file would run code; do not load it",
            severity="critical",
        )
        for path in seen
    )


def read_pickle(source: ByteSource, name: str | None = None) -> Artifact:
    """Read a torch checkpoint (zip or legacy) or a bare pickle, never unpickling it."""
    label = source.name if name is None else name
    head = source.read_at(0, 8)
    try:
        if head[:4] == ZIP_MAGIC:
            return _read_torch_zip(source, label)
        return _read_legacy(source, label)
    except PickleWalkError as exc:
        message = str(exc)
        if head[:1] != b"\x80":
            # No PROTO opcode and the walk failed: most likely not a pickle at all
            # (protocol-0 pickles that do parse are still walked and audited).
            message = (
                f"{label} is neither a torch checkpoint nor a pickle (starts with "
                f"{head.hex(' ')}); it was skipped"
            )
        return Artifact(path=label, size=source.size, format=Format.PICKLE, errors=(message,))
    except zipfile.BadZipFile as exc:
        return Artifact(
            path=label,
            size=source.size,
            format=Format.PICKLE,
            errors=(f"{label} is a damaged zip ({exc}): {_SUFFIX}",),
        )


def _read_legacy(source: ByteSource, name: str) -> Artifact:
    if source.size == 0:
        return Artifact(
            path=name,
            size=0,
            format=Format.PICKLE,
            errors=(f"{name} is empty (0 bytes): it is not a model file; it was skipped",),
        )
    stream = _BoundedReader(source)
    first = walk_pickle(stream, name)
    if first.root != LEGACY_MAGIC:
        # A bare pickle (e.g. ``pickle.dump(state_dict)``): the first one is the data.
        return _artifact_from_walk(source, name, first, {}, [])
    imports = list(first.imports)
    for _ in range(2):  # protocol version, then sys info
        imports += walk_pickle(stream, name).imports
    data = walk_pickle(stream, name)
    data.imports = imports + data.imports
    # Legacy storages follow a key list pickle; their offsets are not located here.
    return _artifact_from_walk(source, name, data, {}, [])


def _read_torch_zip(source: ByteSource, name: str) -> Artifact:
    with zipfile.ZipFile(_SourceFile(source)) as zf:  # type: ignore[arg-type]
        infos = zf.infolist()
        pkl = next((i for i in infos if i.filename.endswith("data.pkl")), None)
        if pkl is None:
            raise PickleWalkError(f"{name} is a zip without data.pkl: it is not a torch checkpoint")
        check_member(pkl, name, limit=MAX_PICKLE_BYTES)
        prefix = pkl.filename[: -len("data.pkl")]
        raw = read_member(zf, pkl, MAX_PICKLE_BYTES)
        result = walk_pickle(io.BytesIO(raw), f"{name}:{pkl.filename}")
        offsets: dict[str, int] = {}
        for info in infos:
            if info.filename.startswith(prefix + "data/") and info.compress_type == 0:
                offsets[info.filename[len(prefix) + 5 :]] = _member_data_offset(source, info)
    return _artifact_from_walk(source, name, result, offsets, [])


def _member_data_offset(source: ByteSource, info: zipfile.ZipInfo) -> int:
    """Absolute offset of a stored member's bytes (after its local header)."""
    local = source.read_at(info.header_offset, 30)
    if len(local) < 30 or local[:4] != ZIP_MAGIC:
        return -1
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return int(info.header_offset) + 30 + int(name_len) + int(extra_len)


#: Zip bomb limits: a member may expand at most this much...
MAX_COMPRESSION_RATIO = 200
#: ...and a whole archive may declare at most this many uncompressed bytes.
MAX_ARCHIVE_BYTES = 256 * 1024**3
MAX_ARCHIVE_MEMBERS = 10_000


def check_member(info: zipfile.ZipInfo, name: str, *, limit: int | None = None) -> None:
    """Reject a zip member that looks like a bomb before decompressing anything.

    Raises:
        PickleWalkError: the member's declared sizes are hostile.
    """
    where = f"{info.filename} in {name}"
    if info.compress_type != 0 and info.file_size > MAX_COMPRESSION_RATIO * max(
        info.compress_size, 1
    ):
        raise PickleWalkError(
            f"{where} expands {info.compress_size} bytes to {info.file_size} bytes "
            f"(ratio limit {MAX_COMPRESSION_RATIO}): a zip bomb; it was skipped"
        )
    if limit is not None and info.file_size > limit:
        raise PickleWalkError(f"{where} is {info.file_size} bytes (limit {limit}): {_SUFFIX}")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Read at most ``limit`` bytes of a member, whatever its header claims."""
    with zf.open(info) as fh:
        data = fh.read(min(limit, info.file_size) + 1)
    if len(data) > limit:
        raise PickleWalkError(f"{info.filename} is larger than {limit} bytes: {_SUFFIX}")
    return data


def iter_pickle_globals(data: bytes) -> Iterator[str]:
    """Every import a pickle would perform, in order (for quick audits and tests)."""
    yield from walk_pickle(io.BytesIO(data), "<bytes>").imports


class PickleReader:
    """:class:`~likenessguard.artifacts.base.ArtifactReader` for torch pickles."""

    format = Format.PICKLE

    def sniff(self, head: bytes, name: str) -> bool:
        # Protocol 2+ pickles start with PROTO; torch zips start with PK and are
        # told apart from plain archives by their data.pkl member in open.py.
        return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5

    def read(self, source: ByteSource) -> Artifact:
        return read_pickle(source)
