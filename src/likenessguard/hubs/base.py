"""The hub seam: one small interface for every place models live.

A connector lists repos, lists each repo's files with the hashes the hub
already stores (Hugging Face's LFS sha256, Civitai's six hashes), reads a
file's header with ranged reads, reads the model card, and, only when a
suspect must be fingerprinted, downloads a whole file to a temp file.

Reading stored hashes and headers instead of content is what lets a scan of a
hub with millions of files finish: bank matching by sha256 needs zero bytes of
file content, and a safetensors header costs at most two ranged requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from likenessguard.artifacts.base import ByteSource
from likenessguard.hashing.base import FileHashes

# Extensions worth reading as model weights; everything else in a repo is
# metadata (cards, configs, images) and costs nothing to skip.
MODEL_EXTENSIONS: tuple[str, ...] = (
    ".safetensors",
    ".ckpt",
    ".pt",
    ".pth",
    ".bin",
    ".gguf",
)

# The first ranged read of a safetensors file: big enough that almost every
# LoRA header arrives in one request, small enough to stay inside the
# "header + 64 KiB" byte budget per file (docs/hubs.md).
HEADER_PREFETCH = 64 * 1024


def is_model_file(path: str) -> bool:
    """True when ``path`` names a model weights file by extension."""
    return path.lower().endswith(MODEL_EXTENSIONS)


@dataclass(frozen=True, slots=True)
class RepoQuery:
    """What to list: every field narrows the listing; ``None`` means no filter.

    ``since`` keeps repos modified at or after it; ``limit`` caps the number of
    repos listed; ``tags`` are hub tags (Hugging Face ``filter``, Civitai ``tag``).
    """

    author: str | None = None
    search: str | None = None
    tags: tuple[str, ...] = ()
    since: datetime | None = None
    limit: int | None = None
    types: tuple[str, ...] = ()
    nsfw: bool | None = None

    def key(self) -> str:
        """A stable text key for this query, used to name its crawl cursor."""
        parts = [
            f"author={self.author or ''}",
            f"search={self.search or ''}",
            f"tags={','.join(self.tags)}",
            f"types={','.join(self.types)}",
            f"nsfw={'' if self.nsfw is None else int(self.nsfw)}",
        ]
        return ";".join(parts)


@dataclass(frozen=True, slots=True)
class RepoRef:
    """One repo (Hugging Face) or model (Civitai) at one revision.

    ``revision`` is the commit sha for Hugging Face (the listing pins it, so
    every later read sees the same files even if the repo changes meanwhile)
    and the newest version id for Civitai.
    """

    hub: str
    repo: str
    revision: str | None = None
    last_modified: datetime | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    private: bool = False
    gated: bool = False
    url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileRef:
    """One file in a repo at the repo's pinned revision.

    ``sha256`` is what the hub stores (LFS oid on Hugging Face, ``SHA256`` on
    Civitai), lowercase hex; ``hashes`` is set when the hub stores all six
    (Civitai). ``uri`` is the file's stable identity in the catalog.
    """

    repo: RepoRef
    path: str
    size: int
    url: str
    uri: str
    sha256: str | None = None
    hashes: FileHashes | None = None
    blob_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Download:
    """A whole file fetched to a temp file, hashed on the way.

    ``path`` lives only inside the ``with Connector.download(...)`` block.
    """

    file: FileRef
    path: Path
    hashes: FileHashes
    size: int


@runtime_checkable
class Connector(Protocol):
    """Lists repos and files of one hub and reads them without executing anything."""

    hub: str

    def list_repos(self, query: RepoQuery) -> Iterator[RepoRef]:
        """Yield repos matching ``query``, newest modification first where the hub allows.

        Must pin each repo's revision (commit sha) when the hub has one, must
        follow the hub's pagination itself, and must not read any file.
        """
        ...

    def repo(self, repo_id: str, revision: str | None = None) -> RepoRef:
        """One repo by id, at ``revision`` (default: its current head).

        Raises ``HubNotFound`` when it does not exist or is not visible.
        """
        ...

    def list_files(self, repo: RepoRef) -> list[FileRef]:
        """Every file of ``repo`` at its pinned revision, with stored hashes and sizes.

        Must not read file content.
        """
        ...

    def read_header(self, file: FileRef) -> ByteSource:
        """A source holding the file's leading bytes, enough for a header parser.

        For safetensors: the 8-byte length and the whole JSON header, in at most
        two ranged requests and at most header + 64 KiB transferred. Reads past
        the fetched prefix raise ``OSError``.
        """
        ...

    def open(self, file: FileRef) -> ByteSource:
        """Random access to the whole file through ranged reads (no caching)."""
        ...

    def read_card(self, repo: RepoRef) -> str | None:
        """The model card text (README.md, Civitai description), or None."""
        ...

    def close(self) -> None:
        """Release connections; the connector must not be used afterwards."""
        ...

    def download(
        self, file: FileRef, directory: Path | None = None
    ) -> AbstractContextManager[Download]:
        """Stream the whole file to a temp file, hashing on the way; a context manager.

        Must refuse files over the connector's size cap before transferring
        content, must delete the partial file on any failure, and must delete
        the file when the ``with`` block ends.
        """
        ...
