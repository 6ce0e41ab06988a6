"""The six hashes, checked against hashlib/blake3/zlib over the exact byte ranges.

Every definition is re-derived here from first principles (and, for AutoV1 and
AutoV3, by transcribing AUTOMATIC1111's functions), so a mistake in the
streaming, threading or region arithmetic of file_hashes.py cannot hide.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import struct
import threading
import zlib
from pathlib import Path

import blake3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from likenessguard.artifacts.base import BytesSource, FileSource
from likenessguard.hashing.base import FileHashes
from likenessguard.hashing.file_hashes import (
    AUTOV1_LENGTH,
    AUTOV1_MIN_SIZE,
    AUTOV1_OFFSET,
    MultiHasher,
    NotARegularFile,
    crc32_variants,
    describe_os_error,
    hash_bytes,
    hash_file,
    hash_path_or_error,
    hash_source,
    safetensors_data_offset,
)

MiB = 1 << 20


def expected(data: bytes, data_offset: int | None) -> FileHashes:
    """The definitions, computed the slow obvious way over the whole byte string."""
    digest = hashlib.sha256(data).hexdigest()
    autov1 = None
    if len(data) >= 2 * MiB:
        autov1 = hashlib.sha256(data[0x100000 : 0x100000 + 0x10000]).hexdigest()[:8]
    autov3 = None if data_offset is None else hashlib.sha256(data[data_offset:]).hexdigest()
    return FileHashes(
        sha256=digest,
        autov1=autov1,
        autov2=digest[:10],
        autov3=autov3,
        blake3=blake3.blake3(data).hexdigest(),
        crc32=format(zlib.crc32(data), "08x"),
    )


def a1111_model_hash(path: Path) -> str:
    """AUTOMATIC1111 modules/sd_models.py ``model_hash`` (the "old hash", AutoV1)."""
    with path.open("rb") as file:
        m = hashlib.sha256()
        file.seek(0x100000)
        m.update(file.read(0x10000))
        return m.hexdigest()[0:8]


def a1111_addnet_hash_safetensors(path: Path) -> str:
    """AUTOMATIC1111 modules/hashes.py ``addnet_hash_safetensors`` (AutoV3, kohya's hash)."""
    hash_sha256 = hashlib.sha256()
    blksize = 1024 * 1024
    with path.open("rb") as b:
        b.seek(0)
        header = b.read(8)
        n = int.from_bytes(header, "little")
        b.seek(n + 8)
        for chunk in iter(lambda: b.read(blksize), b""):
            hash_sha256.update(chunk)
    return hash_sha256.hexdigest()


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


SIZES = [
    0,
    1,
    8,
    9,
    AUTOV1_OFFSET - 1,
    AUTOV1_OFFSET,
    AUTOV1_OFFSET + 1,
    AUTOV1_OFFSET + AUTOV1_LENGTH - 1,
    AUTOV1_OFFSET + AUTOV1_LENGTH,
    AUTOV1_OFFSET + AUTOV1_LENGTH + 1,
    AUTOV1_MIN_SIZE - 1,
    AUTOV1_MIN_SIZE,
    AUTOV1_MIN_SIZE + 1,
    5 * MiB + 12345,
]


@pytest.mark.parametrize("size", SIZES)
def test_raw_files_of_every_boundary_size(tmp_path: Path, size: int) -> None:
    data = random_bytes(size, seed=size)
    path = tmp_path / "model.bin"
    path.write_bytes(data)

    got = hash_file(path, chunk_size=64 * 1024)

    assert got == expected(data, None)
    assert got == hash_bytes(data)


@pytest.mark.parametrize("size", [AUTOV1_MIN_SIZE - 1, AUTOV1_MIN_SIZE])
def test_autov1_starts_exactly_at_two_mib(tmp_path: Path, size: int) -> None:
    path = tmp_path / "m.ckpt"
    path.write_bytes(random_bytes(size, seed=7))
    got = hash_file(path)
    if size < AUTOV1_MIN_SIZE:
        assert got.autov1 is None  # Civitai reports no AutoV1 for files under 2 MiB
    else:
        assert got.autov1 == a1111_model_hash(path)


@pytest.mark.parametrize(
    "size",
    [AUTOV1_MIN_SIZE, 3 * MiB + 1, 17 * MiB + 3, 40 * MiB],
)
def test_autov1_equals_a1111_model_hash(tmp_path: Path, size: int) -> None:
    path = tmp_path / "m.ckpt"
    path.write_bytes(random_bytes(size, seed=size))
    assert hash_file(path).autov1 == a1111_model_hash(path)


def test_golden_hello_world() -> None:
    # The vector from Civitai's model-scanner test (HashTaskTests.cs), lowercased.
    got = hash_bytes(b"hello world")
    assert got.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert got.autov2 == "b94d27b993"
    assert got.autov1 is None
    assert got.autov3 is None
    assert got.blake3 == "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24"
    assert got.crc32 == "0d4a1185"
    # Civitai's scanner prints the little-endian bytes: matchers must accept both.
    assert "85114a0d" in crc32_variants(got.crc32)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    got = hash_file(path)
    assert got.sha256 == hashlib.sha256(b"").hexdigest()
    assert got.crc32 == "00000000"
    assert got.autov1 is None
    assert got.autov3 is None


def write_safetensors(path: Path, n_tensors: int, rows: int, seed: int = 0) -> int:
    """A real safetensors file from the safetensors library; returns 8 + header length."""
    rng = np.random.default_rng(seed)
    tensors = {
        f"lora_unet_block_{i}.lora_down.weight": rng.standard_normal((rows, 64)).astype(np.float16)
        for i in range(n_tensors)
    }
    save_file(tensors, str(path), metadata={"ss_network_dim": "64", "ss_output_name": "jane_roe"})
    with path.open("rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


@pytest.mark.parametrize(("n_tensors", "rows"), [(1, 1), (4, 128), (40, 512)])
def test_autov3_of_safetensors_is_tensor_data_only(
    tmp_path: Path, n_tensors: int, rows: int
) -> None:
    path = tmp_path / "lora.safetensors"
    data_offset = write_safetensors(path, n_tensors, rows)
    data = path.read_bytes()

    detected = hash_file(path)  # offset judged from the prefix
    given_offset = hash_file(path, data_offset=data_offset)

    assert detected == given_offset == expected(data, data_offset)
    assert detected.autov3 == hashlib.sha256(data[data_offset:]).hexdigest()
    assert detected.autov3 == a1111_addnet_hash_safetensors(path)
    assert detected.autov3 is not None and len(detected.autov3) == 64


def test_autov3_ignores_header_and_metadata(tmp_path: Path) -> None:
    # The point of AutoV3: re-saving with other metadata changes sha256, not autov3.
    rng = np.random.default_rng(1)
    tensors = {"w": rng.standard_normal((256, 64)).astype(np.float32)}
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(tensors, str(a), metadata={"ss_output_name": "original"})
    save_file(tensors, str(b), metadata={"ss_output_name": "renamed-reupload", "x": "y" * 300})
    ha, hb = hash_file(a), hash_file(b)
    assert ha.sha256 != hb.sha256
    assert ha.autov3 == hb.autov3 is not None


def test_autov3_of_a_safetensors_file_without_tensors(tmp_path: Path) -> None:
    header = json.dumps({"__metadata__": {"a": "b"}}).encode()
    data = struct.pack("<Q", len(header)) + header
    path = tmp_path / "empty-data.safetensors"
    path.write_bytes(data)
    assert hash_file(path).autov3 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    "prefix",
    [
        b"PK\x03\x04" + bytes(20),  # zip-format torch checkpoint
        b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P",  # legacy pickle checkpoint
        b"GGUF\x03\x00\x00\x00" + bytes(16),  # GGUF
        struct.pack("<Q", 10) + b"[" + bytes(20),  # length fine, not a JSON object
        struct.pack("<Q", 1) + b"{" + bytes(20),  # too short for a JSON object
        struct.pack("<Q", 200_000_000) + b"{" + bytes(20),  # over the 100 MB header limit
        struct.pack("<Q", 1 << 60) + b"{" + bytes(20),  # hostile header length
    ],
)
def test_non_safetensors_have_no_autov3(tmp_path: Path, prefix: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(prefix + random_bytes(4096))
    assert hash_file(path).autov3 is None


def test_header_longer_than_the_file_has_no_autov3(tmp_path: Path) -> None:
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(struct.pack("<Q", 5000) + b'{"a": ' + bytes(100))
    assert hash_file(path).autov3 is None
    assert safetensors_data_offset(path.read_bytes(), path.stat().st_size) is None
    assert safetensors_data_offset(path.read_bytes()) == 5008  # size unknown: plausible


def test_detection_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "lora.safetensors"
    write_safetensors(path, 2, 8)
    assert hash_file(path, detect_safetensors=False).autov3 is None


def test_given_data_offset_wins_over_detection(tmp_path: Path) -> None:
    data = random_bytes(50_000, seed=3)
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    assert hash_file(path, data_offset=1234).autov3 == hashlib.sha256(data[1234:]).hexdigest()
    assert hash_file(path, data_offset=len(data)).autov3 == hashlib.sha256(b"").hexdigest()
    # An offset past the end (a lying header) hashes nothing: no autov3.
    assert hash_file(path, data_offset=len(data) + 1).autov3 is None


@pytest.mark.slow
def test_threaded_path_matches_definitions_on_a_large_safetensors_file(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    data_offset = write_safetensors(path, 48, 4096)  # ~25 MB: above the threading cut-off
    data = path.read_bytes()
    assert len(data) > 16 * MiB
    want = expected(data, data_offset)
    for chunk_size in (1 << 20, 3 * MiB + 7, 8 * MiB, 64 * MiB):
        assert hash_file(path, chunk_size=chunk_size) == want


@settings(max_examples=60, deadline=None)
@given(
    size=st.sampled_from([0, 5, 9, 10, 700, AUTOV1_MIN_SIZE - 3, AUTOV1_MIN_SIZE + 70_000]),
    cuts=st.lists(st.integers(min_value=0, max_value=AUTOV1_MIN_SIZE + 70_000), max_size=12),
    safetensors_like=st.booleans(),
)
def test_any_chunking_gives_the_same_hashes(
    size: int, cuts: list[int], safetensors_like: bool
) -> None:
    data = bytearray(random_bytes(size, seed=size))
    data_offset = None
    if safetensors_like and size >= 10:
        header_len = min(size - 8, 1 + size // 3)
        data[:8] = struct.pack("<Q", header_len)
        data[8] = ord("{")
        data_offset = 8 + header_len
    whole = bytes(data)
    points = sorted({c for c in cuts if c <= size} | {0, size})

    streamed = MultiHasher(total_size=size)
    for lo, hi in itertools.pairwise(points):
        streamed.update(whole[lo:hi])
        streamed.update(b"")  # empty updates are harmless
    got = streamed.finish()

    assert got == expected(whole, data_offset)
    assert got == hash_bytes(whole)


def test_multihasher_checks_the_expected_size() -> None:
    hasher = MultiHasher(total_size=10)
    hasher.update(b"12345")
    with pytest.raises(ValueError, match="expected 10 bytes but got 5"):
        hasher.finish()


def test_multihasher_cannot_be_fed_after_finish() -> None:
    hasher = MultiHasher()
    hasher.update(b"abc")
    hasher.finish()
    with pytest.raises(RuntimeError, match="already called"):
        hasher.update(b"d")


def test_multihasher_accepts_any_buffer() -> None:
    data = random_bytes(3000)
    hasher = MultiHasher()
    hasher.update(bytearray(data[:1000]))
    hasher.update(memoryview(data)[1000:2000])
    hasher.update(np.frombuffer(data[2000:], dtype=np.uint16))  # a non-byte buffer
    assert hasher.finish() == hash_bytes(data)


def test_missing_file_raises_oserror_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError) as info:
        hash_file(missing)
    assert info.value.filename == str(missing)
    message = hash_path_or_error(missing)
    assert message == f"couldn't hash {missing}: No such file or directory; check the path"


def test_directory_gives_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "x.safetensors"
    folder.mkdir()
    message = hash_path_or_error(folder)
    assert isinstance(message, str)
    assert message.startswith(f"couldn't hash {folder}: ")
    assert message.endswith("pass a file, not a directory")
    assert "\n" not in message


def test_permission_error_message() -> None:
    # The real refusal is tested in test_file_hash_cli.py (as nobody, when root).
    exc = PermissionError(13, "Permission denied", "/m/x.safetensors")
    assert describe_os_error(Path("/m/x.safetensors"), exc) == (
        "couldn't hash /m/x.safetensors: Permission denied; "
        "grant read permission or run as a user who has it"
    )


def test_symlink_loop_gives_a_clear_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.safetensors"
    loop.symlink_to(loop)
    message = hash_path_or_error(loop)
    assert isinstance(message, str)
    assert "Too many levels of symbolic links" in message


def test_crc32_variants() -> None:
    assert crc32_variants("0d4a1185") == {"0d4a1185", "85114a0d"}
    assert crc32_variants(" 85114A0D ") == {"0d4a1185", "85114a0d"}
    assert crc32_variants("00000000") == {"00000000"}
    for bad in ("", "0d4a118", "0d4a11855", "zz4a1185"):
        with pytest.raises(ValueError, match="8 hex digits"):
            crc32_variants(bad)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="data_offset"):
        MultiHasher(data_offset=-1)
    with pytest.raises(ValueError, match="total_size"):
        MultiHasher(total_size=-1)
    with pytest.raises(ValueError, match="chunk_size"):
        hash_file(__file__, chunk_size=4)


def test_file_hashes_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "lora.safetensors"
    write_safetensors(path, 3, 16)
    got = hash_file(path)
    assert FileHashes.from_json(json.loads(json.dumps(got.to_json()))) == got


def test_device_is_refused_not_read_forever() -> None:
    with pytest.raises(NotARegularFile) as info:
        hash_file("/dev/zero")
    assert info.value.filename == "/dev/zero"
    assert hash_path_or_error("/dev/zero") == (
        "couldn't hash /dev/zero: not a regular file (a device or socket); pass a regular file"
    )


def test_named_pipe_is_streamed(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.safetensors"
    os.mkfifo(fifo)
    header = json.dumps({"w": {"dtype": "U8", "shape": [5000], "data_offsets": [0, 5000]}})
    data = struct.pack("<Q", len(header)) + header.encode() + random_bytes(5000)

    def write() -> None:
        with fifo.open("wb") as pipe:
            for i in range(0, len(data), 777):  # several short writes
                pipe.write(data[i : i + 777])
                pipe.flush()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        got = hash_file(fifo, chunk_size=1024)
    finally:
        writer.join()
    assert got == expected(data, 8 + len(header))


@pytest.mark.parametrize("size", [0, 100, 5 * MiB, 20 * MiB + 3])
def test_progress_reports_every_chunk_up_to_the_size(tmp_path: Path, size: int) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(random_bytes(size, seed=size))
    seen: list[int] = []
    hash_file(path, chunk_size=MiB, on_progress=seen.append)
    assert seen == sorted(seen)
    assert seen == [min((i + 1) * MiB, size) for i in range(len(seen))]
    assert (seen[-1] if seen else 0) == size


@pytest.mark.parametrize("size", [3 * MiB, 20 * MiB])  # the inline and the threaded path
def test_a_file_that_grows_while_read_is_an_error_not_a_wrong_hash(
    tmp_path: Path, size: int
) -> None:
    path = tmp_path / "uploading.safetensors"
    path.write_bytes(random_bytes(size))

    def append_once(position: int) -> None:
        if position == MiB:
            with path.open("ab") as f:
                f.write(b"more" * 1000)

    with pytest.raises(ValueError) as info:
        hash_file(path, chunk_size=MiB, on_progress=append_once)
    assert str(info.value) == (
        f"{path}: expected {size} bytes but got {size + 4000}: the stream was truncated "
        "or the file changed while it was read"
    )


def test_a_changing_file_gives_a_one_line_message(tmp_path: Path) -> None:
    path = tmp_path / "uploading.safetensors"
    size = 5 * MiB  # one default 4 MiB chunk, then the rest plus what was appended
    path.write_bytes(random_bytes(size))
    with path.open("ab") as grower:

        def grow(position: int) -> None:
            grower.write(b"x")
            grower.flush()

        message = hash_path_or_error(path, on_progress=grow)
    assert message == (
        f"couldn't hash {path}: expected {size} bytes but got {size + 1}: the stream "
        "was truncated or the file changed while it was read; hash it again once it stops "
        "changing"
    )


class ShortReads:
    """A complete ByteSource that returns at most 1,000 bytes per call (like a socket)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def name(self) -> str:
        return "remote://lora.safetensors"

    @property
    def size(self) -> int:
        return len(self.data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + min(length, 1000)]


@pytest.mark.parametrize("approx_size", [0, 50_000, 3 * MiB, 17 * MiB])  # 17: threaded path
def test_hash_source_matches_the_definitions(tmp_path: Path, approx_size: int) -> None:
    path = tmp_path / "lora.safetensors"
    data_offset = write_safetensors(path, 1, max(1, approx_size // 128))
    data = path.read_bytes()
    want = expected(data, data_offset)
    with FileSource(path) as source:
        assert hash_source(source) == want
    assert hash_source(BytesSource(data, name="member.safetensors")) == want
    assert hash_source(ShortReads(data), chunk_size=MiB) == want


def test_hash_source_that_ends_early_is_an_error() -> None:
    source = BytesSource(b"abc", name="zip:model.zip!lora.safetensors")

    class Lying(ShortReads):
        @property
        def size(self) -> int:
            return 10

    with pytest.raises(
        ValueError, match=r"^remote://lora.safetensors: expected 10 bytes but got 3"
    ):
        hash_source(Lying(b"abc"))
    assert hash_source(source) == hash_bytes(b"abc")


def test_hash_source_read_error_propagates() -> None:
    # A prefix-only source (size larger than the bytes fetched) raises OSError past the prefix.
    source = BytesSource(b"x" * 100, name="https://hub/lora.safetensors", size=20 * MiB)
    with pytest.raises(OSError, match="beyond the fetched prefix"):
        hash_source(source)


@settings(max_examples=80, deadline=None)
@given(
    header_len=st.integers(min_value=0, max_value=3000),
    first=st.sampled_from([b"{", b"[", b" ", b"\x00"]),
    tail=st.integers(min_value=0, max_value=3000),
)
def test_detected_autov3_is_a1111s_addnet_hash_whenever_it_is_given(
    tmp_path_factory: pytest.TempPathFactory, header_len: int, first: bytes, tail: int
) -> None:
    body = first + random_bytes(header_len + tail, seed=header_len)[1:] if header_len else b""
    data = struct.pack("<Q", header_len) + body
    path = tmp_path_factory.mktemp("st") / "x.safetensors"
    path.write_bytes(data)
    got = hash_file(path).autov3
    plausible = header_len >= 2 and first == b"{" and 8 + header_len <= len(data)
    if plausible:
        assert got == a1111_addnet_hash_safetensors(path)
    else:
        assert got is None


def test_concurrent_calls_share_the_spare_buffers_safely(tmp_path: Path) -> None:
    # Scanners hash several files at once from worker threads; buffers kept
    # between calls must never be handed to two calls at the same time.
    paths = []
    for i in range(3):
        path = tmp_path / f"m{i}.safetensors"
        write_safetensors(path, 8, 4096 + i * 512, seed=i)  # ~17-20 MB: the threaded path
        paths.append(path)
    want = {p: expected(p.read_bytes(), safetensors_data_offset(p.read_bytes())) for p in paths}
    results: dict[Path, list[FileHashes]] = {p: [] for p in paths}

    def work(path: Path) -> None:
        for _ in range(2):
            results[path].append(hash_file(path))

    threads = [threading.Thread(target=work, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for path in paths:
        assert results[path] == [want[path], want[path]]


def test_an_error_mid_file_stops_the_hashing_threads(tmp_path: Path) -> None:
    # Whatever interrupts the reader (here a progress callback; in life Ctrl-C
    # or an I/O error), the lane threads must end and the next call must work.
    path = tmp_path / "big.bin"
    data = random_bytes(20 * MiB)
    path.write_bytes(data)
    before = threading.active_count()

    def stop(position: int) -> None:
        if position >= 2 * MiB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hash_file(path, chunk_size=MiB, on_progress=stop)
    assert threading.active_count() == before
    assert hash_file(path, chunk_size=MiB) == expected(data, None)
