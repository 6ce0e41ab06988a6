"""Pickle checkpoints are read by walking opcodes: nothing in them ever runs."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likenessguard.artifacts.base import BytesSource, Finding, Format, Kind
from likenessguard.artifacts.open import read_artifacts
from likenessguard.artifacts.pickle import (
    PickleWalkError,
    iter_pickle_globals,
    read_pickle,
    walk_pickle,
)
from likenessguard.testing.torch_pickle import make_pickle_checkpoint
from tests.artifacts.torchpickle import (
    payload_pickle,
    stack_global_payload,
    state_dict_pickle,
    torch_zip,
)

KEY = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


def _finding(path: str) -> Finding:
    return Finding(
        code="unsafe-pickle",
        message=f"imports {path}: loading this file would run code; do not load it",
        severity="critical",
    )


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_checkpoint_tensor_table(tmp_path: Path, zip_format: bool) -> None:
    state = {
        "state_dict": {
            KEY: np.zeros((320, 768), np.float32),
            "model.diffusion_model.out.2.bias": np.zeros((4,), np.float32),
        },
        "global_step": 470000,
    }
    path = make_pickle_checkpoint(tmp_path / "m.ckpt", state, zip_format=zip_format, dtype="F16")
    (a,) = read_artifacts(path)
    assert a.errors == ()
    assert a.findings == ()
    assert a.format is Format.PICKLE
    assert {(t.name, t.dtype, t.shape) for t in a.tensors} == {
        (KEY, "F16", (320, 768)),
        ("model.diffusion_model.out.2.bias", "F16", (4,)),
    }
    assert a.metadata["global_step"] == "470000"
    assert a.identity.kind is Kind.CHECKPOINT
    if zip_format:
        # Stored storages are located: the bytes at the offset are the tensor's.
        raw = path.read_bytes()
        t = next(t for t in a.tensors if t.name == KEY)
        assert t.offset > 0
        assert len(raw[t.offset : t.offset + t.nbytes]) == 320 * 768 * 2


def test_hand_assembled_torch_zip() -> None:
    raw = torch_zip({KEY: ("BF16", (320, 768))}, wrap="state_dict", extra={"epoch": 3})
    a = read_pickle(BytesSource(raw, "m.ckpt"))
    assert a.errors == ()
    assert [(t.name, t.dtype, t.shape) for t in a.tensors] == [(KEY, "BF16", (320, 768))]
    assert a.metadata == {"epoch": "3"}


@pytest.mark.parametrize(
    ("builder", "imported"),
    [(payload_pickle, "os.system"), (stack_global_payload, "posix.system")],
    ids=["GLOBAL", "STACK_GLOBAL"],
)
def test_payload_never_runs(tmp_path: Path, builder, imported: str) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    # Sanity: the payload really is live (it would create the marker if loaded).
    # We check its imports without loading, then read it through every path.
    payload = builder(str(marker))
    assert list(iter_pickle_globals(payload)) == [imported]
    for name in ("evil.pt", "evil.ckpt", "evil.bin", "evil.pth"):
        path = tmp_path / name
        path.write_bytes(payload)
        (a,) = read_artifacts(path)
        assert a.findings == (_finding(imported),)
        assert a.tensors == ()
    # Inside a torch zip too.
    zpath = tmp_path / "evil_zip.ckpt"
    buf = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    zpath.write_bytes(buf.getvalue())
    (a,) = read_artifacts(zpath)
    assert a.findings == (_finding(imported),)
    assert not marker.exists()


def test_payload_hidden_next_to_real_weights(tmp_path: Path) -> None:
    # A working checkpoint that also runs code: the tensors are still listed.
    good = state_dict_pickle({KEY: ("F16", (320, 768))})
    evil = payload_pickle(str(tmp_path / "pwned"))
    # {"weights": <state dict>, "x": os.system(...)}: splice the REDUCE into a dict.
    body = good[2:-1]  # drop PROTO and STOP
    raw = b"\x80\x02}" + b"X\x07\x00\x00\x00weights" + body + b"s" + b"X\x01\x00\x00\x00x"
    raw += evil[2:-1] + b"s."
    a = read_pickle(BytesSource(raw, "mixed.pt"))
    assert a.findings == (_finding("os.system"),)
    assert [t.name for t in a.tensors] == [f"weights.{KEY}"]
    assert not (tmp_path / "pwned").exists()


def test_inst_and_builtins_are_reported() -> None:
    raw = b"(S'echo hi'\nibuiltins\neval\n."  # protocol 0 INST
    assert list(iter_pickle_globals(raw)) == ["builtins.eval"]
    a = read_pickle(BytesSource(raw, "x.pt"))
    assert a.findings == (_finding("builtins.eval"),)


def test_plain_python_pickle_with_no_tensors() -> None:
    raw = pickle.dumps({"a": [1, 2, 3], "b": "text"}, protocol=4)
    a = read_pickle(BytesSource(raw, "notes.bin"))
    assert a.errors == ()
    assert a.findings == ()
    assert a.warnings[0] == "notes.bin holds a pickle with no tensors: it is not a model checkpoint"


def test_opcode_limit_bounds_time() -> None:
    raw = b"\x80\x02" + b"N0" * 5000 + b"N."  # 10,000 opcodes of NONE/POP
    with pytest.raises(PickleWalkError) as info:
        walk_pickle(io.BytesIO(raw), "big.pt", max_opcodes=1000)
    assert str(info.value) == (
        "pickle in big.pt has more than 1,000 opcodes: the file is hostile or not a "
        "checkpoint; it was skipped"
    )


def test_memo_limit_bounds_memory() -> None:
    raw = b"\x80\x04" + b"N\x94" * 2000 + b"."  # NONE MEMOIZE, 2000 times
    with pytest.raises(PickleWalkError, match="stores more than 100 memo entries"):
        walk_pickle(io.BytesIO(raw), "memo.pt", max_memo=100)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"\x80\x02(((",
            "pickle in t.pt is truncated (no STOP after byte 4): the file is incomplete or "
            "corrupt; re-download it",
        ),
        (
            b"\x80\x02R.",
            "pickle in t.pt is malformed at byte 2 (stack underflow): the file is corrupt or "
            "hostile; it was skipped",
        ),
        (
            b"\x80\x02h\x05.",
            "pickle in t.pt reads memo slot 5 that was never written: the file is corrupt or "
            "hostile; it was skipped",
        ),
        (
            b"\x80\x020.",
            "pickle in t.pt is malformed at byte 2 (stack underflow): the file is corrupt or "
            "hostile; it was skipped",
        ),
        (
            b"\x80\x02\xff.",
            "pickle in t.pt is malformed (at position 2, opcode b'\\xff' unknown): "
            "the file is corrupt or hostile; it was skipped",
        ),
    ],
    ids=["unterminated", "reduce-underflow", "bad-memo", "pop-underflow", "bad-opcode"],
)
def test_malformed_pickles_give_one_line(raw: bytes, message: str) -> None:
    a = read_pickle(BytesSource(raw, "t.pt"))
    assert a.errors == (message,)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    path = make_pickle_checkpoint(
        tmp_path / "m.pt", {KEY: np.zeros((8, 768), np.float32)}, zip_format=False
    )
    raw = path.read_bytes()
    path.write_bytes(raw[:40])
    (a,) = read_artifacts(path)
    assert len(a.errors) == 1
    assert a.errors[0].startswith("pickle in m.pt is truncated (no STOP after byte")


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200), proto=st.sampled_from([b"", b"\x80\x02", b"\x80\x04"]))
def test_random_bytes_never_raise(raw: bytes, proto: bytes) -> None:
    from tests.artifacts.fuzz_pickle import check

    check(proto + raw)


def test_fuzz_targets_accept_their_corpus_seed() -> None:
    from tests.artifacts.fuzz_safetensors import check

    check(b"\x10\x00\x00\x00" + struct.pack("<Q", 2) + b"{}")
    check(b"")


@pytest.mark.parametrize(
    "raw",
    [
        b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"abc.",  # BYTEARRAY8 claiming 4 EiB
        b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.",  # BINUNICODE8
        b"\x80\x02X" + struct.pack("<I", 2**31) + b"abc.",  # BINUNICODE
        b"S'" + b"a" * 5000,  # protocol-0 string with no newline
    ],
    ids=["bytearray8", "binunicode8", "binunicode", "unterminated-line"],
)
def test_hostile_length_prefixes_do_not_allocate(raw: bytes) -> None:
    import tracemalloc

    tracemalloc.start()
    a = read_pickle(BytesSource(raw, "huge.pt"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(a.errors) == 1
    assert peak < 5 * 1024 * 1024


def test_zip_whose_directory_points_before_the_start_is_an_error_not_a_crash() -> None:
    import io
    import zipfile

    from likenessguard.artifacts.base import BytesSource
    from likenessguard.artifacts.open import read_source

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    data = bytearray(buf.getvalue())
    # End-of-central-directory: make the directory offset larger than its position allows.
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 16 : eocd + 20] = (0xFFFFFF00).to_bytes(4, "little")
    artifact = read_source(BytesSource(bytes(data), "evil.pt"), "evil.pt")
    assert artifact.errors
