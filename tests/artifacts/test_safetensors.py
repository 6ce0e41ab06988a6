"""The strict safetensors parser: golden bytes, every bad input, the reference library."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save_file

from likenessguard.artifacts.base import BytesSource, FileSource, Format, TensorInfo
from likenessguard.artifacts.safetensors import (
    DTYPE_BITS,
    bytes_needed,
    decode_metadata,
    header_length,
    human_bytes,
    parse_safetensors_header,
    read_safetensors,
    scalar_value,
)
from likenessguard.errors import ArtifactError
from likenessguard.testing import make_lora


def build(header: dict[str, object] | str | bytes, data: bytes = b"", pad: bool = False) -> bytes:
    """Length prefix + header (dict as compact JSON, or raw) + data."""
    if isinstance(header, dict):
        raw = json.dumps(header, separators=(",", ":")).encode()
    elif isinstance(header, str):
        raw = header.encode()
    else:
        raw = header
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def parse(raw: bytes, name: str = "lora.safetensors"):  # type: ignore[no-untyped-def]
    return parse_safetensors_header(raw, len(raw), name)


# --- golden bytes ----------------------------------------------------------------

GOLDEN = (
    b"\x5e\x00\x00\x00\x00\x00\x00\x00"
    b'{"__metadata__":{"ss_network_dim":"4"},'
    b'"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}' + bytes(range(8))
)


def test_golden_header_parses_to_exact_record() -> None:
    assert len(GOLDEN) == 8 + 0x5E + 8
    a = parse(GOLDEN)
    assert a.errors == ()
    assert a.format is Format.SAFETENSORS
    assert a.data_offset == 8 + 0x5E
    assert a.tensors == (TensorInfo("w", "F16", (2, 2), 102, 8),)
    assert dict(a.metadata) == {"ss_network_dim": "4"}
    assert dict(a.decoded) == {"ss_network_dim": "4"}
    assert a.path == "lora.safetensors"
    assert a.size == 110


def test_header_length_and_bytes_needed_from_first_eight_bytes() -> None:
    assert header_length(GOLDEN[:8]) == 0x5E
    assert bytes_needed(GOLDEN[:8]) == 102
    assert bytes_needed(GOLDEN[:64]) == 102
    with pytest.raises(ArtifactError, match="got 5"):
        header_length(b"\x00" * 5)


def test_prefix_only_parse_as_a_hub_range_read_does() -> None:
    # The hub fetched just the header; the file size comes from the listing.
    prefix = GOLDEN[: bytes_needed(GOLDEN[:8])]
    a = parse_safetensors_header(prefix, len(GOLDEN), "repo/lora.safetensors")
    assert a.errors == ()
    assert a.tensors[0].offset == 102
    short = parse_safetensors_header(GOLDEN[:40], len(GOLDEN), "repo/lora.safetensors")
    assert short.errors == (
        "only 40 bytes of repo/lora.safetensors were read but its header needs 102: "
        "read the first 102 bytes",
    )


def test_human_bytes() -> None:
    assert human_bytes(999) == "999 bytes"
    assert human_bytes(2_100_000_000) == "2.1 GB"
    assert human_bytes(100_000_000) == "100 MB"
    assert human_bytes(2**60) == "1.2 EB"


# --- every bad input: one exact line -----------------------------------------------

_T = {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}
BAD: list[tuple[str, bytes, str]] = [
    ("empty", b"", "lora.safetensors is empty (0 bytes): it is not a model file; it was skipped"),
    (
        "truncated-length",
        b"\x10\x00\x00",
        "lora.safetensors is only 3 bytes, too short for a safetensors header: "
        "the file is truncated; re-download it",
    ),
    (
        "length-2^60",
        struct.pack("<Q", 2**60) + b"{}",
        "header of lora.safetensors declares 1.2 EB (limit 100 MB): "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "length-2.1GB",
        struct.pack("<Q", 2_100_000_000) + b"{}",
        "header of lora.safetensors declares 2.1 GB (limit 100 MB): "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "header-longer-than-file",
        struct.pack("<Q", 5000) + b'{"a":1}',
        "header of lora.safetensors declares 5 KB but the file has only 7 bytes after the "
        "length prefix: the file is truncated; re-download it",
    ),
    (
        "invalid-json",
        build('{"w": {"dtype": "F16",'),
        "header of lora.safetensors is not valid JSON (Expecting property name enclosed in "
        "double quotes at character 22): the file is corrupt or hostile; it was skipped",
    ),
    (
        "non-utf8",
        build(b'{"w\xff": 1}'),
        "header of lora.safetensors is not valid UTF-8 (byte 3): "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "not-an-object",
        build("[1, 2]"),
        "header of lora.safetensors is a JSON array, not an object: "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "duplicate-key",
        build('{"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, "w": {}}', b"\0" * 4),
        "header of lora.safetensors repeats the key 'w': "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "duplicate-inner-key",
        build('{"w": {"dtype": "F16", "dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}'),
        "header of lora.safetensors repeats the key 'dtype': "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "duplicate-metadata-key",
        build('{"__metadata__": {"ss_output_name": "a", "ss_output_name": "b"}}'),
        "header of lora.safetensors repeats the key 'ss_output_name': "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "duplicate-key-in-extra-field",
        build(
            '{"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4], '
            '"x": [{"k": 1, "k": 2}]}}',
            b"\0" * 4,
        ),
        "header of lora.safetensors repeats the key 'k': "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "unknown-dtype",
        build({"w": {"dtype": "F12", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
        "tensor 'w' in lora.safetensors has unknown dtype 'F12': the file is corrupt or uses "
        "a dtype this version does not know; it was skipped",
    ),
    (
        "missing-shape",
        build({"w": {"dtype": "F16", "data_offsets": [0, 4]}}, b"\0" * 4),
        "tensor 'w' in lora.safetensors has no shape: the file is corrupt or hostile; "
        "it was skipped",
    ),
    (
        "negative-dim",
        build({"w": {"dtype": "F16", "shape": [-2], "data_offsets": [0, 4]}}, b"\0" * 4),
        "tensor 'w' in lora.safetensors has an invalid shape [-2]: the file is corrupt or "
        "hostile; it was skipped",
    ),
    (
        "bool-dim",
        build('{"w": {"dtype": "F16", "shape": [true, 2], "data_offsets": [0, 4]}}', b"\0" * 4),
        "tensor 'w' in lora.safetensors has an invalid shape [true, 2]: the file is corrupt or "
        "hostile; it was skipped",
    ),
    (
        "shape-size-mismatch",
        build({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
        "tensor 'w' in lora.safetensors is F32 [2] (8 bytes) but its data_offsets span 4 bytes: "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "reversed-offsets",
        build({"w": {"dtype": "F16", "shape": [0], "data_offsets": [4, 0]}}, b"\0" * 4),
        "tensor 'w' in lora.safetensors has invalid data_offsets [4, 0]: the file is corrupt "
        "or hostile; it was skipped",
    ),
    (
        "out-of-bounds",
        build({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 4),
        "tensor 'w' in lora.safetensors ends at data byte 8 but the data region has only "
        "4 bytes: the file is truncated; re-download it",
    ),
    (
        "overlapping",
        build({"a": _T, "b": {"dtype": "F16", "shape": [2], "data_offsets": [2, 6]}}, b"\0" * 6),
        "tensors 'a' and 'b' in lora.safetensors overlap (data byte 2 is inside the previous "
        "tensor): the file is corrupt or hostile; it was skipped",
    ),
    (
        "gap",
        build({"a": _T, "b": {"dtype": "F16", "shape": [2], "data_offsets": [6, 10]}}, b"\0" * 10),
        "lora.safetensors has 2 unaccounted bytes before tensor 'b' (data offset 4): "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "trailing-bytes",
        build({"a": _T}, b"\0" * 9),
        "lora.safetensors has 5 bytes after the last tensor that no tensor declares: "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "metadata-not-strings",
        build({"__metadata__": {"ss_network_dim": 4}}),
        "__metadata__ in lora.safetensors maps 'ss_network_dim' to a JSON number, not a "
        "string: the file is corrupt or hostile; it was skipped",
    ),
    (
        "metadata-not-object",
        build({"__metadata__": ["x"]}),
        "__metadata__ in lora.safetensors is a JSON array, not a string-to-string map: "
        "the file is corrupt or hostile; it was skipped",
    ),
    (
        "entry-not-object",
        build({"w": 5}),
        "tensor 'w' in lora.safetensors is a JSON number, not an object: the file is corrupt "
        "or hostile; it was skipped",
    ),
    (
        "deep-nesting",
        build("[" * 100_000 + "]" * 100_000),
        "header of lora.safetensors nests JSON too deeply to be a real header: "
        "the file is corrupt or hostile; it was skipped",
    ),
]


@pytest.mark.parametrize(("raw", "message"), [(r, m) for _, r, m in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gives_one_exact_line(raw: bytes, message: str) -> None:
    a = parse(raw)
    assert a.errors == (message,)
    assert "\n" not in message
    assert a.tensors == ()
    assert a.format is Format.SAFETENSORS


def test_bad_inputs_agree_with_the_reference_library(tmp_path: Path) -> None:
    # Whatever we reject, safetensors itself rejects too (or we are stricter on
    # purpose: duplicate keys, which serde silently resolves).
    stricter = {
        "duplicate-key",
        "duplicate-inner-key",
        "duplicate-metadata-key",
        "duplicate-key-in-extra-field",
        "bool-dim",
    }
    for ident, raw, _ in BAD:
        if ident in stricter or not raw:
            continue
        path = tmp_path / f"{ident}.safetensors"
        path.write_bytes(raw)
        with pytest.raises(Exception), safe_open(str(path), framework="numpy") as f:  # noqa: B017
            list(f.keys())
            f.metadata()


def test_empty_header_object_is_a_valid_file() -> None:
    a = parse(build("{}"))
    assert a.errors == ()
    assert a.tensors == ()


def test_zero_size_and_scalar_tensors() -> None:
    raw = build(
        {
            "empty": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]},
            "scalar": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
        },
        b"\0" * 4,
    )
    a = parse(raw)
    assert a.errors == ()
    assert {t.name: t.shape for t in a.tensors} == {"empty": (0, 3), "scalar": ()}


def test_sub_byte_dtypes_are_sized_in_bits() -> None:
    ok = build({"w": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}, b"\0\0")
    assert parse(ok).errors == ()
    bad = build({"w": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, b"\0\0")
    assert parse(bad).errors == (
        "tensor 'w' in lora.safetensors is F4 [3] (1.5 bytes) but its data_offsets span 2 "
        "bytes: the file is corrupt or hostile; it was skipped",
    )


# --- metadata ---------------------------------------------------------------------------


def test_json_in_string_metadata_is_decoded_leniently() -> None:
    meta = {
        "ss_tag_frequency": json.dumps({"10_jane": {"jane roe": 12, "smile": 3}}),
        "ss_network_args": '{"conv_dim": "4", "algo": "locon"}',
        "ss_dataset_dirs": "{not json",
        "modelspec.title": "Jane Roe",
        "ss_bucket_info": "None",
        "notes": "[1, 2",
    }
    decoded, warnings = decode_metadata(meta, "x.safetensors")
    assert decoded["ss_tag_frequency"] == {"10_jane": {"jane roe": 12, "smile": 3}}
    assert decoded["ss_network_args"] == {"conv_dim": "4", "algo": "locon"}
    assert decoded["ss_dataset_dirs"] == "{not json"
    assert decoded["modelspec.title"] == "Jane Roe"
    assert decoded["ss_bucket_info"] is None
    assert warnings == [
        "metadata 'ss_dataset_dirs' in x.safetensors is not valid JSON (Expecting property name "
        "enclosed in double quotes): kept as text",
        "metadata 'notes' in x.safetensors is not valid JSON (Expecting ',' delimiter): "
        "kept as text",
    ]


def test_bad_metadata_json_is_a_warning_not_a_failure() -> None:
    raw = build({"__metadata__": {"ss_tag_frequency": "[" * 50_000}, "w": _T}, b"\0" * 4)
    a = parse(raw)
    assert a.errors == ()
    assert a.warnings == (
        "metadata 'ss_tag_frequency' in lora.safetensors is not valid JSON (nested too "
        "deeply): kept as text",
    )


def test_scalar_values() -> None:
    assert scalar_value(np.float16(8).tobytes(), "F16") == 8.0
    assert scalar_value(np.float32(0.5).tobytes(), "F32") == 0.5
    assert scalar_value(np.float32(4.0).tobytes()[2:], "BF16") == 4.0
    assert scalar_value(np.float32(np.nan).tobytes(), "F32") is None
    assert scalar_value(b"\0", "F16") is None


# --- the reference library, on realistic files -----------------------------------------


@pytest.mark.parametrize("family", ["sd1", "sdxl", "flux1", "wan"])
@pytest.mark.parametrize("dtype", ["F16", "BF16", "F32"])
def test_agrees_with_safetensors_library(tmp_path: Path, family: str, dtype: str) -> None:
    path = make_lora(tmp_path / "l.safetensors", family, modules=12, dtype=dtype)
    with FileSource(path) as source:
        a = read_safetensors(source)
    assert a.errors == ()
    with safe_open(str(path), framework="numpy") as f:
        ref_meta = f.metadata()
        ref_names = set(f.keys())
        ref_shapes = {k: tuple(f.get_slice(k).get_shape()) for k in ref_names}
        ref_dtypes = {k: f.get_slice(k).get_dtype() for k in ref_names}
    assert dict(a.metadata) == ref_meta
    assert {t.name for t in a.tensors} == ref_names
    assert {t.name: t.shape for t in a.tensors} == ref_shapes
    assert {t.name: t.dtype for t in a.tensors} == ref_dtypes
    # Offsets point at the real bytes: compare one tensor's data.
    raw = path.read_bytes()
    t = next(t for t in a.tensors if t.name.endswith("lora_down.weight"))
    with safe_open(str(path), framework="numpy") as f:
        if dtype != "BF16":
            assert f.get_tensor(t.name).tobytes() == raw[t.offset : t.offset + t.nbytes]


def test_alpha_read_from_tensors_not_metadata(tmp_path: Path) -> None:
    # Metadata claims alpha 1; the tensors say 16 (what a loader would use).
    path = make_lora(
        tmp_path / "l.safetensors", "sd1", modules=4, alpha=16.0, metadata={"ss_network_alpha": "1"}
    )
    with FileSource(path) as source:
        assert read_safetensors(source).identity.alpha == 16.0
    # From a header-only prefix (no tensor data), the metadata is the fallback.
    raw = path.read_bytes()
    prefix = raw[: bytes_needed(raw[:8])]
    assert parse_safetensors_header(prefix, len(raw), "l").identity.alpha == 1.0


def test_reads_files_written_by_the_reference_library(tmp_path: Path) -> None:
    path = tmp_path / "ref.safetensors"
    save_file(
        {"a": np.zeros((3, 5), np.float32), "b": np.arange(7, dtype=np.int64)},
        str(path),
        metadata={"k": "v"},
    )
    with FileSource(path) as source:
        a = read_safetensors(source)
    assert a.errors == ()
    assert {(t.name, t.dtype, t.shape) for t in a.tensors} == {
        ("a", "F32", (3, 5)),
        ("b", "I64", (7,)),
    }


# --- properties --------------------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda s: s != "__metadata__")
_tensor = st.tuples(
    st.sampled_from(sorted(DTYPE_BITS)), st.lists(st.integers(0, 6), min_size=0, max_size=3)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tensors=st.dictionaries(_names, _tensor, max_size=8),
    metadata=st.dictionaries(_names, st.text(max_size=20), max_size=4),
    pad=st.booleans(),
)
def test_valid_headers_round_trip(
    tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str], pad: bool
) -> None:
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    expected = {}
    for name, (dtype, dims) in tensors.items():
        shape = list(dims)
        numel = int(np.prod(shape)) if shape else 1
        if numel * DTYPE_BITS[dtype] % 8:
            shape = [*shape, 8]  # keep sub-byte dtypes byte-aligned
            numel *= 8
        nbytes = numel * DTYPE_BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        expected[name] = (dtype, tuple(shape), nbytes)
        offset += nbytes
    raw = build(header, b"\x01" * offset, pad=pad)
    a = parse(raw)
    assert a.errors == ()
    assert {t.name: (t.dtype, t.shape, t.nbytes) for t in a.tensors} == expected
    assert dict(a.metadata) == metadata
    assert all(t.offset >= a.data_offset for t in a.tensors)  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_files_never_raise(data: st.DataObject) -> None:
    raw = bytearray(GOLDEN)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        else:
            i = data.draw(st.integers(0, len(raw)))
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    size = data.draw(st.one_of(st.just(len(raw)), st.integers(0, 2**40)))
    a = parse_safetensors_header(bytes(raw), size, "m.safetensors")
    assert a.format is Format.SAFETENSORS
    assert len(a.errors) <= 1
    assert all("\n" not in e for e in a.errors)
    # And through a source: a short read is a result too.
    b = read_safetensors(BytesSource(bytes(raw), "m.safetensors"))
    assert len(b.errors) <= 1
