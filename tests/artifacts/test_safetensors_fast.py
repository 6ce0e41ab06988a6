"""The bulk hot path of the safetensors parser against the strict per-entry parser.

``_fast_parse`` may only ever accept what ``_strict_parse`` accepts, with the
identical result; everything else (above all a repeated key, which it detects
by counting colons instead of decoding with an ``object_pairs_hook``) must fall
back to the strict parser, which then words the error.
"""

from __future__ import annotations

import json
import struct

import pytest

from likenessguard.artifacts.safetensors import (
    _fast_parse,
    _strict_parse,
    parse_safetensors_header,
)
from likenessguard.testing import kohya_metadata, lora_shapes


def entry(dtype: str, shape: list[int], begin: int, end: int) -> str:
    return json.dumps({"dtype": dtype, "shape": shape, "data_offsets": [begin, end]})


def lora_header() -> tuple[str, int]:
    """A real SDXL kohya header (compact JSON) and the size of its data region."""
    shapes = lora_shapes("sdxl", "kohya", rank=4, modules=20)
    header: dict[str, object] = {"__metadata__": kohya_metadata(base_model="sdxl", rank=4)}
    offset = 0
    for name, shape in shapes.items():
        n = 2
        for dim in shape:
            n *= dim
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    return json.dumps(header, separators=(",", ":")), offset


VALID: list[tuple[str, int]] = [
    lora_header(),
    # Pretty-printed with spaces before colons, as some writers do.
    (
        json.dumps(json.loads(lora_header()[0]), indent=2, separators=(", ", " : ")),
        lora_header()[1],
    ),
    # Colons in tensor names, metadata keys and values; a scalar and a zero-size tensor.
    (
        '{"__metadata__":{"a:b":"c:d:e","t":"12:30"},'
        f'"x:y":{entry("F32", [], 0, 4)},"empty":{entry("F16", [0, 3], 4, 4)},'
        f'"w":{entry("BF16", [2, 2], 4, 12)}}}',
        12,
    ),
    # Sub-byte dtype, unicode name, no metadata, offsets not in key order.
    (f'{{"b":{entry("F32", [1], 2, 6)},"ä名":{entry("F4", [4], 0, 2)}}}', 6),
    # __metadata__ null, trailing padding.
    (f'{{"__metadata__":null,"t":{entry("U8", [3], 0, 3)}}}    ', 3),
]


@pytest.mark.parametrize("text,data_len", VALID)
def test_fast_path_returns_exactly_what_the_strict_parser_returns(text: str, data_len: int) -> None:
    fast = _fast_parse(text.encode(), 100, data_len)
    assert fast is not None, "an ordinary header must take the fast path"
    assert fast == _strict_parse(text, 100, data_len, "x")


T = entry("F16", [2], 0, 4)
U = entry("F16", [2], 4, 8)

DUPLICATES = [
    # the same tensor twice (the second one wins in a plain dict)
    f'{{"a":{T},"a":{U}}}',
    f'{{"a":{T},"b":{U},"a":{U}}}',
    # repeated metadata keys, also with colons in the value that was dropped
    f'{{"__metadata__":{{"k":"v","k":"w"}},"a":{T},"b":{U}}}',
    f'{{"__metadata__":{{"k":"v:x:y","k":"w"}},"a":{T},"b":{U}}}',
    f'{{"__metadata__":{{"k":"w","k":"v:x"}},"a":{T},"b":{U}}}',
    # __metadata__ itself twice
    f'{{"__metadata__":{{"k":"v"}},"a":{T},"__metadata__":{{"k":"w"}},"b":{U}}}',
    # a repeated field inside an entry, keeping three distinct fields
    f'{{"a":{{"dtype":"F16","dtype":"F16","shape":[2],"data_offsets":[0,4]}},"b":{U}}}',
    # a colon hidden as an escape, to balance the count of a dropped key
    f'{{"__metadata__":{{"k":"v","k":"w\\u003a"}},"a":{T},"b":{U}}}',
    f'{{"__metadata__":{{"k":"v","k":"w\\u003A"}},"a":{T},"b":{U}}}',
    # a repeated key in a name that holds a colon
    f'{{"a:1":{T},"a:1":{T},"b":{U}}}',
]


@pytest.mark.parametrize("text", DUPLICATES)
def test_repeated_keys_never_pass_the_fast_path(text: str) -> None:
    assert _fast_parse(text.encode(), 8, 8) is None
    raw = text.encode()
    artifact = parse_safetensors_header(
        struct.pack("<Q", len(raw)) + raw + bytes(8), 8 + len(raw) + 8, "dup.safetensors"
    )
    assert len(artifact.errors) == 1
    assert "repeats the key" in artifact.errors[0]


A = entry("F16", [2], 0, 4)

UNUSUAL = [
    (f'{{"a":{A},"b":{{"dtype":"F16","shape":[true],"data_offsets":[4,6]}}}}', 6),
    (f'{{"a":{A},"b":{entry("F16", [1.0], 4, 6)}}}', 6),
    (f'{{"a":{A},"b":{entry("X9", [1], 4, 6)}}}', 6),
    (f'{{"a":{A},"b":{entry("F16", [-1], 4, 6)}}}', 6),
    (f'{{"a":{A},"b":{entry("F16", [1], 3, 5)}}}', 5),  # overlap
    (f'{{"a":{A},"b":{entry("F16", [1], 6, 8)}}}', 8),  # gap
    (f'{{"a":{entry("F16", [4], 0, 8)},"z":{entry("F16", [0], 2, 2)}}}', 8),  # empty inside a
    (f'{{"a":{A}}}', 16),  # 12 undeclared bytes after the last tensor
    (f'{{"a":{A},"b":{entry("F16", [2], 4, 8)}}}', 6),  # runs past the data region
    ('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"x":{"y":1}}}', 4),
    ('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4,5]}}', 4),
    ('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,true]}}', 4),
    (f'{{"__metadata__":{{"k":1}},"a":{A}}}', 4),
    (f'{{"__metadata__":[],"a":{A}}}', 4),
    ("{}", 0),
    ("[]", 0),
    (f'{{"a":{A},"b":NaN}}', 4),
    # The typed decode ignores unknown fields (so __metadata__ decodes as an entry):
    # a fourth field in a tensor entry must still leave the fast path, whatever it holds.
    ('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"x":[1]}}', 4),
    ('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"x":"p:q"}}', 4),
    ('{"a":{"dtype":"F16","shape":[2],"x":1}}', 4),  # a field missing, another added
    (f'{{"a":{A},"b":null}}', 4),
    (f'{{"__metadata__":{{"shape":"1,2"}},"a":{A}}}', 4),
]


@pytest.mark.parametrize(
    "text,data_len",
    [
        (f'{{"__metadata__":{{"dtype":"F16","data_offsets":"0"}},"a":{A}}}', 4),
        (f'{{"a":{A},"__metadata__":{{"k":"v:w"}}}}', 4),
    ],
)
def test_metadata_keys_named_like_entry_fields_are_only_metadata(text: str, data_len: int) -> None:
    fast = _fast_parse(text.encode(), 8, data_len)
    assert fast is None or fast == _strict_parse(text, 8, data_len, "x")
    tensors, metadata = _strict_parse(text, 8, data_len, "x")
    assert [t.name for t in tensors] == ["a"]
    assert "__metadata__" not in metadata


@pytest.mark.parametrize("text,data_len", UNUSUAL)
def test_unusual_headers_take_the_strict_path(text: str, data_len: int) -> None:
    assert _fast_parse(text.encode(), 8, data_len) is None


def test_the_collector_is_paused_only_during_a_parse() -> None:
    import gc

    text, data_len = lora_header()
    raw = text.encode()
    blob = struct.pack("<Q", len(raw)) + raw + bytes(data_len)
    assert gc.isenabled()
    assert parse_safetensors_header(blob, len(blob), "a.safetensors").ok
    assert gc.isenabled()
    bad = parse_safetensors_header(blob[:20], len(blob), "b.safetensors")
    assert bad.errors and gc.isenabled()
    gc.disable()
    try:
        assert parse_safetensors_header(blob, len(blob), "c.safetensors").ok
        assert not gc.isenabled(), "a caller's disabled collector must stay disabled"
    finally:
        gc.enable()
