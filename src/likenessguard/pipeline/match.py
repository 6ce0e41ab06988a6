"""Bank matching wired into scans and the catalog: ``scan --bank``, ``rematch``, ``mirrors``.

Three jobs live here because each needs the banks, the fingerprint code and
the catalog together (only the pipeline may orchestrate across them):

- :class:`BankMatcher` is the scanner's :class:`~likenessguard.pipeline.base.Analyzer`:
  it fingerprints each artifact from the bytes the scanner already has open and
  matches hashes + fingerprint against the banks named by ``--bank``;
- :func:`rematch` re-matches the whole catalog from stored hashes and stored
  fingerprints, so a ban added today catches last year's uploads without
  re-reading them (``bank import``/``bank add`` run it for the new entries);
- :func:`find_mirrors` clusters the catalog into groups of copies (same
  sha256/AutoV3, or fingerprint similarity at or above a threshold).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from likenessguard.artifacts.base import Artifact, ByteSource, Format
from likenessguard.banks.base import BankEntry, Match
from likenessguard.banks.matcher import Matcher
from likenessguard.banks.similarity import VectorIndex
from likenessguard.hashing.base import FileHashes
from likenessguard.hashing.fingerprint import (
    DIM,
    THRESHOLDS,
    Fingerprint,
    FingerprintError,
    fingerprint_artifact,
)
from likenessguard.pipeline.base import AnalysisResult, LocalTarget, ScanContext
from likenessguard.pipeline.once import Once
from likenessguard.pipeline.work import data_offset_of
from likenessguard.store.banks import (
    CatalogEngine,
    CatalogItem,
    catalog_items,
    catalog_items_with_hash,
    fingerprint_stamp,
    iter_catalog,
    load_banks,
    load_fingerprints,
    matches_of,
    record_matches,
    save_fingerprints,
    without_bogus_autov3,
)
from likenessguard.store.db import open_catalog
from likenessguard.store.records import Location

_FINGERPRINTABLE = {Format.SAFETENSORS, Format.GGUF, Format.DIFFUSERS}


def fingerprint_of(
    artifact: Artifact, source: ByteSource | None
) -> tuple[Fingerprint | None, str | None]:
    """The artifact's fingerprint, or None with a one-line reason (never raises for bad input)."""
    if source is None or not artifact.tensors or not artifact.ok:
        return None, None
    if any(t.offset < 0 for t in artifact.tensors[:1]) or artifact.format not in _FINGERPRINTABLE:
        return None, None
    try:
        return fingerprint_artifact(artifact, source), None
    except FingerprintError as exc:
        return None, f"fingerprint: {exc}"
    except OSError as exc:
        return None, f"fingerprint: couldn't read {source.name}: {exc.strerror or exc}"


def hashes_of(
    hashes: FileHashes | None,
    known: Mapping[str, str] | None = None,
    artifact: Artifact | None = None,
) -> dict[str, str | None]:
    """The hashes to look up: computed ones, else those a hub reported.

    With ``artifact``, AutoV3 is left out unless it is a safetensors file whose
    header parsed: otherwise it hashes an arbitrary tail (docs/hashes.md).
    """
    out: dict[str, str | None] = dict(hashes.to_json()) if hashes is not None else {}
    for name, value in (known or {}).items():
        out.setdefault(name, value)
    if artifact is not None:
        out = without_bogus_autov3(out, str(artifact.format), ok=artifact.ok)
    return out


class BankMatcher:
    """The bank analyzer: ``scan --bank NAME`` plugs this into the scanner.

    Picklable (the matcher is built lazily in each worker from ``db_url``).

    Args:
        db_url: the catalog holding the banks.
        banks: bank names to match against (all banks when empty).
        min_similarity: fingerprint threshold override (default: per kind, ``THRESHOLDS``).
        fingerprint: compute fingerprints (off: exact hashes only, no tensor reads).
    """

    name = "banks"

    def __init__(
        self,
        db_url: str,
        banks: Sequence[str] = (),
        *,
        min_similarity: float | None = None,
        fingerprint: bool = True,
    ) -> None:
        self.db_url = db_url
        self.banks = tuple(banks)
        self.min_similarity = min_similarity
        self.fingerprint = fingerprint
        self._matcher: Once[Matcher] = Once()

    def matcher(self) -> Matcher:
        """The banks' matcher, loaded once per process (thread-safe)."""
        return self._matcher.get(self._load)

    def _load(self) -> Matcher:
        engine = open_catalog(self.db_url)
        try:
            return Matcher(
                load_banks(engine, list(self.banks) or None), min_similarity=self.min_similarity
            )
        finally:
            engine.dispose()

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        fp, problem = (None, None)
        if self.fingerprint:
            fp, problem = fingerprint_of(artifact, context.source)
        matches = self.matcher().match(hashes_of(hashes, context.known_hashes, artifact), fp)
        return AnalysisResult(
            matches=tuple(matches),
            fingerprint=fp.to_text() if fp else None,
            warnings=(problem,) if problem else (),
        )


# -- files -> entries / matches (the ``bank add`` and ``match`` commands) ------------


@dataclass(frozen=True)
class FileResult:
    """One artifact of a file: its hashes, fingerprint and (for ``match``) matches."""

    path: str
    artifact: Artifact | None
    hashes: FileHashes | None
    fingerprint: Fingerprint | None
    matches: tuple[Match, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "path": self.path,
            "member": a.member if a else None,
            "kind": str(a.identity.kind) if a else None,
            "base_family": str(a.identity.base_family) if a else None,
            "hashes": self.hashes.to_json() if self.hashes else None,
            "fingerprint": self.fingerprint.to_text() if self.fingerprint else None,
            "matches": [m.to_json() for m in self.matches],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }


def examine_file(path: str) -> list[FileResult]:
    """Read, hash and fingerprint one file (one result per artifact it holds).

    The same target the scanner uses, so ``match``, ``bank add`` and ``scan``
    hash and fingerprint a file, an archive member or a PEFT folder alike.
    """
    try:
        target = LocalTarget.from_path(path)
        artifacts = target.read()
    except OSError as exc:
        return [FileResult(path, None, None, None, errors=(f"{path}: {exc.strerror or exc}",))]
    out: list[FileResult] = []
    for art in artifacts:
        errors = tuple(art.errors)
        hashes: FileHashes | None = None
        try:
            if art.member is None:
                hashes = target.hash(data_offset_of(artifacts))
            elif art.ok:
                hashes = target.hash_member(art.member)
        except (OSError, ValueError) as exc:
            errors += (f"{path}: couldn't hash: {getattr(exc, 'strerror', None) or exc}",)
        fp: Fingerprint | None = None
        warnings: tuple[str, ...] = ()
        try:
            opened = (target.open_member(art.member) if art.member else None) or target.open()
            with opened as source:
                fp, problem = fingerprint_of(art, source)
            warnings = (problem,) if problem else ()
        except (OSError, ValueError):
            pass  # reading already reported why the bytes are out of reach
        out.append(FileResult(path, art, hashes, fp, errors=errors, warnings=warnings))
    return out


def entry_for(result: FileResult, **fields: Any) -> BankEntry | None:
    """A bank entry for an examined file (all hashes + fingerprint), or None if it has neither."""
    h = result.hashes
    name = fields.pop("name", None) or os.path.basename(result.path)
    a = result.artifact
    autov3 = h.autov3 if h and a is not None and a.ok and a.format is Format.SAFETENSORS else None
    entry = BankEntry(
        name=name,
        sha256=h.sha256 if h else None,
        autov1=h.autov1 if h else None,
        autov2=h.autov2 if h else None,
        autov3=autov3,
        blake3=h.blake3 if h else None,
        crc32=h.crc32 if h else None,
        fingerprint=result.fingerprint.to_text() if result.fingerprint else None,
        **fields,
    )
    return entry if entry.has_signal() else None


def match_files(paths: Iterable[str], matcher: Matcher) -> list[FileResult]:
    """Examine every file and match it against the banks; bad files become errors."""
    out: list[FileResult] = []
    for path in paths:
        for res in examine_file(path):
            if res.hashes is None and res.fingerprint is None:
                out.append(res)
                continue
            hashes = hashes_of(res.hashes, artifact=res.artifact)
            out.append(
                FileResult(
                    res.path,
                    res.artifact,
                    res.hashes,
                    res.fingerprint,
                    matches=tuple(matcher.match(hashes, res.fingerprint)),
                    errors=res.errors,
                    warnings=res.warnings,
                )
            )
    return out


# -- the catalog: rematch and mirrors -----------------------------------------------


@dataclass(frozen=True)
class RematchReport:
    """What a rematch did: artifacts examined, how many changed, and the matches now held."""

    artifacts: int
    changed: int
    matched: int
    matches: int
    fingerprints_stored: int
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "artifacts": self.artifacts,
            "changed": self.changed,
            "matched_artifacts": self.matched,
            "matches": self.matches,
            "fingerprints_stored": self.fingerprints_stored,
            "problems": list(self.problems),
        }


def _sync_fingerprints(
    engine: CatalogEngine, items: Sequence[CatalogItem]
) -> tuple[dict[int, Fingerprint], int, list[str]]:
    """Stored fingerprints, after storing any a record carries that the table lacks."""
    stored = load_fingerprints(engine)
    fresh: list[tuple[int, Fingerprint]] = []
    problems: list[str] = []
    for item in items:
        if item.fingerprint and item.id not in stored:
            try:
                fp = Fingerprint.from_text(item.fingerprint)
            except ValueError as exc:
                problems.append(f"{item.path}: stored fingerprint is unusable ({exc})")
                continue
            fresh.append((item.id, fp))
            stored[item.id] = fp
    if fresh:
        save_fingerprints(engine, fresh)
    return stored, len(fresh), problems


def rematch(
    engine: CatalogEngine,
    banks: Sequence[str] | None = None,
    *,
    min_similarity: float | None = None,
) -> RematchReport:
    """Match every catalog artifact against ``banks`` (all when None) from stored signals.

    Hashes come from the catalog rows, fingerprints from the ``fingerprints``
    table (filled from the records' ``fingerprint`` as needed). An artifact's
    matches against the covered banks are replaced only when they changed.
    """
    loaded = load_banks(engine, banks)
    matcher = Matcher(loaded, min_similarity=min_similarity)
    names = [b.name for b in loaded]
    items = list(iter_catalog(engine))
    fingerprints, stored_n, problems = _sync_fingerprints(engine, items)
    problems.extend(matcher.skipped)
    changed = matched = total = 0
    for item in items:
        got = matcher.match(item.signal_hashes, fingerprints.get(item.id))
        before = {
            (m["bank"], m["entry_id"], m["method"], round(m["similarity"], 4))
            for m in matches_of(engine, item.id)
            if m["bank"] in names
        }
        after = {(m.bank, int(m.entry["id"]), m.method, round(m.similarity, 4)) for m in got}
        if before != after:
            record_matches(engine, item.id, got, banks=names)
            changed += 1
        if any(not m.negative for m in got):
            matched += 1
        total += len(got)
    return RematchReport(
        artifacts=len(items),
        changed=changed,
        matched=matched,
        matches=total,
        fingerprints_stored=stored_n,
        problems=tuple(problems),
    )


@dataclass(frozen=True)
class MirrorMember:
    id: int
    uri: str
    path: str
    hub: str
    repo: str | None
    url: str | None
    first_seen: str
    sha256: str | None
    similarity: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "path": self.path,
            "hub": self.hub,
            "repo": self.repo,
            "url": self.url,
            "first_seen": self.first_seen,
            "sha256": self.sha256,
            "similarity_to_first": self.similarity,
        }


@dataclass(frozen=True)
class MirrorCluster:
    """Copies of one model across the catalog, the earliest-seen first."""

    members: tuple[MirrorMember, ...]
    methods: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "size": len(self.members),
            "methods": list(self.methods),
            "members": [m.to_json() for m in self.members],
        }


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _exact_keys(item: CatalogItem) -> list[tuple[str, str]]:
    """The (hash, value) pairs that make two artifacts the same file or the same weights.

    AutoV3 counts only where it hashes parsed tensor data: two broken uploads
    with a bogus header length can share an arbitrary tail.
    """
    hashes = item.signal_hashes
    keys = []
    for name in ("sha256", "autov3"):
        value = hashes.get(name)
        if value and len(value) == 64:
            keys.append((name, value.lower()))
    return keys


def _threshold(kind: str, min_similarity: float | None) -> float:
    return min_similarity if min_similarity is not None else THRESHOLDS.get(kind, 0.9)


def find_mirrors(engine: CatalogEngine, min_similarity: float | None = None) -> list[MirrorCluster]:
    """Clusters of copies: same sha256 or full AutoV3, or fingerprints at least this similar.

    AutoV3 counts only for safetensors records whose header parsed (no errors);
    sha256 counts for every record.

    Args:
        min_similarity: fingerprint threshold (default: the per-kind policy thresholds).

    Returns:
        Clusters of two or more artifacts, biggest first; members ordered by
        first seen (the likely original first).
    """
    items = {i.id: i for i in iter_catalog(engine)}
    fingerprints, _n, _problems = _sync_fingerprints(engine, list(items.values()))
    uf = _UnionFind()
    methods: dict[int, set[str]] = {}
    by_key: dict[tuple[str, str], int] = {}
    for item in items.values():
        for key in _exact_keys(item):
            if key in by_key:
                uf.union(by_key[key], item.id)
                methods.setdefault(item.id, set()).add(key[0])
                methods.setdefault(by_key[key], set()).add(key[0])
            else:
                by_key[key] = item.id
    kinds: dict[str, list[int]] = {}
    for aid, fp in fingerprints.items():
        if aid in items:
            kinds.setdefault(fp.kind, []).append(aid)
    for kind, ids in kinds.items():
        index = VectorIndex(DIM, _threshold(kind, min_similarity))
        mat = np.stack([fingerprints[i].vector for i in ids])
        index.add_many(mat, ids)
        for aid, hits in zip(ids, index.query_many(mat), strict=True):
            for other, _sim in hits:
                if other != aid:
                    uf.union(aid, other)
                    methods.setdefault(aid, set()).add("fingerprint")
                    methods.setdefault(other, set()).add("fingerprint")
    groups: dict[int, list[int]] = {}
    for aid in uf.parent:
        groups.setdefault(uf.find(aid), []).append(aid)
    clusters = []
    for members in groups.values():
        if len(members) < 2:
            continue
        ordered = sorted(members, key=lambda i: (items[i].first_seen, i))
        first = fingerprints.get(ordered[0])
        out = []
        for aid in ordered:
            it = items[aid]
            fp_b = fingerprints.get(aid)
            sim = round(first.similarity(fp_b), 4) if first and fp_b else None
            out.append(
                MirrorMember(
                    id=aid,
                    uri=it.uri,
                    path=it.path,
                    hub=it.hub,
                    repo=it.repo,
                    url=it.url,
                    first_seen=it.first_seen.isoformat(),
                    sha256=it.hashes.get("sha256"),
                    similarity=sim,
                )
            )
        used = sorted(set().union(*(methods.get(a, set()) for a in members)))
        clusters.append(MirrorCluster(members=tuple(out), methods=tuple(used)))
    return sorted(clusters, key=lambda c: (-len(c.members), c.members[0].first_seen))


# -- one artifact's copies (the review app's case page) -----------------------------


class MirrorIndex:
    """The catalog's stored fingerprints, indexed per kind, for one-artifact copy lookups.

    ``mirrors`` rebuilds its index for each run; a case page cannot afford
    that on every view, so the review app keeps one of these per process. Each
    lookup first checks :func:`~likenessguard.store.banks.fingerprint_stamp`
    (one aggregate query): new fingerprints are added to the index, and a
    deleted or replaced one triggers a rebuild. Thread-safe. Memory is about
    1 KiB per stored fingerprint (DIM float32 values).

    Args:
        engine: the catalog.
        min_similarity: as for :func:`find_mirrors` (default: per kind, ``THRESHOLDS``).
    """

    def __init__(self, engine: CatalogEngine, min_similarity: float | None = None) -> None:
        self.engine = engine
        self.min_similarity = min_similarity
        self._lock = threading.Lock()
        self._stamp: tuple[int, datetime | None] | None = None
        self._fingerprints: dict[int, Fingerprint] = {}
        self._indexes: dict[str, VectorIndex] = {}

    def _add(self, fingerprints: Mapping[int, Fingerprint]) -> None:
        kinds: dict[str, list[int]] = {}
        for aid, fp in fingerprints.items():
            self._fingerprints[aid] = fp
            kinds.setdefault(fp.kind, []).append(aid)
        for kind, ids in kinds.items():
            index = self._indexes.get(kind)
            if index is None:
                index = self._indexes[kind] = VectorIndex(
                    DIM, _threshold(kind, self.min_similarity)
                )
            index.add_many(np.stack([fingerprints[i].vector for i in ids]), ids)

    def refresh(self) -> None:
        """Bring the index up to date with the ``fingerprints`` table."""
        with self._lock:
            stamp = fingerprint_stamp(self.engine)
            if stamp == self._stamp:
                return
            old = self._stamp
            if old is not None and old[1] is not None and stamp[0] > old[0]:
                fresh = load_fingerprints(self.engine, since=old[1])
                if not fresh.keys() & self._fingerprints.keys() and (
                    len(self._fingerprints) + len(fresh) == stamp[0]
                ):
                    self._add(fresh)
                    self._stamp = stamp
                    return
            self._fingerprints, self._indexes = {}, {}
            self._add(load_fingerprints(self.engine))
            self._stamp = stamp

    def fingerprint(self, artifact_id: int) -> Fingerprint | None:
        """The stored fingerprint of an artifact (as of the last refresh)."""
        return self._fingerprints.get(artifact_id)

    def similar(self, fp: Fingerprint) -> list[tuple[int, float]]:
        """Artifacts whose fingerprint is at least the threshold similar to ``fp``."""
        index = self._indexes.get(fp.kind)
        if index is None:
            return []
        with self._lock:
            return list(index.query(fp.vector))


@dataclass(frozen=True)
class Copy:
    """Another artifact in the same mirror cluster as the one asked about.

    ``methods`` are the links that put it in the cluster (``sha256``,
    ``autov3``, ``fingerprint``), as ``mirrors`` reports them per member;
    ``similarity`` is its fingerprint similarity to the artifact asked about
    (None when either has no stored fingerprint).
    """

    id: int
    uri: str
    path: str
    hub: str
    repo: str | None
    url: str | None
    first_seen: datetime
    methods: tuple[str, ...]
    similarity: float | None

    @property
    def method(self) -> str:
        """The strongest link: sha256 (same file), then autov3 (same tensors), then fingerprint."""
        for name in ("sha256", "autov3", "fingerprint"):
            if name in self.methods:
                return name
        return self.methods[0] if self.methods else "fingerprint"


def copies_of(
    engine: CatalogEngine,
    artifact_id: int,
    *,
    index: MirrorIndex | None = None,
    limit: int = 200,
) -> list[Copy]:
    """Every other member of the mirror cluster holding ``artifact_id``, earliest seen first.

    The same links as :func:`find_mirrors` (sha256, AutoV3 of parsed
    safetensors, fingerprint similarity at the per-kind threshold), followed
    from this one artifact through indexed hash lookups and ``index``, so it
    costs a few queries instead of a pass over the catalog. The result is the
    cluster ``mirrors`` prints for this artifact (tested against it), up to
    ``limit`` members. Fingerprints come from the ``fingerprints`` table,
    which scans, ``rematch`` and ``mirrors`` fill.

    Args:
        index: a long-lived :class:`MirrorIndex` (built for this call when None).
        limit: at most this many copies (a cluster of thousands is cut, not walked).
    """
    if index is None:
        index = MirrorIndex(engine)
    index.refresh()
    items = catalog_items(engine, [artifact_id])
    if artifact_id not in items:
        return []
    methods: dict[int, set[str]] = {artifact_id: set()}
    queue = deque([artifact_id])

    def link(a: int, b: int, how: str) -> None:
        methods.setdefault(a, set()).add(how)
        if b not in methods:
            if len(methods) > limit:
                return
            queue.append(b)
        methods.setdefault(b, set()).add(how)

    while queue:
        node = queue.popleft()
        item = items.get(node)
        if item is not None:
            for name, value in _exact_keys(item):
                for other in catalog_items_with_hash(engine, name, value, limit=limit + 1):
                    if other.id != node and (name, value) in _exact_keys(other):
                        items.setdefault(other.id, other)
                        link(node, other.id, name)
        fp = index.fingerprint(node)
        if fp is not None:
            for other_id, _sim in index.similar(fp):
                if other_id != node:
                    link(node, other_id, "fingerprint")
        missing = [i for i in queue if i not in items]
        if missing:
            items.update(catalog_items(engine, missing))
    origin = index.fingerprint(artifact_id)
    out = []
    for aid, how in methods.items():
        it = items.get(aid)
        if aid == artifact_id or it is None:
            continue
        fp_b = index.fingerprint(aid)
        out.append(
            Copy(
                id=aid,
                uri=it.uri,
                path=it.path,
                hub=it.hub,
                repo=it.repo,
                url=it.url,
                first_seen=it.first_seen,
                methods=tuple(sorted(how)),
                similarity=round(origin.similarity(fp_b), 4) if origin and fp_b else None,
            )
        )
    return sorted(out, key=lambda c: (c.first_seen, c.id))
