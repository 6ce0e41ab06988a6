"""The artifact seam: what every reader produces, and where it reads bytes from.

Readers never execute anything embedded in a file and never load whole tensors
to read metadata. They read through a :class:`ByteSource`, so the same parser
serves a local file, a member of a zip, or an HTTP range read on a hub.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import msgspec


class Format(StrEnum):
    """Container format of an artifact (JSON key ``format``)."""

    SAFETENSORS = "safetensors"
    PICKLE = "pickle"
    GGUF = "gguf"
    DIFFUSERS = "diffusers"
    ZIP = "zip"
    UNKNOWN = "unknown"


class Kind(StrEnum):
    """What the weights are (JSON key ``kind``); decided from tensor keys, never the file name."""

    LORA = "lora"
    LYCORIS = "lycoris"
    DORA = "dora"
    CHECKPOINT = "checkpoint"
    TEXTUAL_INVERSION = "textual_inversion"
    VAE = "vae"
    CONTROLNET = "controlnet"
    UNKNOWN = "unknown"


class BaseFamily(StrEnum):
    """The base model family the weights belong to (JSON key ``base_family``)."""

    SD1 = "sd1"
    SD2 = "sd2"
    SDXL = "sdxl"
    SD3 = "sd3"
    FLUX1 = "flux1"
    WAN = "wan"
    HUNYUAN_VIDEO = "hunyuan_video"
    LTX_VIDEO = "ltx_video"
    UNKNOWN = "unknown"


class KeyScheme(StrEnum):
    """How tensor keys are named (JSON key ``key_scheme``)."""

    KOHYA = "kohya"
    DIFFUSERS_PEFT = "diffusers_peft"
    LYCORIS = "lycoris"
    COMFY = "comfy"
    LDM = "ldm"
    UNKNOWN = "unknown"


class TensorInfo(msgspec.Struct, frozen=True, gc=False):
    """One tensor as declared by the file: name, dtype, shape and where its bytes are.

    ``offset`` is absolute in the source (for safetensors: 8 + header length +
    the tensor's begin offset); ``nbytes`` is the declared byte length.
    ``dtype`` uses safetensors spellings (F16, BF16, F32, F64, I8, U8, ...).
    For pickle checkpoints whose storage cannot be located, ``offset`` is -1.

    A msgspec struct rather than a dataclass: a header declares hundreds or
    thousands of tensors and every scan builds one of these per tensor; a
    struct is created in C about eight times faster, and ``gc=False`` keeps
    these cycle-free records out of the garbage collector's lists.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a reader found that a reviewer must know (e.g. ``unsafe-pickle``)."""

    code: str
    message: str
    severity: str = "high"

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass(frozen=True, slots=True)
class Identity:
    """What the weights are, with the reasons that decided it."""

    kind: Kind = Kind.UNKNOWN
    base_family: BaseFamily = BaseFamily.UNKNOWN
    key_scheme: KeyScheme = KeyScheme.UNKNOWN
    rank: int | None = None
    alpha: float | None = None
    modules: int = 0
    dtype: str | None = None
    reasons: tuple[str, ...] = ()
    #: LyCORIS algorithm (``locon``, ``loha``, ``lokr``, ``oft``) when kind is lycoris.
    algo: str | None = None


@dataclass(frozen=True)
class Artifact:
    """Everything a reader learned about one model file, without executing it.

    ``metadata`` is the raw string map (safetensors ``__metadata__``, GGUF KV
    pairs as strings, ...); ``decoded`` holds the same with JSON-in-string
    values decoded leniently (``ss_tag_frequency`` becomes a dict). Problems are
    data: ``errors`` means the file could not be fully read, ``warnings`` means
    something was odd but reading went on, ``findings`` are security-relevant.
    """

    path: str
    size: int
    format: Format
    identity: Identity = field(default_factory=Identity)
    tensors: tuple[TensorInfo, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    decoded: Mapping[str, Any] = field(default_factory=dict)
    data_offset: int | None = None
    member: str | None = None
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class ByteSource(Protocol):
    """Random access to the bytes of one file, wherever it lives."""

    @property
    def name(self) -> str:
        """A display name (path or URL) used in messages."""
        ...

    @property
    def size(self) -> int:
        """Total size in bytes."""
        ...

    def read_at(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes at ``offset``.

        Implementations must return fewer bytes only at end of file, must not
        cache more than they were asked for, and raise ``OSError`` on I/O failure.
        """
        ...


@runtime_checkable
class ArtifactReader(Protocol):
    """Parses one container format into an :class:`Artifact`."""

    format: Format

    def sniff(self, head: bytes, name: str) -> bool:
        """True when ``head`` (the first 64 bytes) looks like this format.

        Must not raise and must not read more than it is given.
        """
        ...

    def read(self, source: ByteSource) -> Artifact:
        """Read the artifact; hostile or broken input becomes ``errors``, never an exception.

        Must never execute code from the file and never read whole tensor data
        just to learn metadata.
        """
        ...


class SourceBase:
    """Plumbing every :class:`ByteSource` shares: a display name, a size, range checks.

    Subclasses set ``_name`` and ``_size`` and call :meth:`_in_bounds` first in
    ``read_at``, so a negative range is refused the same way everywhere.
    """

    _name: str
    _size: int

    @property
    def name(self) -> str:
        return self._name

    @property
    def size(self) -> int:
        return self._size

    def _in_bounds(self, offset: int, length: int) -> int:
        """The part of ``length`` that lies inside the source (``ValueError`` if negative)."""
        if offset < 0 or length < 0:
            raise ValueError(f"negative read at {offset}+{length} in {self._name}")
        return max(0, min(length, self._size - offset))


class FileSource(SourceBase):
    """A :class:`ByteSource` over a local file, using ``pread`` so it is safe to share."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._name = str(self._path)
        self._fd = os.open(self._path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        self._in_bounds(offset, length)
        # Not clamped to the size seen at open: a file that grew is read as it is now.
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesSource(SourceBase):
    """A :class:`ByteSource` over bytes in memory (zip members, HTTP range bodies, tests)."""

    def __init__(self, data: bytes, name: str = "<bytes>", size: int | None = None) -> None:
        self._data = data
        self._name = name
        # A prefix of a larger remote file: ``size`` is the whole file's size.
        self._size = len(data) if size is None else size

    def read_at(self, offset: int, length: int) -> bytes:
        self._in_bounds(offset, length)
        if offset + length > len(self._data) and offset + length <= self._size:
            raise OSError(
                f"{self._name}: bytes {offset}..{offset + length} are beyond the fetched prefix"
            )
        return self._data[offset : offset + length]
