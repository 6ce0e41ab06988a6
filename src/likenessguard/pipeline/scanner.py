"""The scanner: targets in, catalogued records out, incrementally and crash-safely.

It decides what to read (a file whose (size, mtime_ns, inode) is unchanged
since the last scan is not read again), hands the rest to an executor
(:func:`~likenessguard.pipeline.work.scan_target` per target), and writes the
records to the catalog in batched transactions. Because a file is only ever
skipped when its row exists with the same stat key, a scan killed at any point
and run again re-reads exactly the files whose batch was lost.

Example::

    catalog = Catalog.open(url)
    scanner = Scanner(catalog, hash_files=True, analyzers=build_analyzers(settings, banks))
    for event in scanner.scan_paths(["/models"]):
        print(event.status, event.record["path"])
    print(scanner.stats)
"""

from __future__ import annotations

import functools
import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from likenessguard.pipeline.base import Analyzer, ScanTarget
from likenessguard.pipeline.executors.base import Executor
from likenessguard.pipeline.executors.local import SCAN_GC_THRESHOLD, SerialExecutor
from likenessguard.pipeline.walk import WalkProblem, walk
from likenessguard.pipeline.work import ScanOptions, error_record, scan_target
from likenessguard.store.catalog import Catalog, CatalogWriter, StatTuple, StoredStat
from likenessguard.store.records import Location, ScanRecord

Status = Literal["scanned", "skipped", "failed"]


@dataclass(frozen=True)
class ScanEvent:
    """One record produced by a scan.

    Attributes:
        status: ``scanned`` (read now), ``skipped`` (unchanged: the stored record
            is replayed), ``failed`` (the path could not be walked or the worker
            could not process it; the record says why).
        record: the record's JSON (``ScanRecord.to_json()``, or the stored copy).
        scan_record: the live record when it was read in this run.
    """

    status: Status
    record: Mapping[str, Any]
    scan_record: ScanRecord | None = None

    @property
    def has_errors(self) -> bool:
        return bool(self.record.get("errors"))


@dataclass
class ScanStats:
    """Counts for the end-of-scan summary (files, not records: an archive is one file)."""

    scanned: int = 0
    skipped: int = 0
    errored: int = 0
    records: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return self.scanned + self.skipped + self.errored


def _base_uri(uri: str) -> str:
    # '#' in a path is percent-encoded in file URIs, so the first one starts a member name.
    return uri.split("#", 1)[0]


def _stat_tuple(target: ScanTarget) -> StatTuple | None:
    st = target.stat
    return None if st is None else (st.size, st.mtime_ns, st.inode)


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects that outlive every file.

    A scanning process holds tens of thousands of long-lived objects (SQLAlchemy,
    Rich, numpy, a bank index) and each file allocates thousands of short-lived
    containers (a header's decoded entries, its record). At CPython's default
    threshold those allocations set off collection after collection, and the
    older-generation ones walk every long-lived object again: about a fifth of
    a header-only scan. Freezing what exists when the scan starts takes it out
    of every pass, and a higher young-generation threshold makes passes rarer;
    per-file objects are freed by reference counting either way. Both settings
    are restored afterwards. When something has already frozen objects (another
    scan running in a thread, or the host application), the collector is left
    as it is: that owner restores it, and a second freeze would keep objects
    frozen after the owner expected them back.
    """
    if gc.get_freeze_count():
        yield
        return
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], SCAN_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def chunk_size(hash_files: bool) -> int:
    """Files per process-pool task for a scan.

    Header-only reads take a couple of milliseconds, about what moving one
    task between processes costs, so they travel sixteen at a time; a hashing
    scan reads whole files and keeps one per task so that the last large
    files spread over every worker.
    """
    return 1 if hash_files else 16


def root_prefix(path: str | os.PathLike[str]) -> str:
    """The URI prefix that covers everything a scan of ``path`` can store."""
    p = Path(os.path.abspath(path))
    uri = p.as_uri()
    return uri.rstrip("/") + "/" if p.is_dir() else uri


class Scanner:
    """Runs scans into a catalog (or into nothing, with ``catalog=None``).

    Args:
        catalog: where records go and where unchanged files are looked up.
        hash_files: compute the six hashes; a file catalogued without hashes is
            re-read by a hashing scan even if unchanged.
        analyzers: judges run on every artifact (verdicts, banks).
        executor: where work runs; in-process by default.
        force: re-read every file even if unchanged.
        batch_size, max_delay: catalog commit batching (also the crash-loss bound).
    """

    def __init__(
        self,
        catalog: Catalog | None,
        *,
        hash_files: bool = True,
        analyzers: Sequence[Analyzer] = (),
        executor: Executor | None = None,
        force: bool = False,
        keep_tensors: bool = False,
        batch_size: int = 200,
        max_delay: float = 0.5,
    ) -> None:
        self.catalog = catalog
        self.options = ScanOptions(
            hash_files=hash_files, analyzers=tuple(analyzers), keep_tensors=keep_tensors
        )
        self.executor: Executor = executor or SerialExecutor()
        self.force = force
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.stats = ScanStats()
        self._known: dict[str, list[StoredStat]] = {}
        self._prefixes: list[str] = []
        # Member records of archives beyond the first, waiting to be emitted.
        self._extra: deque[ScanEvent] = deque()

    # -- public ------------------------------------------------------------------

    def scan_paths(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[ScanEvent]:
        """Walk local paths and scan every candidate file under them."""
        paths = list(paths)
        self.preload(root_prefix(p) for p in paths if os.path.exists(p))
        return self.run(walk(paths))

    def scan(self, targets: Iterable[ScanTarget]) -> Iterator[ScanRecord]:
        """Scan targets and yield the records read in this run (skipped ones are not re-yielded)."""
        for event in self.run(targets):
            if event.scan_record is not None:
                yield event.scan_record

    def preload(self, prefixes: Iterable[str]) -> None:
        """Load stored stat keys under these URI prefixes in one query each.

        Targets under a preloaded prefix are checked from memory; others cost
        one query each.
        """
        if self.catalog is None:
            return
        for prefix in prefixes:
            if any(prefix.startswith(p) for p in self._prefixes):
                continue
            self._prefixes.append(prefix)
            for uri, stored in self.catalog.stats_under(prefix).items():
                self._known.setdefault(_base_uri(uri), []).append(stored)

    def run(self, targets: Iterable[ScanTarget | WalkProblem]) -> Iterator[ScanEvent]:
        """Scan targets (and record walk problems), yielding one event per record."""
        self.stats = ScanStats()
        writer = (
            self.catalog.writer(batch_size=self.batch_size, max_delay=self.max_delay)
            if self.catalog is not None
            else None
        )
        side: deque[ScanEvent | tuple[str, ScanTarget, list[StoredStat]]] = deque()
        in_flight: dict[str, list[StoredStat]] = {}
        # A partial of a module-level function: picklable, shipped once per worker.
        fn = functools.partial(scan_target, self.options)

        def to_scan() -> Iterator[ScanTarget]:
            # Runs inside the executor's pull loop: skipped files and problems
            # go to ``side`` and are emitted by the main loop between outcomes.
            for item in targets:
                if isinstance(item, WalkProblem):
                    side.append(self._problem(item, writer))
                    continue
                stored = self._stored(item)
                if self._unchanged(item, stored):
                    side.append(("skipped", item, stored))
                    continue
                in_flight[item.uri] = stored
                yield item

        try:
            with fewer_gc_passes():
                yield from self._outcomes(fn, to_scan(), side, in_flight, writer)
        finally:
            if writer is not None:
                writer.close()

    def _outcomes(
        self,
        fn: Callable[[ScanTarget], tuple[ScanRecord, ...]],
        targets: Iterator[ScanTarget],
        side: deque[Any],
        in_flight: dict[str, list[StoredStat]],
        writer: CatalogWriter | None,
    ) -> Iterator[ScanEvent]:
        for outcome in self.executor.map_unordered(fn, targets):
            yield from self._drain(side)
            target = outcome.item
            stored = in_flight.pop(target.uri, [])
            if outcome.error is not None or outcome.result is None:
                message = f"scanning {target.display} failed: {outcome.error}; it was skipped"
                yield self._emit([error_record(target, message)], target, stored, writer, False)
            else:
                yield self._emit(list(outcome.result), target, stored, writer, True)
        yield from self._drain(side)

    # -- internals ---------------------------------------------------------------

    def _stored(self, target: ScanTarget) -> list[StoredStat]:
        if self.catalog is None:
            return []
        if any(target.uri.startswith(p) for p in self._prefixes):
            return self._known.get(target.uri, [])
        rows = self.catalog.stats_under(target.uri)
        return [s for uri, s in rows.items() if _base_uri(uri) == target.uri]

    def _unchanged(self, target: ScanTarget, stored: list[StoredStat]) -> bool:
        if self.force or not stored or target.stat is None:
            return False
        st = target.stat
        return all(
            st.matches(s.size, s.mtime_ns, s.inode) and (s.hashed or not self.options.hash_files)
            for s in stored
        )

    def _problem(self, problem: WalkProblem, writer: CatalogWriter | None) -> ScanEvent:
        if problem.missing_root:
            self.stats.missing.append(problem.path)
            return ScanEvent("failed", {"path": problem.path, "errors": [problem.message]})
        uri = problem.uri
        record = ScanRecord(
            path=problem.path, size=0, location=Location(uri=uri), errors=(problem.message,)
        )
        self.stats.errored += 1
        self.stats.records += 1
        data = record.to_json()
        if writer is not None:
            writer.add(data, None)
        return ScanEvent("failed", data, record)

    def _emit(
        self,
        records: list[ScanRecord],
        target: ScanTarget,
        stored: list[StoredStat],
        writer: CatalogWriter | None,
        worked: bool,
    ) -> ScanEvent:
        # The first record is returned; an archive's other members wait in
        # ``_extra`` and go out with the next drain.
        datas = [r.to_json() for r in records]
        if writer is not None:
            new_uris = {r.location.uri for r in records}
            gone = [s.uri for s in stored if s.uri not in new_uris]
            # A worker failure is not the file's fault: store no stat key, so
            # the next scan retries it even if the file is unchanged.
            stat = _stat_tuple(target) if worked else None
            for i, data in enumerate(datas):
                writer.add(data, stat, delete_uris=gone if i == 0 else ())
            # Keep the in-memory view in step with what was written, so a
            # scanner that runs again sees this scan's rows, not the preload's.
            size, mtime_ns, inode = stat if stat is not None else (target.size, None, None)
            self._known[target.uri] = [
                StoredStat(
                    uri=r.location.uri,
                    size=size,
                    mtime_ns=mtime_ns,
                    inode=inode,
                    hashed=r.hashes is not None,
                    error_count=len(d["errors"]),
                )
                for r, d in zip(records, datas, strict=True)
            ]
        errored = any(d["errors"] for d in datas)
        if errored:
            self.stats.errored += 1
        else:
            self.stats.scanned += 1
        self.stats.records += len(datas)
        status: Status = "scanned" if worked else "failed"
        events = [ScanEvent(status, d, r) for d, r in zip(datas, records, strict=True)]
        self._extra.extend(events[1:])
        return events[0]

    def _drain(self, side: deque[Any]) -> Iterator[ScanEvent]:
        while self._extra:
            yield self._extra.popleft()
        skipped: list[tuple[ScanTarget, list[StoredStat]]] = []
        while side:
            item = side.popleft()
            if isinstance(item, ScanEvent):
                yield from self._replay(skipped)
                skipped = []
                yield item
            else:
                skipped.append((item[1], item[2]))
                if len(skipped) >= 500:
                    yield from self._replay(skipped)
                    skipped = []
        yield from self._replay(skipped)

    def _replay(self, skipped: list[tuple[ScanTarget, list[StoredStat]]]) -> Iterator[ScanEvent]:
        """Emit stored records of unchanged files (batch-loaded), so reports stay complete."""
        if not skipped or self.catalog is None:
            return
        uris = [s.uri for _, stored in skipped for s in stored]
        records = self.catalog.records(uris)
        for _target, stored in skipped:
            self.stats.skipped += 1
            for s in stored:
                data = records.get(s.uri)
                if data is not None:
                    self.stats.records += 1
                    yield ScanEvent("skipped", data)
