"""A strict, hand-written safetensors header parser.

Why not just call ``safetensors.safe_open``? Three reasons: hubs hand us only the
first few kilobytes of a remote file (an HTTP range read), so the parser must
work on a byte prefix plus the file size; hostile files must become a one-line
error that says what is wrong and where, not a Rust panic message; and we want
every rule of the format checked (known dtypes, shapes that match their byte
ranges, offsets that tile the data region exactly, no duplicate keys), because a
file that bends the rules is evidence of tampering.

The format: 8 bytes little-endian ``N``, then ``N`` bytes of UTF-8 JSON mapping
tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets
relative to the start of the data region at ``8 + N``), plus an optional
``__metadata__`` string-to-string map. The data region follows and must be
covered exactly by the tensors.

Example::

    first = source.read_at(0, 8)
    need = bytes_needed(first)              # 8 + header length
    artifact = parse_safetensors_header(source.read_at(0, need), source.size, "x.safetensors")
"""

from __future__ import annotations

import gc
import json
import math
import struct
from collections.abc import Callable, Mapping
from typing import Any, cast

import msgspec

from likenessguard.artifacts.base import Artifact, ByteSource, Format, TensorInfo
from likenessguard.artifacts.identify import identify
from likenessguard.errors import ArtifactError

#: The same limit the reference implementation enforces (decimal, 100 MB).
MAX_HEADER_BYTES = 100_000_000

#: Bits per element of every dtype the format defines (the F4/F6/F8_E8M0 variants
#: are the microscaling types added in safetensors 0.6).
DTYPE_BITS: Mapping[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}

#: Metadata values that kohya, musubi and modelspec store as JSON inside a string.
JSON_METADATA_KEYS: frozenset[str] = frozenset(
    {
        "ss_tag_frequency",
        "ss_dataset_dirs",
        "ss_network_args",
        "ss_bucket_info",
        "ss_datasets",
        "ss_reg_dataset_dirs",
        "ss_optimizer_args",
        "ss_bucket_resolutions",
    }
)

_SUFFIX = "the file is corrupt or hostile; it was skipped"

_DTYPES = frozenset(DTYPE_BITS)


class _Entry(msgspec.Struct, gc=False):
    """A tensor entry as the fast path decodes it; every field is checked after decoding.

    Unknown fields are ignored rather than refused so that the ``__metadata__``
    object decodes too (as an entry with no fields); an unknown field in a
    tensor entry still takes the strict path, through the colon count.
    """

    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    data_offsets: tuple[int, int] | None = None


class _MetadataOnly(msgspec.Struct):
    """The header's ``__metadata__`` as a string map, every other key skipped unparsed."""

    metadata: dict[str, str] | None = msgspec.field(default=None, name="__metadata__")


# Typed decoding builds the entries and checks JSON types in C: msgspec refuses
# a float, a boolean or a string where an int belongs, and an offsets list
# that is not exactly two ints.
_decode_entries = msgspec.json.Decoder(dict[str, _Entry | None]).decode
_decode_metadata = msgspec.json.Decoder(_MetadataOnly).decode
_decode_json_text = msgspec.json.Decoder().decode


def human_bytes(n: int) -> str:
    """Decimal units, one decimal place: ``2147483648`` -> ``2.1 GB``."""
    if n < 1000:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB", "PB", "EB", "ZB"):
        value /= 1000.0
        if value < 999.95:
            return f"{value:.1f} {unit}".replace(".0 ", " ")
    return f"{value:.1f} ZB"


def header_length(first8: bytes) -> int:
    """The header length ``N`` declared by the first 8 bytes of a safetensors file.

    Raises:
        ArtifactError: fewer than 8 bytes were given.
    """
    if len(first8) < 8:
        raise ArtifactError(
            f"need the first 8 bytes of a safetensors file to read its header length, "
            f"got {len(first8)}"
        )
    return int(struct.unpack_from("<Q", first8, 0)[0])


def bytes_needed(first8: bytes) -> int:
    """How many bytes from the start of the file hold the length prefix and the header.

    A hub client reads 8 bytes (or a generous first chunk), calls this, and
    fetches the rest only if its prefix is shorter. Hostile lengths are returned
    as declared: :func:`parse_safetensors_header` rejects them, so check against
    :data:`MAX_HEADER_BYTES` before fetching.
    """
    return 8 + header_length(first8)


class _Bad(Exception):
    """Internal: one validation failure, carrying its final message."""


def _as_dict(pairs: tuple[tuple[str, Any], ...], name: str) -> dict[str, Any]:
    """A JSON object (decoded as a tuple of pairs) as a dict, refusing repeated keys.

    The header is decoded with ``object_pairs_hook=tuple`` (a C call, unlike a
    Python hook) so that duplicates stay visible: a repeated key means two
    readers may disagree on what the file contains, a classic smuggling trick.
    """
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Bad(f"header of {name} repeats the key {_short(key)}: {_SUFFIX}")
            seen.add(key)
    return d


def _check_nested(value: Any, name: str) -> None:
    """Refuse repeated keys anywhere inside an unusual value (rare path only)."""
    if type(value) is tuple:
        for _, inner in _as_dict(value, name).items():
            _check_nested(inner, name)
    elif type(value) is list:
        for inner in value:
            _check_nested(inner, name)


def _fast_parse(
    raw: bytes, data_start: int, data_len: int
) -> tuple[tuple[TensorInfo, ...], dict[str, str]] | None:
    """The hot path: the same rules as :func:`_parse_tensors`, checked in bulk.

    Returns ``None`` whenever anything is unusual (a decode error, a fourth key
    in an entry, a bad dtype, a gap between tensors, a possible repeated key);
    the caller then runs the strict per-entry parser, which accepts exactly what
    this path accepts and words the error. So this path never decides a
    rejection and never accepts more: it only makes ordinary files cheap.

    Repeated keys without an ``object_pairs_hook``: every key in JSON text is
    followed by exactly one ``:`` outside strings, and every other ``:`` sits in
    a string. Once every string of the decoded header is known (tensor names,
    dtypes, metadata keys and values: nothing else may hold one here), the keys
    in the text number ``raw.count(b":")`` minus the colons in those strings. A
    repeated key drops a pair from the decoded dicts, and a key the typed decode
    ignores (a fourth key in an entry) is a colon no decoded key accounts for:
    either way the decoded key count falls short of that number. The ``\\u003a``
    escape (a colon not written as ``:``) would break the count, so any such
    escape takes the strict path.
    """
    if b"\\u003a" in raw or b"\\u003A" in raw:
        return None
    try:
        header = _decode_entries(raw)
    except msgspec.DecodeError:
        return None
    keys = len(header)
    metadata: dict[str, str] = {}
    in_strings = 0
    if header.pop("__metadata__", None) is not None:
        # Decoded as an _Entry above (its keys ignored as unknown fields), so read
        # it again as what it must be: a string-to-string map.
        try:
            meta = _decode_metadata(raw).metadata
        except msgspec.DecodeError:
            return None
        if meta is not None:
            keys += len(meta)
            in_strings += "".join(meta).count(":") + "".join(meta.values()).count(":")
            metadata = meta
    if not header:
        return None
    names = list(header)
    maybe_entries = list(header.values())
    if None in maybe_entries:
        return None
    entries = cast(list[_Entry], maybe_entries)
    maybe_dtypes = [e.dtype for e in entries]
    maybe_shapes = [e.shape for e in entries]
    maybe_offsets = [e.data_offsets for e in entries]
    if None in maybe_shapes or None in maybe_offsets or not set(maybe_dtypes) <= _DTYPES:
        return None
    dtypes = cast(list[str], maybe_dtypes)
    shapes = cast(list[tuple[int, ...]], maybe_shapes)
    offsets = cast(list[tuple[int, int]], maybe_offsets)
    numels: dict[tuple[int, ...], int] = {}
    for shape in set(shapes):
        if shape and min(shape) < 0:
            return None
        numels[shape] = math.prod(shape)
    bits = DTYPE_BITS
    if [numels[s] * bits[d] for s, d in zip(shapes, dtypes, strict=True)] != [
        (e - b) * 8 for b, e in offsets
    ]:
        return None
    # Tiling: sorted by (begin, end), each span starts where the previous ended.
    flat = [x for span in sorted(offsets) for x in span]
    if flat[0] != 0 or flat[-1] != data_len or flat[1:-1:2] != flat[2::2]:
        return None
    keys += 3 * len(entries)
    in_strings += "".join(names).count(":")  # dtypes and entry keys hold none
    if raw.count(b":") - in_strings != keys:
        return None
    tensors = tuple(
        [
            TensorInfo(name, dtype, shape, data_start + begin, end - begin)
            for name, dtype, shape, (begin, end) in zip(names, dtypes, shapes, offsets, strict=True)
        ]
    )
    return tensors, metadata


def _strict_parse(
    text: str, data_start: int, data_len: int, name: str
) -> tuple[tuple[TensorInfo, ...], dict[str, str]]:
    """Decode and validate entry by entry; raises :class:`_Bad` with the message."""
    try:
        header = json.loads(text, object_pairs_hook=tuple)
    except json.JSONDecodeError as exc:
        raise _Bad(
            f"header of {name} is not valid JSON ({exc.msg} at character {exc.pos}): {_SUFFIX}"
        ) from None
    except RecursionError:
        raise _Bad(
            f"header of {name} nests JSON too deeply to be a real header: {_SUFFIX}"
        ) from None
    if type(header) is not tuple:
        raise _Bad(f"header of {name} is a JSON {_json_type(header)}, not an object: {_SUFFIX}")
    return _parse_tensors(header, data_start, data_len, name, text)


def _parse_tensors(
    top: tuple[tuple[str, Any], ...], data_start: int, data_len: int, name: str, text: str
) -> tuple[tuple[TensorInfo, ...], dict[str, str]]:
    header = _as_dict(top, name)
    metadata: dict[str, str] = {}
    raw_meta = header.pop("__metadata__", None)
    if raw_meta is not None:
        if type(raw_meta) is tuple:
            raw_meta = _as_dict(raw_meta, name)
        if not isinstance(raw_meta, dict):
            raise _Bad(
                f"__metadata__ in {name} is a JSON {_json_type(raw_meta)}, "
                f"not a string-to-string map: {_SUFFIX}"
            )
        for key, value in raw_meta.items():
            if not isinstance(value, str):
                raise _Bad(
                    f"__metadata__ in {name} maps {_short(key)} to a JSON "
                    f"{_json_type(value)}, not a string: {_SUFFIX}"
                )
        metadata = raw_meta

    bits = DTYPE_BITS
    # Shapes repeat across modules; validate each distinct one once. A JSON
    # ``true`` would hash like 1, so the cache is off when the header has any.
    numels: dict[tuple[int, ...], int] | None = {} if "true" not in text else None
    stride = data_len + 1
    spans: list[int] = []
    tensors: list[TensorInfo] = []
    append_span = spans.append
    append_tensor = tensors.append
    for tname, pairs in header.items():
        if type(pairs) is not tuple:
            raise _Bad(_entry_problem(tname, pairs, name))
        try:
            # Fast path: writers emit the three fields in this order, and three
            # distinct names cannot hide a repeated key.
            (k1, dtype), (k2, raw_shape), (k3, offsets) = pairs
            if k1 != "dtype" or k2 != "shape" or k3 != "data_offsets":
                raise ValueError
        except ValueError:
            entry = _as_dict(pairs, name)
            if len(entry) > 3:
                _check_nested(pairs, name)
            try:
                dtype = entry["dtype"]
                raw_shape = entry["shape"]
                offsets = entry["data_offsets"]
            except KeyError:
                raise _Bad(_entry_problem(tname, entry, name)) from None
        try:
            begin, end = offsets
            width = bits[dtype]
        except (TypeError, KeyError, ValueError):
            raise _Bad(_entry_problem(tname, dict(pairs), name)) from None
        if type(begin) is not int or type(end) is not int or not 0 <= begin <= end:
            raise _Bad(
                f"tensor {_short(tname)} in {name} has invalid data_offsets "
                f"{_short(offsets)}: {_SUFFIX}"
            )
        if type(raw_shape) is not list:
            raise _Bad(f"tensor {_short(tname)} in {name} has a non-list shape: {_SUFFIX}")
        shape = tuple(raw_shape)
        numel = numels.get(shape) if numels is not None else None
        if numel is None:
            numel = 1
            for dim in shape:
                if type(dim) is not int or dim < 0:
                    raise _Bad(
                        f"tensor {_short(tname)} in {name} has an invalid shape "
                        f"{_short(raw_shape)}: {_SUFFIX}"
                    )
                numel *= dim
            if numels is not None:
                numels[shape] = numel
        if numel * width != (end - begin) * 8:
            nbits = numel * width
            raise _Bad(
                f"tensor {_short(tname)} in {name} is {dtype} {_short(raw_shape)} "
                f"({_bits_to_bytes(nbits)}) but its data_offsets span {end - begin} bytes: "
                f"{_SUFFIX}"
            )
        if end > data_len:
            raise _Bad(
                f"tensor {_short(tname)} in {name} ends at data byte {end} but the data "
                f"region has only {data_len} bytes: the file is truncated; re-download it"
            )
        # One int per span sorts much faster than tuples: begin * stride + end.
        append_span(begin * stride + end)
        append_tensor(TensorInfo(tname, dtype, shape, data_start + begin, end - begin))

    # Tensors must tile the data region: sorted by offset, each starting where
    # the previous ended, the last ending at the end of the file.
    spans.sort()
    position = 0
    for span in spans:
        begin, end = divmod(span, stride)
        if begin != position:
            _raise_tiling(tensors, data_start, position, begin, name)
        position = end
    if position != data_len:
        raise _Bad(
            f"{name} has {data_len - position} bytes after the last tensor that no tensor "
            f"declares: {_SUFFIX}"
        )
    return tuple(tensors), metadata


def _raise_tiling(
    tensors: list[TensorInfo], data_start: int, position: int, begin: int, name: str
) -> None:
    """Name the tensors around a gap or overlap (only on the error path)."""
    ends_here = [t.name for t in tensors if t.offset - data_start + t.nbytes == position]
    starts_here = [t.name for t in tensors if t.offset - data_start == begin]
    previous = ends_here[0] if ends_here else "<start of data>"
    current = starts_here[0] if starts_here else "?"
    if begin < position:
        raise _Bad(
            f"tensors {_short(previous)} and {_short(current)} in {name} overlap "
            f"(data byte {begin} is inside the previous tensor): {_SUFFIX}"
        )
    raise _Bad(
        f"{name} has {begin - position} unaccounted bytes before tensor {_short(current)} "
        f"(data offset {position}): {_SUFFIX}"
    )


def _entry_problem(tname: str, entry: Any, name: str) -> str:
    """Explain why a tensor entry is malformed (only on the error path)."""
    where = f"tensor {_short(tname)} in {name}"
    if not isinstance(entry, dict):
        return f"{where} is a JSON {_json_type(entry)}, not an object: {_SUFFIX}"
    for key in ("dtype", "shape", "data_offsets"):
        if key not in entry:
            return f"{where} has no {key}: {_SUFFIX}"
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return (
            f"{where} has unknown dtype {_short(dtype)}: the file is corrupt or uses a dtype "
            f"this version does not know; it was skipped"
        )
    return f"{where} has invalid data_offsets {_short(entry['data_offsets'])}: {_SUFFIX}"


def _bits_to_bytes(nbits: int) -> str:
    return f"{nbits // 8} bytes" if nbits % 8 == 0 else f"{nbits / 8} bytes"


def _short(value: Any, limit: int = 80) -> str:
    """A JSON-ish rendering of a hostile value, cut so one error stays one line."""
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    if isinstance(value, dict | tuple):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def decode_metadata(metadata: Mapping[str, str], name: str) -> tuple[dict[str, Any], list[str]]:
    """Decode JSON-in-string metadata values leniently.

    Known JSON keys (``ss_tag_frequency``, ``ss_network_args``, ...), every
    ``modelspec.*`` value and any value that looks like a JSON object or array
    are parsed; a value that fails to parse stays a string and adds a warning.

    Returns:
        ``(decoded, warnings)``; ``decoded`` has the same keys as ``metadata``.
    """
    decoded: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in metadata.items():
        stripped = value.lstrip()
        looks_json = stripped[:1] in ("{", "[")
        if not (looks_json or key in JSON_METADATA_KEYS):
            decoded[key] = value
            continue
        if key in JSON_METADATA_KEYS and not looks_json and stripped in ("", "None", "null"):
            # kohya writes "None" or "" when a field does not apply.
            decoded[key] = None
            continue
        try:
            # msgspec first (several times faster on kohya's tag-frequency maps);
            # what it refuses (NaN, very deep nesting) gets the stdlib's lenient say.
            decoded[key] = _decode_json_text(value)
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            continue
        try:
            decoded[key] = json.loads(value)
        except (ValueError, RecursionError) as exc:
            decoded[key] = value
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            warnings.append(
                f"metadata {_short(key, 60)} in {name} is not valid JSON ({reason}): kept as text"
            )
    return decoded, warnings


#: At most this many ``.alpha`` scalars are read per file (evenly spaced when
#: there are more): enough for a robust "most common alpha", bounded I/O.
MAX_ALPHA_READS = 16

_SCALAR_FORMATS: Mapping[str, str] = {
    "F16": "<e",
    "F32": "<f",
    "F64": "<d",
    "I8": "<b",
    "U8": "<B",
    "I16": "<h",
    "I32": "<i",
    "I64": "<q",
}


def scalar_value(raw: bytes, dtype: str) -> float | None:
    """Decode one little-endian scalar (an ``.alpha`` tensor) without numpy."""
    if dtype == "BF16":
        if len(raw) != 2:
            return None
        # bfloat16 is the top half of a float32.
        return float(struct.unpack("<f", b"\x00\x00" + raw)[0])
    fmt = _SCALAR_FORMATS.get(dtype)
    if fmt is None or len(raw) != struct.calcsize(fmt):
        return None
    value = float(struct.unpack(fmt, raw)[0])
    return None if math.isnan(value) else value  # NaN alpha is no evidence


def _alpha_values(
    tensors: tuple[TensorInfo, ...], read: Callable[[int, int], bytes | None]
) -> list[float]:
    # The size test first: it is an attribute read, and only scalars pass it.
    alphas = [t for t in tensors if t.nbytes <= 8 and t.name[-6:] == ".alpha"]
    if len(alphas) > MAX_ALPHA_READS:
        step = len(alphas) / MAX_ALPHA_READS
        alphas = [alphas[int(i * step)] for i in range(MAX_ALPHA_READS)]
    values: list[float] = []
    for t in alphas:
        raw = read(t.offset, t.nbytes)
        if raw is None:
            break
        value = scalar_value(raw, t.dtype)
        if value is not None:
            values.append(value)
    return values


def parse_safetensors_header(
    prefix: bytes,
    file_size: int,
    name: str,
    *,
    read: Callable[[int, int], bytes | None] | None = None,
) -> Artifact:
    """Parse a safetensors file from its first bytes.

    Pure: no I/O. ``prefix`` must hold at least :func:`bytes_needed` bytes (more
    is fine); ``file_size`` is the whole file's size, used to check that the
    tensors cover the data region exactly. Never raises on bad input.

    Args:
        prefix: the first bytes of the file (length prefix + header, or more).
        file_size: total size of the file in bytes.
        name: display name used in messages and as ``Artifact.path``.
        read: optional ``read(offset, length)`` for the ``.alpha`` scalars
            beyond the prefix; without it, alphas inside the prefix are used and
            the rest falls back to ``ss_network_alpha``.

    Returns:
        An identified :class:`Artifact`; on bad input its ``errors`` holds one
        line that says what is wrong, where, and what to do.
    """
    # A header of ~700 tensors allocates several thousand containers (decoded
    # dicts and lists, one TensorInfo each), which sets off many cyclic-GC passes,
    # each traversing every object of the process: a quarter of the parse time.
    # What is built here forms no reference cycles (and any from an error path
    # is collected at the next pass), so pausing the collector for these few
    # milliseconds leaks nothing.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _parse_header(prefix, file_size, name, read)
    finally:
        if paused:
            gc.enable()


def _parse_header(
    prefix: bytes,
    file_size: int,
    name: str,
    read: Callable[[int, int], bytes | None] | None,
) -> Artifact:
    """:func:`parse_safetensors_header` with the collector paused by the caller."""

    def failed(message: str) -> Artifact:
        return Artifact(path=name, size=file_size, format=Format.SAFETENSORS, errors=(message,))

    if file_size == 0:
        return failed(f"{name} is empty (0 bytes): it is not a model file; it was skipped")
    if file_size < 8 or len(prefix) < 8:
        have = min(file_size, len(prefix))
        if file_size < 8:
            return failed(
                f"{name} is only {file_size} bytes, too short for a safetensors header: "
                f"the file is truncated; re-download it"
            )
        return failed(
            f"only {have} bytes of {name} were read, too few for a safetensors header: "
            f"read at least the first 8 bytes"
        )
    n = header_length(prefix)
    if n > MAX_HEADER_BYTES:
        return failed(f"header of {name} declares {human_bytes(n)} (limit 100 MB): {_SUFFIX}")
    if n > file_size - 8:
        return failed(
            f"header of {name} declares {human_bytes(n)} but the file has only "
            f"{human_bytes(file_size - 8)} after the length prefix: the file is truncated; "
            f"re-download it"
        )
    if len(prefix) < 8 + n:
        return failed(
            f"only {len(prefix)} bytes of {name} were read but its header needs {8 + n}: "
            f"read the first {8 + n} bytes"
        )
    raw = prefix[8 : 8 + n]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return failed(f"header of {name} is not valid UTF-8 (byte {exc.start}): {_SUFFIX}")
    fast = _fast_parse(raw, 8 + n, file_size - 8 - n)
    if fast is not None:
        tensors, metadata = fast
    else:
        try:
            tensors, metadata = _strict_parse(text, 8 + n, file_size - 8 - n, name)
        except _Bad as exc:
            return failed(str(exc))
    decoded, warnings = decode_metadata(metadata, name)
    have = len(prefix)

    def from_prefix(offset: int, length: int) -> bytes | None:
        if offset + length <= have:
            return prefix[offset : offset + length]
        return read(offset, length) if read is not None else None

    alphas = _alpha_values(tensors, from_prefix)
    identity, id_warnings = identify(tensors, decoded, alpha_values=alphas)
    return Artifact(
        path=name,
        size=file_size,
        format=Format.SAFETENSORS,
        identity=identity,
        tensors=tensors,
        metadata=metadata,
        decoded=decoded,
        data_offset=8 + n,
        warnings=tuple(warnings + id_warnings),
    )


def read_safetensors(source: ByteSource, name: str | None = None) -> Artifact:
    """Read a safetensors file through a :class:`ByteSource` (two small reads).

    I/O errors propagate as ``OSError``; the dispatcher in ``open.py`` turns them
    into records.
    """
    label = source.name if name is None else name
    size = source.size
    first = source.read_at(0, min(size, 64 * 1024))
    if len(first) >= 8:
        need = 8 + header_length(first)
        if len(first) < need <= min(size, 8 + MAX_HEADER_BYTES):
            first = first + source.read_at(len(first), need - len(first))
    return parse_safetensors_header(first, size, label, read=source.read_at)


class SafetensorsReader:
    """:class:`~likenessguard.artifacts.base.ArtifactReader` for ``.safetensors``."""

    format = Format.SAFETENSORS

    def sniff(self, head: bytes, name: str) -> bool:
        # 8-byte length, then a JSON object: the first header byte is '{'
        # (writers may pad with spaces but never before the brace).
        return len(head) >= 9 and head[8:9] == b"{" and header_length(head) >= 2

    def read(self, source: ByteSource) -> Artifact:
        return read_safetensors(source)
