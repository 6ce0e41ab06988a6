"""One entry point for every format: sniff the bytes, pick a reader, never raise.

Scanners hand this module paths (local scans) or byte sources (hub range reads,
zip members). The format is decided by magic bytes; the file extension only
breaks ties (a safetensors file whose header length is hostile has no JSON
brace to sniff, but its name says which parser gives the clearest error).
Every way a file can fail to be read (permissions, symlink loops, a directory
named ``x.safetensors``, a FIFO that would block forever, truncation, hostile
content, zip bombs) becomes an :class:`Artifact` whose ``errors`` holds one line
saying what happened, where, and what to do.

Example::

    for artifact in read_artifacts("loras/jane_roe_v2.safetensors"):
        print(artifact.identity.kind, artifact.identity.base_family, artifact.errors)
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import IO

from likenessguard.artifacts.base import (
    Artifact,
    ByteSource,
    BytesSource,
    FileSource,
    Format,
    SourceBase,
)
from likenessguard.artifacts.diffusers import is_diffusers_folder, read_diffusers_folder
from likenessguard.artifacts.gguf import GGUF_MAGIC, read_gguf
from likenessguard.artifacts.pickle import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    ZIP_MAGIC,
    PickleWalkError,
    _SourceFile,
    check_member,
    read_pickle,
)
from likenessguard.artifacts.safetensors import (
    MAX_HEADER_BYTES,
    header_length,
    parse_safetensors_header,
    read_safetensors,
)

#: File extensions a folder scan looks at (content decides the format).
MODEL_EXTENSIONS: frozenset[str] = frozenset(
    {".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".zip"}
)
_PICKLE_EXTENSIONS = frozenset({".ckpt", ".pt", ".pth", ".bin"})
_SKIPPED = "it was skipped"


def is_candidate(path: str | os.PathLike[str]) -> bool:
    """Should a folder scan read this path?

    Files with a model extension; folders that are diffusers/PEFT adapters or
    pipelines; and folders *named* like model files (they are reported as
    errors rather than silently ignored). README, images, JSON sidecars and
    everything else are not candidates. Never raises.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if p.is_dir():
            return suffix in MODEL_EXTENSIONS or is_diffusers_folder(p)
    except OSError:
        return suffix in MODEL_EXTENSIONS
    return suffix in MODEL_EXTENSIONS


def _failed(path: str, message: str, fmt: Format = Format.UNKNOWN, size: int = 0) -> Artifact:
    return Artifact(path=path, size=size, format=fmt, errors=(message,))


def describe_os_error(name: str, exc: OSError) -> str:
    """One line for an OS error on ``name``: what happened and what to do."""
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"cannot read {name}: permission denied; grant read access or run the scan as a "
            f"user who can read it; {_SKIPPED}"
        )
    if code == errno.ELOOP:
        return f"{name} is a symlink loop: fix or remove the link; {_SKIPPED}"
    if code == errno.ENOENT:
        return f"{name} does not exist (a broken symlink, or removed during the scan); {_SKIPPED}"
    if code == errno.EISDIR:
        return f"{name} is a directory, not a model file; {_SKIPPED}"
    label = errno.errorcode.get(code or 0, "error")
    return f"cannot read {name}: {exc.strerror or exc} ({label}); {_SKIPPED}"


def read_artifacts(path: str | os.PathLike[str]) -> list[Artifact]:
    """Read every artifact at ``path``: usually one, one per member for a zip archive.

    Never raises on bad input; problems are ``errors`` on the returned artifacts.
    ``Artifact.path`` is the path as given; messages name the file's base name.
    """
    p = Path(path)
    full = str(p)
    name = p.name or full
    try:
        st = os.stat(p)
    except OSError as exc:
        return [_failed(full, describe_os_error(name, exc))]
    if stat.S_ISDIR(st.st_mode):
        if is_diffusers_folder(p):
            return [read_diffusers_folder(p)]
        return [_failed(full, f"{name} is a directory, not a model file; {_SKIPPED}")]
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "a device"
        )
        # Never open it: reading a FIFO blocks until someone writes.
        return [_failed(full, f"{name} is {kind}, not a regular file; {_SKIPPED}")]
    try:
        source = FileSource(p)
    except OSError as exc:
        return [_failed(full, describe_os_error(name, exc), size=st.st_size)]
    with source:
        try:
            head = source.read_at(0, 64)
            if head[:4] == ZIP_MAGIC and not _is_torch_zip(source):
                return [replace(a, path=full) for a in read_zip_archive(source, name)]
            artifact = read_source(source, name, path=str(p))
        except OSError as exc:
            return [_failed(full, describe_os_error(name, exc), size=st.st_size)]
    return [replace(artifact, path=full)]


def _is_torch_zip(source: ByteSource) -> bool:
    try:
        with zipfile.ZipFile(_SourceFile(source)) as zf:  # type: ignore[arg-type]
            return any(n.endswith("data.pkl") for n in zf.namelist()[:64])
    except (zipfile.BadZipFile, ValueError, EOFError):
        # OSError is not caught: an unreadable source is the caller's error line.
        return False


def sniff(head: bytes, name: str) -> Format:
    """The format ``head`` (the first bytes) looks like; the extension breaks ties."""
    if head[:4] == GGUF_MAGIC:
        return Format.GGUF
    if head[:4] == ZIP_MAGIC:
        return Format.ZIP
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return Format.PICKLE
    if len(head) >= 9 and head[8:9] == b"{":
        return Format.SAFETENSORS
    suffix = Path(name).suffix.lower()
    if suffix in (".safetensors", ".sft"):
        return Format.SAFETENSORS
    if suffix in _PICKLE_EXTENSIONS:
        return Format.PICKLE
    if suffix == ".gguf":
        return Format.GGUF
    return Format.UNKNOWN


def read_source(source: ByteSource, name: str, *, path: str | None = None) -> Artifact:
    """Read one artifact from ``source``; see :func:`_read_source`. Never raises on bad input.

    An ``OSError`` from the source (an unreadable file, a hub prefix that ends
    before a pickle does) becomes the artifact's one-line error.
    """
    try:
        return _read_source(source, name, path=path)
    except OSError as exc:
        return _failed(name, describe_os_error(name, exc), size=source.size)


def _read_source(source: ByteSource, name: str, *, path: str | None = None) -> Artifact:
    """Read one artifact from ``source`` (a file, a zip member, an HTTP range prefix).

    Args:
        source: random access to the bytes.
        name: display name for messages and ``Artifact.path``.
        path: the local file behind ``source``, if any (GGUF needs a memory map).

    Returns:
        The artifact; a torch zip is read as a checkpoint, a plain zip archive
        as a ``zip`` container listing its members (use :func:`read_artifacts`
        to read each member).
    """
    size = source.size
    if size == 0:
        return _failed(name, f"{name} is empty (0 bytes): it is not a model file; {_SKIPPED}")
    head = source.read_at(0, 64)
    fmt = sniff(head, name)
    if fmt is Format.SAFETENSORS:
        return read_safetensors(source, name)
    if fmt is Format.PICKLE:
        return read_pickle(source, name)
    if fmt is Format.GGUF:
        local = path or (source.name if isinstance(source, FileSource) else None)
        if local is None:
            return _failed(
                name,
                f"{name} is GGUF inside an archive or on a hub: extract or download it to "
                f"read its tensor table; {_SKIPPED}",
                Format.GGUF,
                size,
            )
        return read_gguf(source, name, path=local)
    if fmt is Format.ZIP:
        # The central directory is at the end: a source that cannot reach it (a
        # hub's header prefix) fails here with a clear line, not "damaged zip".
        source.read_at(max(0, size - 22), min(size, 22))
        if _is_torch_zip(source):
            return read_pickle(source, name)
        members = read_zip_archive(source, name)
        if len(members) == 1 and members[0].member is None:
            return members[0]  # the archive itself failed, or holds no model files
        return Artifact(
            path=name,
            size=size,
            format=Format.ZIP,
            metadata={"members": ", ".join(a.member or "" for a in members)[:4096]},
            warnings=(
                f"{name} is a zip archive of {len(members)} model files: "
                f"each member is read as its own artifact",
            ),
        )
    shown = head[:8].hex(" ")
    return _failed(
        name,
        f"{name} is not a model format this version reads (starts with {shown}); {_SKIPPED}",
        Format.UNKNOWN,
        size,
    )


class _SliceSource(SourceBase):
    """A :class:`ByteSource` over a byte range of another source (a stored zip member)."""

    def __init__(self, parent: ByteSource, start: int, size: int, name: str) -> None:
        self._parent = parent
        self._start = start
        self._size = size
        self._name = name

    def read_at(self, offset: int, length: int) -> bytes:
        length = self._in_bounds(offset, length)
        return self._parent.read_at(self._start + offset, length) if length else b""


class _CompressedMemberSource:
    """Random access to a deflated zip member, bounded in bytes decompressed.

    One decompressor is kept open so sequential reads (a legacy pickle, a
    header) cost one pass; a backward seek restarts it. A budget (a small
    multiple of the declared size) bounds the work a hostile access pattern
    can cause, and nothing beyond the declared size is ever produced.
    """

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
        self._zf = zf
        self._info = info
        self._name = name
        self._budget = 4 * info.file_size + (1 << 20)
        self._fh: IO[bytes] | None = None
        self._pos = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def size(self) -> int:
        return int(self._info.file_size)

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError(f"negative read at {offset}+{length} in {self._name}")
        if self._fh is None or offset < self._pos:
            if self._fh is not None:
                self._fh.close()
            self._fh = self._zf.open(self._info)
            self._pos = 0
        skip = offset - self._pos
        self._budget -= skip + length
        if self._budget < 0:
            raise OSError(f"{self._name}: too much decompression for one member; giving up")
        while skip > 0:
            chunk = self._fh.read(min(skip, 1 << 20))
            if not chunk:
                break
            skip -= len(chunk)
            self._pos += len(chunk)
        data = self._fh.read(length)
        self._pos += len(data)
        return data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


#: A deflated member that needs random access (a torch zip inside an archive)
#: is decompressed into memory only up to this size.
MAX_INMEMORY_MEMBER = 256 * 1024 * 1024


def read_zip_archive(source: ByteSource, name: str) -> list[Artifact]:
    """One artifact per model member of a zip archive, with ``member`` set.

    Zip bombs are bounded: members are checked against a compression-ratio
    limit and a total declared size before anything is decompressed, and reads
    never exceed a member's declared size. Nested archives are not expanded.
    """
    try:
        zf = zipfile.ZipFile(_SourceFile(source))  # type: ignore[arg-type]
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        return [
            _failed(
                name,
                f"{name} is a damaged zip archive ({exc}); {_SKIPPED}",
                Format.ZIP,
                source.size,
            )
        ]
    out: list[Artifact] = []
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            return [
                _failed(
                    name,
                    f"{name} has {len(infos)} members (limit {MAX_ARCHIVE_MEMBERS}): "
                    f"the archive is hostile or not a model upload; {_SKIPPED}",
                    Format.ZIP,
                    source.size,
                )
            ]
        declared = sum(i.file_size for i in infos)
        if declared > MAX_ARCHIVE_BYTES:
            return [
                _failed(
                    name,
                    f"{name} declares {declared} uncompressed bytes (limit {MAX_ARCHIVE_BYTES}):"
                    f" a zip bomb; {_SKIPPED}",
                    Format.ZIP,
                    source.size,
                )
            ]
        for info in infos:
            member = info.filename
            if Path(member).suffix.lower() not in MODEL_EXTENSIONS:
                continue
            label = f"{name}:{member}"
            out.append(replace(_read_member(source, zf, info, label), member=member))
    if not out:
        out.append(
            Artifact(
                path=name,
                size=source.size,
                format=Format.ZIP,
                warnings=(f"{name} is a zip archive with no model files in it",),
            )
        )
    return out


def _read_member(
    source: ByteSource, zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str
) -> Artifact:
    size = info.file_size
    if Path(info.filename).suffix.lower() == ".zip":
        return _failed(
            label,
            f"{label} is an archive inside an archive: extract it and scan the result; {_SKIPPED}",
            Format.ZIP,
            size,
        )
    try:
        check_member(info, label.split(":", 1)[0])
        if info.flag_bits & 0x1:
            return _failed(
                label, f"{label} is encrypted: it cannot be inspected; {_SKIPPED}", Format.ZIP, size
            )
        if info.compress_type == zipfile.ZIP_STORED:
            start = _stored_offset(source, info)
            if start < 0:
                return _failed(
                    label, f"{label} has a damaged local header; {_SKIPPED}", Format.ZIP, size
                )
            return read_source(_SliceSource(source, start, size, label), label)
        member = _CompressedMemberSource(zf, info, label)
        try:
            head = member.read_at(0, 64)
            fmt = sniff(head, info.filename)
            if fmt is Format.SAFETENSORS and len(head) >= 8:
                # Parse the header prefix only (one forward pass); alphas come
                # from metadata rather than seeking all over a deflate stream.
                need = 8 + header_length(head)
                prefix = head + member.read_at(64, max(0, min(need, 8 + MAX_HEADER_BYTES) - 64))
                return parse_safetensors_header(prefix, size, label)
            if fmt in (Format.ZIP, Format.GGUF):
                if size > MAX_INMEMORY_MEMBER:
                    return _failed(
                        label,
                        f"{label} is a compressed {fmt.value} file of {size} bytes inside an "
                        f"archive: extract it and scan the result; {_SKIPPED}",
                        fmt,
                        size,
                    )
                data = head + member.read_at(64, size)
                return read_source(BytesSource(data, label), label)
            return read_source(member, label)
        finally:
            member.close()
    except PickleWalkError as exc:
        return _failed(label, str(exc), Format.ZIP, size)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return _failed(
            label,
            f"{label} could not be decompressed ({detail}): the archive is corrupt or hostile; "
            f"{_SKIPPED}",
            Format.ZIP,
            size,
        )


def _stored_offset(source: ByteSource, info: zipfile.ZipInfo) -> int:
    local = source.read_at(info.header_offset, 30)
    if len(local) < 30 or local[:4] != ZIP_MAGIC:
        return -1
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    return start if start + info.file_size <= source.size else -1
