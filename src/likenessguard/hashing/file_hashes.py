"""All six file hashes from one read of each file, on both cores.

Users and moderators look a model up by whichever hash their tool shows:
Civitai lists SHA256, AutoV1, AutoV2, AutoV3, BLAKE3 and CRC32 for every file,
AUTOMATIC1111 writes AutoV2 ("Model hash") and the first 12 hex of AutoV3
("Lora hashes") into image metadata. A scanner that wants to find every copy
of a banned model must produce all six, exactly as those tools do, and it must
do so at disk speed: a 6 GB checkpoint read six times is an hour of a hub scan.

So each file is read once, in large chunks, and every chunk goes to every
hasher. The hashers run in two threads (hashlib, blake3 and ISA-L/zlib crc32
release the GIL on large buffers), grouped so the two sha256 passes, the main
cost, land on different cores. The chunks live in a small fixed pool, so
memory stays bounded whatever the file size.

Definitions (sources in docs/hashes.md):

- ``sha256``: SHA-256 of the whole file.
- ``autov2``: the first 10 hex of ``sha256``.
- ``autov1``: the first 8 hex of SHA-256 of the 65,536 bytes at offset 1 MiB;
  None for files under 2 MiB (Civitai's model scanner reports none).
- ``autov3``: SHA-256 of the bytes from ``8 + header length`` to the end of a
  safetensors file (tensor data only, kohya's "addnet" hash); None otherwise.
- ``blake3``: BLAKE3 of the whole file.
- ``crc32``: CRC-32 (zlib's polynomial and value) as 8 hex digits, most
  significant first. Some tools print the same four bytes reversed; use
  :func:`crc32_variants` when matching.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import queue
import select
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

import blake3

from likenessguard.artifacts.base import ByteSource
from likenessguard.hashing.base import FileHashes

try:  # ISA-L's crc32 is ~3x faster than zlib's; same polynomial, same values.
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal ships wheels for every platform we support
    from zlib import crc32 as _crc32

__all__ = [
    "AUTOV1_LENGTH",
    "AUTOV1_MIN_SIZE",
    "AUTOV1_OFFSET",
    "DEFAULT_CHUNK_SIZE",
    "MAX_SAFETENSORS_HEADER",
    "MultiHasher",
    "NotARegularFile",
    "crc32_variants",
    "describe_os_error",
    "hash_bytes",
    "hash_file",
    "hash_path_or_error",
    "hash_source",
    "safetensors_data_offset",
]

AUTOV1_OFFSET: Final = 0x100000  # 1 MiB, as in A1111's model_hash()
AUTOV1_LENGTH: Final = 0x10000  # 64 KiB
AUTOV1_MIN_SIZE: Final = 2 * 0x100000  # Civitai: files under 2 MiB have no AutoV1
# Same limit as the safetensors reader: a larger "header" is not a safetensors file.
MAX_SAFETENSORS_HEADER: Final = 100_000_000

# 4 MiB chunks: large enough that every hasher releases the GIL for a long
# stretch and the hand-offs between threads cost ~1%, small enough that the
# chunks in flight stay in the 32 MiB L3 cache between the reader's copy and
# the two lanes' passes. bench/bench_hashing.py measured 1-8 MiB alike in CPU
# time and 16 MiB clearly worse (cache misses); the pool caps memory at 32 MiB
# whatever the file size.
DEFAULT_CHUNK_SIZE: Final = 4 * 1024 * 1024
POOL_BUFFERS: Final = 8
# Below this, starting threads costs more than it saves.
_THREADED_MIN_SIZE: Final = 16 * 1024 * 1024
_PREFIX_LEN: Final = 9  # 8-byte header length + the header's first byte


def crc32_variants(value: str) -> set[str]:
    """Both spellings of a CRC-32: as given and with its four bytes reversed.

    likenessguard prints CRC-32 most significant byte first (``zlib.crc32``
    formatted as ``%08x``; "hello world" is ``0d4a1185``). Civitai's model
    scanner prints the .NET ``Crc32`` hash bytes, which are little-endian
    (``85114a0d`` for the same input), so a matcher should accept either.

    Args:
        value: 8 hex digits, any case.

    Returns:
        The lowercase value and its byte-reversed form (one element if the
        value is a palindrome in bytes).

    Raises:
        ValueError: if ``value`` is not 8 hex digits.

    >>> sorted(crc32_variants("0D4A1185"))
    ['0d4a1185', '85114a0d']
    """
    text = value.strip().lower()
    if len(text) != 8 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"a CRC-32 is 8 hex digits, got {value!r}")
    return {text, bytes.fromhex(text)[::-1].hex()}


def safetensors_data_offset(prefix: bytes, total_size: int | None = None) -> int | None:
    """Where the tensor data of a safetensors file starts, judged from its first 9 bytes.

    A safetensors file is an 8-byte little-endian header length ``n``, a JSON
    object of ``n`` bytes, then the tensor data from ``8 + n``. This is a cheap
    plausibility test, not validation (the artifact reader validates): ``n``
    must be at most 100 MB, the header must start with ``{`` and, when the size
    is known, fit in the file. Pickles, zips and GGUF files all fail it.

    Args:
        prefix: at least the first 9 bytes of the file (more are ignored).
        total_size: the file size, when known.

    Returns:
        ``8 + n``, or None if the bytes do not look like a safetensors file.
    """
    if len(prefix) < _PREFIX_LEN:
        return None
    n = int.from_bytes(prefix[:8], "little")
    if n < 2 or n > MAX_SAFETENSORS_HEADER or prefix[8:9] != b"{":
        return None
    if total_size is not None and 8 + n > total_size:
        return None
    return 8 + n


class _Region:
    """SHA-256 of the absolute byte range ``[start, end)`` of a stream fed in order."""

    __slots__ = ("end", "hasher", "start")

    def __init__(self, start: int, end: int | None) -> None:
        self.start = start
        self.end = end
        self.hasher = hashlib.sha256()

    def feed(self, offset: int, chunk: memoryview) -> None:
        stop = offset + len(chunk)
        lo = max(self.start, offset)
        hi = stop if self.end is None else min(self.end, stop)
        if hi > lo:
            self.hasher.update(chunk[lo - offset : hi - offset])


class _Lane:
    """An ordered group of hashers that one thread runs over every chunk.

    Two lanes, each holding one of the two full sha256 passes, so that the
    threaded reader keeps both cores busy with roughly equal work.
    """

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps: list[Callable[[int, memoryview], None]] = []

    def feed(self, offset: int, chunk: memoryview) -> None:
        for step in self.steps:
            step(offset, chunk)


class MultiHasher:
    """Streaming computation of all six hashes; feed the file's bytes in order.

    Hubs use it to hash downloads on the way; :func:`hash_file` uses it to hash
    local files. Any split of the same bytes into chunks gives the same result.

    Args:
        data_offset: where the safetensors tensor data starts (``8 +`` header
            length), if the caller parsed the header. None: decide from the
            first 9 bytes (see :func:`safetensors_data_offset`), unless
            ``detect_safetensors`` is False, in which case ``autov3`` is None.
        total_size: the expected byte count, if known; :meth:`finish` raises
            if the stream was shorter or longer.
        detect_safetensors: whether to look at the prefix when ``data_offset``
            is None. Pass False for files known not to be safetensors.

    Example::

        hasher = MultiHasher(total_size=response_length)
        for chunk in response.iter_bytes():
            hasher.update(chunk)
        hashes = hasher.finish()
    """

    def __init__(
        self,
        data_offset: int | None = None,
        total_size: int | None = None,
        *,
        detect_safetensors: bool = True,
    ) -> None:
        if data_offset is not None and data_offset < 0:
            raise ValueError(f"data_offset must be >= 0, got {data_offset}")
        if total_size is not None and total_size < 0:
            raise ValueError(f"total_size must be >= 0, got {total_size}")
        self._total_size = total_size
        self._data_offset = data_offset
        self._detect = data_offset is None and detect_safetensors
        self._prefix = bytearray()
        self._position = 0
        self._finished = False

        self._sha256 = hashlib.sha256()
        self._blake3 = blake3.blake3()
        self._crc = 0
        self._autov1 = _Region(AUTOV1_OFFSET, AUTOV1_OFFSET + AUTOV1_LENGTH)
        self._autov3: _Region | None = None if data_offset is None else _Region(data_offset, None)

        # Lane A: whole-file sha256 + blake3. Lane B: autov3's sha256, crc32,
        # autov1 (64 KiB, nearly free), while the reader's copy also runs beside
        # it. Per GiB here sha256 costs ~0.75 s of CPU, blake3 ~0.3, crc32
        # (ISA-L) ~0.08, the copy ~0.07: this is the most even split.
        self.lanes: tuple[_Lane, _Lane] = (_Lane(), _Lane())
        self.lanes[0].steps += [self._feed_sha256, self._feed_blake3]
        self.lanes[1].steps += [self._feed_autov3, self._feed_crc32, self._autov1.feed]

    # -- the steps each lane runs (called with absolute offsets, in order) --

    def _feed_sha256(self, offset: int, chunk: memoryview) -> None:
        self._sha256.update(chunk)

    def _feed_blake3(self, offset: int, chunk: memoryview) -> None:
        self._blake3.update(chunk)

    def _feed_crc32(self, offset: int, chunk: memoryview) -> None:
        self._crc = _crc32(chunk, self._crc)

    def _feed_autov3(self, offset: int, chunk: memoryview) -> None:
        if self._autov3 is not None:
            self._autov3.feed(offset, chunk)

    # -- the public streaming interface --

    def advance(self, chunk: memoryview) -> int:
        """Account for the next chunk and return its absolute offset; feeds no lane.

        The threaded reader calls this in its own thread, then hands the chunk
        to each lane's thread. Single-threaded callers use :meth:`update`.
        """
        if self._finished:
            raise RuntimeError("MultiHasher.finish() was already called")
        offset = self._position
        self._position += len(chunk)
        if self._detect and len(self._prefix) < _PREFIX_LEN:
            self._prefix += chunk[: _PREFIX_LEN - len(self._prefix)]
            if len(self._prefix) == _PREFIX_LEN:
                self._data_offset = safetensors_data_offset(bytes(self._prefix), self._total_size)
                # The region starts at >= 10, beyond the prefix, so no byte of
                # it has gone by yet: creating it now misses nothing.
                if self._data_offset is not None:
                    self._autov3 = _Region(self._data_offset, None)
        return offset

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Feed the next bytes of the file (any length, including zero)."""
        view = memoryview(chunk).cast("B")
        offset = self.advance(view)
        for lane in self.lanes:
            lane.feed(offset, view)

    @property
    def position(self) -> int:
        """Bytes fed so far."""
        return self._position

    def finish(self) -> FileHashes:
        """Return the six hashes of everything fed; the hasher cannot be fed afterwards.

        Raises:
            ValueError: if ``total_size`` was given and a different number of
                bytes was fed (a truncated download, a file that changed).
        """
        self._finished = True
        size = self._position
        if self._total_size is not None and size != self._total_size:
            raise ValueError(
                f"expected {self._total_size} bytes but got {size}: the stream was "
                "truncated or the file changed while it was read"
            )
        digest = self._sha256.hexdigest()
        autov1 = None
        if size >= AUTOV1_MIN_SIZE:
            autov1 = self._autov1.hasher.hexdigest()[:8]
        autov3 = None
        # A data offset past the end means the header lied or the prefix only
        # looked like safetensors: there is no tensor data to hash.
        if self._autov3 is not None and self._autov3.start <= size:
            autov3 = self._autov3.hasher.hexdigest()
        return FileHashes(
            sha256=digest,
            autov1=autov1,
            autov2=digest[:10],
            autov3=autov3,
            blake3=self._blake3.hexdigest(),
            crc32=f"{self._crc & 0xFFFFFFFF:08x}",
        )


def hash_bytes(
    data: bytes | bytearray | memoryview, *, data_offset: int | None = None
) -> FileHashes:
    """All six hashes of an in-memory file (tests, small downloads).

    Args:
        data: the whole file.
        data_offset: as for :class:`MultiHasher`.
    """
    hasher = MultiHasher(data_offset, len(memoryview(data).cast("B")))
    hasher.update(data)
    return hasher.finish()


def _read_full(fd: int, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``fd`` unless EOF comes first; return the bytes read."""
    filled = 0
    while filled < len(buffer):
        got = os.readv(fd, [buffer[filled:]])
        if got == 0:
            break
        filled += got
    return filled


class _Buffer:
    """A pooled chunk buffer with a count of lanes still hashing it."""

    __slots__ = ("lock", "pending", "view")

    def __init__(self, size: int) -> None:
        self.view = memoryview(bytearray(size))
        self.pending = 0
        self.lock = threading.Lock()


class _Spares:
    """Idle chunk buffers kept between calls, at most one pool's worth.

    Allocating and faulting in a fresh 32 MiB pool costs ~10 ms, as much as
    hashing a 10 MB LoRA: a scan of thousands of files would pay it on every
    one. Only default-sized buffers are kept; concurrent calls that need more
    allocate their own and those are dropped afterwards.
    """

    def __init__(self, size: int, keep: int) -> None:
        self._size = size
        self._keep = keep
        self._idle: list[_Buffer] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> _Buffer:
        if size == self._size:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        return _Buffer(size)

    def reset(self) -> None:
        """Start afresh in a forked child: the parent's lock may have been held at fork."""
        self._idle = []
        self._lock = threading.Lock()

    def give(self, buffers: list[_Buffer]) -> None:
        with self._lock:
            for buf in buffers:
                if len(buf.view) == self._size and len(self._idle) < self._keep:
                    buf.pending = 0
                    self._idle.append(buf)


_SPARES: Final = _Spares(DEFAULT_CHUNK_SIZE, POOL_BUFFERS)
if hasattr(os, "register_at_fork"):  # process-pool executors fork workers
    os.register_at_fork(after_in_child=_SPARES.reset)
_STOP: Final = None


def hash_file(
    path: str | os.PathLike[str],
    *,
    data_offset: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    detect_safetensors: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> FileHashes:
    """All six hashes of a file, reading it once.

    Files of 16 MiB and more are hashed by two threads fed from a pool of
    ``POOL_BUFFERS * chunk_size`` bytes; smaller ones in the calling thread.
    The result does not depend on ``chunk_size``. A named pipe is streamed
    once a writer sends data (like ``cat``, this waits for one); devices and
    sockets are refused, since reading ``/dev/zero`` would never end.

    Args:
        path: the file.
        data_offset: where the safetensors tensor data starts (``8 +`` header
            length) if already known; None to judge from the file's first 9
            bytes (see :class:`MultiHasher`).
        chunk_size: bytes per read.
        detect_safetensors: as for :class:`MultiHasher`.
        on_progress: called in the calling thread with the number of bytes
            read so far, after each chunk (for progress bars).

    Returns:
        The six hashes.

    Raises:
        OSError: the file cannot be opened or read (missing, a directory, no
            permission, a symlink loop, an I/O error; :class:`NotARegularFile`
            for a device or socket), with ``filename`` set to the path.
            Callers that scan many files turn this into an error on that
            file's record and go on (see :func:`hash_path_or_error`).
        ValueError: the file changed size while it was read.

    Example::

        >>> hash_file("model.safetensors").autov2  # doctest: +SKIP
        'a5e5a941a3'
    """
    if chunk_size < _PREFIX_LEN:
        raise ValueError(f"chunk_size must be at least {_PREFIX_LEN} bytes, got {chunk_size}")
    name = os.fspath(path)
    # O_NONBLOCK only so that opening a pipe with no writer cannot hang here;
    # blocking reads are restored below once we know what the file is.
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(name, flags)
    try:
        mode = os.fstat(fd).st_mode
        size: int | None = None
        if stat.S_ISREG(mode):
            size = os.fstat(fd).st_size
            if hasattr(os, "posix_fadvise"):
                # Double the kernel's read-ahead: a cold file streams from disk faster.
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        elif stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
        elif stat.S_ISFIFO(mode):
            # A read now, before any writer has opened the pipe, would see EOF;
            # wait for the writer's first bytes (or its close), as `cat` would.
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll()
        else:
            raise NotARegularFile(errno.EINVAL, "not a regular file (a device or socket)", name)
        os.set_blocking(fd, True)
        hasher = MultiHasher(data_offset, size, detect_safetensors=detect_safetensors)
        fill = functools.partial(_read_full, fd)
        if size is None or size < _THREADED_MIN_SIZE:
            _hash_inline(fill, hasher, chunk_size, on_progress)
        else:
            _hash_threaded(fill, hasher, chunk_size, on_progress)
        try:
            return hasher.finish()
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    except OSError as exc:
        if exc.filename is None:
            exc.filename = name
        raise
    finally:
        os.close(fd)


def hash_source(
    source: ByteSource,
    *,
    data_offset: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    detect_safetensors: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> FileHashes:
    """All six hashes of a :class:`~likenessguard.artifacts.base.ByteSource`.

    For bytes that are not a plain local file: a member of a zip archive, a
    remote file read by ranges. Same threading and memory bounds as
    :func:`hash_file`, one extra copy per chunk (``read_at`` returns bytes).

    Raises:
        OSError: ``read_at`` failed.
        ValueError: the source returned a different number of bytes than its
            ``size`` (it changed, or ``read_at`` broke its contract).
    """
    if chunk_size < _PREFIX_LEN:
        raise ValueError(f"chunk_size must be at least {_PREFIX_LEN} bytes, got {chunk_size}")
    size = source.size
    position = 0

    def fill(buffer: memoryview) -> int:
        nonlocal position
        filled = 0
        while filled < len(buffer):
            data = source.read_at(position, len(buffer) - filled)
            if not data:
                break
            buffer[filled : filled + len(data)] = data
            filled += len(data)
            position += len(data)
        return filled

    hasher = MultiHasher(data_offset, size, detect_safetensors=detect_safetensors)
    if size < _THREADED_MIN_SIZE:
        _hash_inline(fill, hasher, chunk_size, on_progress)
    else:
        _hash_threaded(fill, hasher, chunk_size, on_progress)
    try:
        return hasher.finish()
    except ValueError as exc:
        raise ValueError(f"{source.name}: {exc}") from None


# Fills the buffer from the current position unless the end comes first; returns the count.
_Fill = Callable[[memoryview], int]


def _hash_inline(
    fill: _Fill, hasher: MultiHasher, chunk_size: int, on_progress: Callable[[int], None] | None
) -> None:
    spare = _SPARES.take(chunk_size)
    buffer = spare.view
    try:
        while True:
            got = fill(buffer)
            if got == 0:
                return
            hasher.update(buffer[:got])
            if on_progress is not None:
                on_progress(hasher.position)
            if got < chunk_size:
                return
    finally:
        _SPARES.give([spare])


def _hash_threaded(
    fill: _Fill, hasher: MultiHasher, chunk_size: int, on_progress: Callable[[int], None] | None
) -> None:
    """Read in this thread; each lane hashes in its own thread from a bounded pool.

    A buffer goes back to the pool when the last lane is done with it, so at
    most ``POOL_BUFFERS`` chunks exist and the reader waits when the lanes lag.
    Buffers are taken only as needed (a 20 MiB file uses 5) and kept for the
    next call.
    """
    free: queue.Queue[_Buffer] = queue.Queue()
    created: list[_Buffer] = []
    lanes = hasher.lanes
    inboxes: list[queue.Queue[tuple[int, int, _Buffer] | None]] = [queue.Queue() for _ in lanes]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        lane, inbox = lanes[index], inboxes[index]
        while (item := inbox.get()) is not _STOP:
            offset, length, buf = item
            try:
                if not failures:
                    lane.feed(offset, buf.view[:length])
            except BaseException as exc:  # handed to the reader thread, re-raised there
                failures.append(exc)
            finally:
                with buf.lock:
                    buf.pending -= 1
                    done = buf.pending == 0
                if done:
                    free.put(buf)

    workers = [
        threading.Thread(target=run, args=(i,), name=f"likenessguard-hash-{i}", daemon=True)
        for i in range(len(lanes))
    ]
    for worker in workers:
        worker.start()
    try:
        while not failures:
            if free.empty() and len(created) < POOL_BUFFERS:
                created.append(_SPARES.take(chunk_size))
                free.put(created[-1])
            buf = free.get()
            got = fill(buf.view)
            if got == 0:
                free.put(buf)
                break
            offset = hasher.advance(buf.view[:got])
            buf.pending = len(lanes)
            for inbox in inboxes:
                inbox.put((offset, got, buf))
            if on_progress is not None:
                on_progress(hasher.position)
            if got < chunk_size:
                break
    finally:
        for inbox in inboxes:
            inbox.put(_STOP)
        for worker in workers:
            worker.join()
        _SPARES.give(created)
    if failures:
        raise failures[0]


class NotARegularFile(OSError):
    """The path is a device or a socket: its "contents" are not a model file."""


def hash_path_or_error(
    path: str | os.PathLike[str], *, on_progress: Callable[[int], None] | None = None
) -> FileHashes | str:
    """Hash a file, or return a one-line message saying why it could not be read.

    For callers that record errors instead of raising (the CLI, scanners).
    """
    try:
        return hash_file(path, on_progress=on_progress)
    except OSError as exc:
        return describe_os_error(Path(os.fspath(path)), exc)
    except ValueError as exc:
        return f"couldn't hash {exc}; hash it again once it stops changing"


def describe_os_error(path: Path, exc: OSError) -> str:
    """One line: what happened to which file, and what to do about it."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        hint = "check the path"
    elif isinstance(exc, IsADirectoryError):
        hint = "pass a file, not a directory"
    elif isinstance(exc, NotARegularFile):
        hint = "pass a regular file"
    elif isinstance(exc, PermissionError):
        hint = "grant read permission or run as a user who has it"
    else:
        hint = "check the disk and try again"
    return f"couldn't hash {path}: {reason}; {hint}"
