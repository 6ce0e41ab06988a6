"""Reading hub files without downloading them: ranged reads, header prefetch, capped downloads.

A safetensors header sits at the start of the file and says where everything
else is, so one ranged GET of the first 64 KiB usually holds all a scan needs;
a bigger header costs exactly one more request for the missing bytes. That
keeps every file within the budget of two requests and header + 64 KiB
(docs/hubs.md), whatever the file's size.

Whole downloads exist for one purpose, fingerprinting a suspect's weights, and
are capped, streamed to a temp file, hashed on the way with the same
``MultiHasher`` that hashes local files, checked against the hub's stored
sha256, and deleted by the caller's ``with`` block.
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from likenessguard.artifacts.base import SourceBase
from likenessguard.artifacts.safetensors import MAX_HEADER_BYTES, header_length
from likenessguard.errors import HubError
from likenessguard.hashing.base import FileHashes
from likenessguard.hubs.base import HEADER_PREFETCH, Download, FileRef
from likenessguard.hubs.http import PoliteClient

# Default cap for a full download (fingerprinting a suspect): large enough for
# any LoRA and an SDXL checkpoint, small enough that a hostile listing cannot
# make a worker fetch a 100 GB "model".
DEFAULT_MAX_DOWNLOAD = 8 * 1024**3

_CHUNK = 1024 * 1024


def _range_header(start: int, length: int) -> dict[str, str]:
    return {"Range": f"bytes={start}-{start + length - 1}"}


class RemoteSource(SourceBase):
    """A ``ByteSource`` over a hub file, reading with HTTP ``Range`` requests.

    ``prefix`` (optional) holds the file's first bytes, fetched once by
    :func:`fetch_header`; reads inside it cost nothing. Reads beyond it are one
    ranged request each, never cached (the ``ByteSource`` contract), unless
    ``ranged`` is False: then they raise ``OSError``, which is how a header-only
    read keeps its request budget whatever a parser or analyzer asks for.
    """

    def __init__(
        self,
        client: PoliteClient,
        url: str,
        size: int,
        *,
        name: str | None = None,
        prefix: bytes = b"",
        headers: Mapping[str, str] | None = None,
        ranged: bool = True,
    ) -> None:
        self._ranged = ranged
        self._client = client
        self._url = url
        self._size = size
        self._name = name or url
        self._prefix = prefix
        self._headers = dict(headers or {})

    @property
    def prefix(self) -> bytes:
        return self._prefix

    def read_at(self, offset: int, length: int) -> bytes:
        length = self._in_bounds(offset, length)
        if length == 0:
            return b""
        if offset + length <= len(self._prefix):
            return self._prefix[offset : offset + length]
        if not self._ranged:
            raise OSError(
                f"{self._name}: bytes {offset}..{offset + length} are beyond the fetched header "
                "(header-only read)"
            )
        try:
            response = self._client.get(
                self._url,
                headers={**self._headers, **_range_header(offset, length)},
                expect_length=length,
            )
        except HubError as exc:
            raise OSError(f"{self._name}: ranged read {offset}+{length} failed: {exc}") from exc
        body = response.content
        if response.status_code == 200:
            # A server that ignores Range sends the whole file: take our slice.
            body = body[offset : offset + length]
        return body[:length]


class BlockSource:
    """Ranged reads in aligned blocks with a small LRU cache, for readers that make many tiny reads.

    A pickle zip's reader touches the central directory, ``data.pkl`` and each
    storage record with reads of a few hundred bytes; one request each would
    be a thousand requests per checkpoint. Reading whole 64 KiB blocks and
    keeping the last ``max_blocks`` turns that into a handful. This caches more
    than asked for, on purpose and bounded (``block * max_blocks`` bytes); it
    is used only for formats whose index is spread over the file.
    """

    def __init__(self, source: RemoteSource, *, block: int = 64 * 1024, max_blocks: int = 64):
        self._source = source
        self._block = block
        self._max = max_blocks
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    @property
    def name(self) -> str:
        return self._source.name

    @property
    def size(self) -> int:
        return self._source.size

    def _get(self, index: int) -> bytes:
        data = self._cache.get(index)
        if data is not None:
            self._cache.move_to_end(index)
            return data
        data = self._source.read_at(index * self._block, self._block)
        self._cache[index] = data
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return data

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError(f"negative read at {offset}+{length} in {self.name}")
        end = min(offset + length, self.size)
        if end <= offset:
            return b""
        first, last = offset // self._block, (end - 1) // self._block
        if last - first >= self._max:
            # Bigger than the cache: read it directly, in one request.
            return self._source.read_at(offset, end - offset)
        chunks = [self._get(i) for i in range(first, last + 1)]
        joined = b"".join(chunks)
        start = offset - first * self._block
        return joined[start : start + (end - offset)]


def fetch_header(
    client: PoliteClient,
    url: str,
    size: int,
    *,
    name: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> RemoteSource:
    """Fetch a file's leading bytes: 64 KiB, plus the rest of a larger safetensors header.

    At most two requests and at most ``8 + header length`` or 64 KiB bytes,
    whichever is larger. A declared header beyond the parser's limit is not
    fetched: the parser reports it from the first 8 bytes.

    Raises:
        OSError: the bytes could not be fetched (the scanner turns it into a record error).
    """
    source = RemoteSource(client, url, size, name=name, headers=headers)
    first = source.read_at(0, min(HEADER_PREFETCH, size))
    prefix = first
    if len(first) >= 8:
        need = 8 + header_length(first[:8])
        if len(first) < need <= min(size, 8 + MAX_HEADER_BYTES):
            prefix = first + source.read_at(len(first), need - len(first))
    return RemoteSource(client, url, size, name=name, prefix=prefix, headers=headers, ranged=False)


@contextmanager
def download_to_temp(
    client: PoliteClient,
    url: str,
    size: int,
    *,
    name: str,
    expected_sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD,
    directory: Path | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[tuple[Path, FileHashes]]:
    """Stream a whole file to a temp file, hashing on the way; delete it when the block ends.

    Refuses before transferring anything when ``size`` exceeds ``max_bytes``,
    and stops as soon as the body grows past it (a hub that lied about size).

    Raises:
        HubError: over the cap, a body of the wrong size, or a sha256 that
            differs from the hub's stored one (a corrupted or swapped file).
    """
    from likenessguard.hashing.file_hashes import MultiHasher

    if size > max_bytes:
        raise HubError(
            f"{name} is {size} bytes, over the download cap of {max_bytes} bytes; "
            "raise --max-download to fingerprint it"
        )
    fd, tmp = tempfile.mkstemp(prefix="lg-dl-", suffix=".part", dir=directory)
    path = Path(tmp)
    try:
        hasher = MultiHasher(total_size=size)
        written = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with client.stream(url, headers=headers) as response:
                    for chunk in response.iter_bytes(_CHUNK):
                        written += len(chunk)
                        if written > max_bytes or written > size:
                            raise HubError(
                                f"{name} sent more than its declared {size} bytes; "
                                "the listing is stale or the hub is misbehaving"
                            )
                        hasher.update(chunk)
                        out.write(chunk)
            except httpx.TransportError as exc:
                raise HubError(
                    f"download of {name} broke after {written} of {size} bytes ({exc}); try again"
                ) from exc
        if written != size:
            raise HubError(f"download of {name} ended at {written} of {size} bytes; try again")
        hashes = hasher.finish()
        if expected_sha256 and hashes.sha256 != expected_sha256.lower():
            raise HubError(
                f"{name}: downloaded sha256 {hashes.sha256} differs from the hub's "
                f"{expected_sha256}; the file changed or was corrupted in transit"
            )
        yield path, hashes
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def download_file(
    client: PoliteClient, file: FileRef, *, max_bytes: int, directory: Path | None = None
) -> Iterator[Download]:
    """A connector's whole-file download: capped, hashed, sha256-checked, deleted on exit."""
    with download_to_temp(
        client,
        file.url,
        file.size,
        name=file.uri,
        expected_sha256=file.sha256,
        max_bytes=max_bytes,
        directory=directory,
    ) as (path, hashes):
        yield Download(file, path, hashes, file.size)
