"""The pipeline seam: what gets scanned (``ScanTarget``) and what plugs in (``Analyzer``).

A scan turns *targets* into :class:`~likenessguard.store.records.ScanRecord` s.
The scanner itself only reads and hashes; everything that judges a file
(verdicts, bank matches, fingerprints) is an :class:`Analyzer` handed to it, so
the scanner never imports the verdict or bank code and those concerns evolve on
their own. Where the bytes come from is the target's business: a local file, a
member of a hub repo read with HTTP range requests, or a file downloaded on demand.

Plugging in (for the verdict, bank and hub engineers)::

    class BankAnalyzer:                       # satisfies the Analyzer protocol
        name = "banks"

        def analyze(self, artifact, hashes, location, context):
            hits = self.matcher.lookup(hashes, context.known_hashes)
            return AnalysisResult(matches=tuple(hits))

    scanner = Scanner(catalog, analyzers=[VerdictAnalyzer(policy), BankAnalyzer(banks)])

A hub connector yields its files as ``ScanTarget`` subclasses whose
``open()`` returns a range-reading ``ByteSource`` and whose ``known_hashes``
carries the LFS sha256, so bank matching needs no file content at all.
"""

from __future__ import annotations

import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from likenessguard.artifacts.base import Artifact, ByteSource, FileSource
from likenessguard.banks.base import Match
from likenessguard.hashing.base import FileHashes
from likenessguard.store.records import Location
from likenessguard.verdicts.base import Verdict

_MEMBER_CHUNK = 8 << 20  # bytes per read when hashing an archive member


@dataclass(frozen=True, slots=True)
class StatKey:
    """What decides whether a file changed since the last scan without reading it.

    Local files use (size, mtime_ns, inode); hub files use their size and the
    commit they were read at folded into ``mtime_ns``/``inode`` as the connector
    sees fit (``None`` fields never compare equal to a stored value, so a target
    without a stat key is always re-scanned).
    """

    size: int
    mtime_ns: int | None = None
    inode: int | None = None

    @classmethod
    def of(cls, st: os.stat_result) -> StatKey:
        return cls(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)

    def matches(self, size: int | None, mtime_ns: int | None, inode: int | None) -> bool:
        """True when a stored (size, mtime_ns, inode) equals this key in every field."""
        if self.mtime_ns is None or self.inode is None:
            return False
        return (self.size, self.mtime_ns, self.inode) == (size, mtime_ns, inode)


@dataclass(frozen=True)
class ScanTarget(ABC):
    """One file to scan, wherever it lives. Subclasses must stay picklable.

    Attributes:
        uri: the stable catalog identity (``file:///abs/path``, ``hf://org/name@sha/path``).
            Records of archive members get ``uri#member``.
        display: the path shown to people and written as the record's ``path``.
        size: size in bytes as known before reading (0 when unknown).
        location: hub, repo and revision, copied into every record.
        stat: the change-detection key; ``None`` means always re-scan.
        known_hashes: hashes the hub already told us (``{"sha256": ...}`` from LFS),
            handed to analyzers so exact bank matching needs no content.
    """

    uri: str
    display: str
    size: int
    location: Location
    stat: StatKey | None = None
    known_hashes: Mapping[str, str] = field(default_factory=dict)

    @abstractmethod
    def open(self) -> AbstractContextManager[ByteSource]:
        """Open the target's bytes for random access; close them when the block ends.

        Must raise ``OSError`` (or a subclass) when the bytes cannot be reached,
        never return a half-working source.
        """

    def read(self) -> list[Artifact]:
        """Parse the target into artifacts (usually one; archives give one per member).

        The default opens the bytes and runs the format sniffers over them.
        Hostile input becomes ``errors`` on the artifact, never an exception.
        """
        from likenessguard.artifacts.open import read_source

        with self.open() as source:
            got: Any = read_source(source, self.display)
        return list(got) if isinstance(got, list | tuple) else [got]

    def hash(self, data_offset: int | None) -> FileHashes | None:
        """All six hashes of the target, or ``None`` when they cannot be computed cheaply.

        Remote targets return ``None`` by default (their ``known_hashes`` stand in);
        a connector that downloads suspects overrides this.
        """
        return None

    def hash_member(self, member: str) -> FileHashes | None:
        """All six hashes of one archive member's own bytes, or ``None`` if not available.

        A banned LoRA zipped up must still match its sha256, so member records
        carry the member's hashes, not the archive's. Only called for members
        the reader accepted (zip-bomb limits already checked).
        """
        return None

    def open_member(self, member: str) -> AbstractContextManager[ByteSource] | None:
        """The bytes a member's tensor offsets point into, when they are not :meth:`open`'s.

        A zip member's offsets are positions in the archive, so the default
        (``None``: use :meth:`open`) fits archives. A folder artifact's offsets
        are positions in its weights file, which a folder target opens here.
        """
        return None


@contextmanager
def _file_source(path: str) -> Iterator[ByteSource]:
    source = FileSource(path)
    try:
        yield source
    finally:
        source.close()


@dataclass(frozen=True)
class LocalTarget(ScanTarget):
    """A file (or a folder a reader understands, e.g. a diffusers adapter) on local disk."""

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], st: os.stat_result | None = None
    ) -> LocalTarget:
        """Build a target from a path, using ``st`` when the walker already has it."""
        p = Path(os.path.abspath(path))
        st = st if st is not None else p.stat()
        # A folder's mtime does not change when a file inside it is rewritten in
        # place, so folders (diffusers adapters) get no stat key: always re-read.
        key = None if stat.S_ISDIR(st.st_mode) else StatKey.of(st)
        return cls(
            uri=p.as_uri(),
            display=str(p),
            size=st.st_size,
            location=Location(uri=p.as_uri()),
            stat=key,
        )

    @property
    def path(self) -> str:
        return self.display

    def _open(self) -> AbstractContextManager[ByteSource]:
        return _file_source(self.display)

    def open(self) -> AbstractContextManager[ByteSource]:
        return self._open()

    def read(self) -> list[Artifact]:
        from likenessguard.artifacts.open import read_artifacts

        got: Any = read_artifacts(self.display)
        return list(got) if isinstance(got, list | tuple) else [got]

    def hash(self, data_offset: int | None) -> FileHashes | None:
        from likenessguard.hashing.file_hashes import hash_file

        if os.path.isdir(self.display):
            return None
        return hash_file(self.display, data_offset=data_offset)

    def _folder_member(self, member: str) -> str | None:
        """The weights file ``member`` names inside a folder target (a PEFT/diffusers folder)."""
        if not os.path.isdir(self.display):
            return None
        inner = os.path.normpath(os.path.join(self.display, member))
        # The reader names files inside the folder; never follow a name out of it.
        if os.path.commonpath([inner, self.display]) != self.display:
            raise ValueError(f"member {member} is outside {self.display}")
        return inner

    def open_member(self, member: str) -> AbstractContextManager[ByteSource] | None:
        inner = self._folder_member(member)
        return None if inner is None else _file_source(inner)

    def hash_member(self, member: str) -> FileHashes | None:
        import zipfile
        import zlib

        from likenessguard.hashing.file_hashes import MultiHasher, hash_file

        inner = self._folder_member(member)
        if inner is not None:
            # A PEFT or diffusers folder: its weights file is the model a bank
            # knows (a banned LoRA converted to PEFT and uploaded as a folder).
            return hash_file(inner)
        try:
            with zipfile.ZipFile(self.display) as zf:
                info = zf.getinfo(member)
                hasher = MultiHasher(total_size=info.file_size)
                with zf.open(info) as stream:
                    while chunk := stream.read(_MEMBER_CHUNK):
                        hasher.update(chunk)
        # Encrypted (RuntimeError), unsupported compression, corrupt deflate data.
        except (
            zipfile.BadZipFile,
            KeyError,
            EOFError,
            RuntimeError,
            NotImplementedError,
            zlib.error,
        ) as exc:
            raise ValueError(f"member {member} of {self.display} is unreadable ({exc})") from None
        return hasher.finish()


@dataclass(frozen=True)
class ScanContext:
    """What an analyzer may use beyond the artifact itself.

    ``source`` is the target's bytes, open for the duration of ``analyze`` (for
    fingerprinting tensor data); it is ``None`` when the target could not be
    opened. ``known_hashes`` are hashes a hub reported without us reading the file.
    """

    target: ScanTarget
    source: ByteSource | None = None
    known_hashes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysisResult:
    """What one analyzer contributes to a record. Empty fields contribute nothing.

    When several analyzers give a ``verdict`` the most severe wins; ``matches``,
    ``warnings`` and ``errors`` are concatenated; the first ``fingerprint``
    wins; ``extra`` keys are merged into the record's JSON (document every key
    you add in docs/records.md).
    """

    verdict: Verdict | None = None
    matches: tuple[Match, ...] = ()
    fingerprint: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@runtime_checkable
class Analyzer(Protocol):
    """Something that judges an artifact during a scan (verdicts, bank matching, fingerprints).

    Contract for implementers:

    - ``name`` is short and stable; it prefixes error messages.
    - ``analyze`` runs once per artifact in the process that read it: with
      ``--jobs N`` > 1 that is a worker process, so the analyzer must be
      picklable (it is shipped once to each worker) and must open connections
      (databases, indexes) lazily, not hold them across pickling.
    - It must not raise for bad input: return ``errors`` instead. An exception
      is caught, becomes one line in the record's ``errors``, and the scan goes on.
    - It must be deterministic for the same inputs, so a scan gives identical
      records whatever the executor and the number of jobs.
    - ``hashes`` is ``None`` with ``--no-hash`` or for remote targets; use
      ``context.known_hashes`` then.
    """

    name: str

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        """Judge one artifact; see the class docstring for the contract."""
        ...
