"""The hostile corpus is really hostile: reference readers reject it and payloads are live."""

from __future__ import annotations

import io
import os
import pickletools
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from safetensors import safe_open

from likenessguard.testing.hostile import (
    HOSTILE_CASES,
    build_hostile_corpus,
    marker_path,
    zip_bomb_bytes,
)

# Cases the reference library accepts: duplicates (last key wins) and, as root, mode 000.
REFERENCE_ACCEPTS = {"duplicate_keys", "unreadable"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def test_every_case_is_built(corpus: dict[str, Path]) -> None:
    missing = set(HOSTILE_CASES) - set(corpus)
    assert missing <= {"fifo"}, missing  # mkfifo may be refused on exotic filesystems
    assert set(corpus) <= set(HOSTILE_CASES)


def test_reference_reader_rejects_safetensors_cases(corpus: dict[str, Path]) -> None:
    for case, path in corpus.items():
        if path.suffix != ".safetensors" or case in REFERENCE_ACCEPTS | {"fifo"}:
            continue
        with pytest.raises(Exception) as info, safe_open(str(path), framework="numpy"):
            pass
        assert info.type.__name__ in {"SafetensorError", "OSError", "FileNotFoundError"}, case


def test_paths_that_fail_even_for_root(corpus: dict[str, Path]) -> None:
    assert corpus["directory"].is_dir()
    assert stat.S_IMODE(corpus["unreadable"].stat().st_mode) == 0
    if "fifo" in corpus:
        assert stat.S_ISFIFO(corpus["fifo"].lstat().st_mode)
    with pytest.raises(NotADirectoryError):
        corpus["parent_not_dir"].open("rb")
    with pytest.raises(OSError, match="symbolic links"):
        corpus["symlink_loop"].open("rb")
    assert corpus["dangling_symlink"].is_symlink() and not corpus["dangling_symlink"].exists()


def _pickle_of(path: Path) -> bytes:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    raw = path.read_bytes()
    if path.suffix == ".pt":  # legacy: skip the magic, protocol and sys-info pickles
        stream = io.BytesIO(raw)
        for _ in range(3):
            for _op in pickletools.genops(stream):  # each walk stops after its STOP opcode
                pass
        return stream.read()
    return raw


@pytest.mark.parametrize(
    ("case", "global_"),
    [
        ("pickle_os_system", "os system"),
        ("pickle_legacy_exec", "builtins exec"),
        ("pickle_bin_popen", "subprocess Popen"),
        ("pickle_raw_reduce", "posix system"),
    ],
)
def test_pickle_payloads_are_visible_to_opcode_walks(
    corpus: dict[str, Path], case: str, global_: str
) -> None:
    data = _pickle_of(corpus[case])
    globals_ = [str(arg) for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"]
    assert globals_[0] == global_  # the payload runs first in a naive load
    assert any(op.name == "REDUCE" for op, _, _ in pickletools.genops(data))
    assert not marker_path(corpus[case].parent, case).exists()


def test_payload_would_really_run(tmp_path: Path) -> None:
    # Prove the marker mechanism works, so "marker never appears" tests can fail:
    # load our own raw pickle in a child process, where its payload is `touch <tmp marker>`.
    corpus = build_hostile_corpus(tmp_path)
    marker = marker_path(tmp_path, "pickle_raw_reduce")
    code = "import pickle,sys; pickle.loads(open(sys.argv[1],'rb').read())"
    subprocess.run(
        [sys.executable, "-c", code, str(corpus["pickle_raw_reduce"])], check=True, timeout=30
    )
    assert marker.exists()


def test_zip_bomb_ratio(corpus: dict[str, Path]) -> None:
    with zipfile.ZipFile(corpus["zip_bomb"]) as zf:
        (info,) = zf.infolist()
        assert info.file_size == 1 << 30
        assert info.file_size / info.compress_size > 500
        with zf.open(info) as f:  # the stream is valid deflate: first MiB decodes to zeros
            assert f.read(1 << 20) == bytes(1 << 20)


def test_small_zip_bomb_is_fully_valid() -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bomb_bytes("m.safetensors", 4 << 20))) as zf:
        assert zf.read("m.safetensors") == bytes(4 << 20)  # CRC checked by zipfile
        assert zf.testzip() is None


def test_gguf_and_traversal_cases(corpus: dict[str, Path]) -> None:
    assert corpus["gguf_bad_magic"].read_bytes()[:4] == b"GGUX"
    assert len(corpus["gguf_truncated"].read_bytes()) == 8
    with zipfile.ZipFile(corpus["zip_path_traversal"]) as zf:
        assert zf.namelist() == ["../../escape.safetensors"]


def test_rebuild_is_idempotent(tmp_path: Path) -> None:
    first = build_hostile_corpus(tmp_path)
    second = build_hostile_corpus(tmp_path)
    assert first.keys() == second.keys()
    assert all(os.path.lexists(p) or k == "parent_not_dir" for k, p in second.items())
