"""The catalog repository: every scanned artifact, one row per location URI.

Everything that reads or writes the ``artifacts`` table goes through here, so
the upsert rules live in one place:

- a row is keyed by its ``uri`` and is never duplicated: writes are
  ``INSERT .. ON CONFLICT (uri) DO UPDATE`` on SQLite and PostgreSQL alike;
- ``first_seen`` is kept from the first scan, ``last_scanned`` moves;
- writes are batched into transactions (:class:`CatalogWriter`), so a scan
  killed mid-way loses at most its last uncommitted batch, and since a file is
  skipped on re-scan only when its row exists with the same stat key, the
  lost files are simply scanned again: the catalog ends as an uninterrupted run.

Rows hold the record's JSON (``record``, see docs/records.md) and the columns
queries filter on. ``severity`` is the *effective* severity
(:func:`record_severity`): the verdict's, raised by reader findings
(``unsafe-pickle`` is critical) and by positive bank matches (high).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from likenessguard.errors import StoreError
from likenessguard.hashing.base import HASH_NAMES
from likenessguard.hashing.fingerprint import Fingerprint
from likenessguard.store.db import Base, open_catalog, safe_url
from likenessguard.store.models.banks import BankEntryRow, FingerprintRow, MatchRow
from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.records import ScanRecord
from likenessguard.verdicts.base import Severity

# (size, mtime_ns, inode) as the scanner saw the file; None for "no stat key".
StatTuple = tuple[int, int | None, int | None]

# Reader findings that outrank their declared severity: running the file
# would run an attacker's code, which is worse than anything a verdict says.
CRITICAL_FINDINGS: frozenset[str] = frozenset({"unsafe-pickle"})

# Columns an upsert rewrites; ``id`` and ``first_seen`` are kept from the first scan.
_UPDATED = (
    "path",
    "hub",
    "repo",
    "revision",
    "url",
    "size",
    "mtime_ns",
    "inode",
    "format",
    "kind",
    "base_family",
    "key_scheme",
    *HASH_NAMES,
    "severity",
    "score",
    "subject",
    "error_count",
    "record",
    "last_scanned",
)


def record_severity(record: Mapping[str, Any]) -> Severity:
    """The effective severity of a record's JSON: what ``--fail-on`` and the queue rank by.

    The verdict's severity, raised to critical by an ``unsafe-pickle`` finding,
    to a finding's own declared severity, and to high by any positive (non-allow-bank)
    bank match. Errors alone do not raise it: a broken file is not a finding.
    """
    sev = Severity.NONE
    verdict = record.get("verdict")
    if isinstance(verdict, Mapping) and verdict.get("severity"):
        sev = Severity.parse(str(verdict["severity"]))
    for finding in record.get("findings") or ():
        code = str(finding.get("code", ""))
        if code in CRITICAL_FINDINGS:
            return Severity.CRITICAL
        try:
            sev = max(sev, Severity.parse(str(finding.get("severity", "high"))))
        except ValueError:
            sev = max(sev, Severity.HIGH)
    if any(not m.get("negative") for m in record.get("matches") or ()):
        sev = max(sev, Severity.HIGH)
    return sev


def record_uri(record: Mapping[str, Any]) -> str:
    """The catalog key of a record's JSON (its ``location.uri``)."""
    location = record.get("location") or {}
    uri = location.get("uri") if isinstance(location, Mapping) else None
    if not uri:
        raise StoreError(
            f"record for {record.get('path')!r} has no location.uri; it can't be stored"
        )
    return str(uri)


def _score(record: Mapping[str, Any]) -> float:
    verdict = record.get("verdict")
    if not isinstance(verdict, Mapping):
        return 0.0
    labels = verdict.get("labels") or {}
    return max(
        (float(v.get("score", 0.0)) for v in labels.values() if v.get("fired")),
        default=0.0,
    )


def _row_values(record: Mapping[str, Any], stat: StatTuple | None, now: datetime) -> dict[str, Any]:
    location = record.get("location") or {}
    hashes = record.get("hashes") or {}
    verdict = record.get("verdict") or {}
    size, mtime_ns, inode = stat if stat is not None else (int(record.get("size") or 0), None, None)
    values: dict[str, Any] = {
        "uri": record_uri(record),
        "path": str(record.get("path") or ""),
        "hub": str(location.get("hub") or "local"),
        "repo": location.get("repo"),
        "revision": location.get("revision"),
        "url": location.get("url"),
        "size": int(size),
        "mtime_ns": mtime_ns,
        "inode": inode,
        "format": record.get("format"),
        "kind": record.get("kind"),
        "base_family": record.get("base_family"),
        "key_scheme": record.get("key_scheme"),
        "severity": int(record_severity(record)),
        "score": _score(record),
        "subject": verdict.get("subject") if isinstance(verdict, Mapping) else None,
        "error_count": len(record.get("errors") or ()),
        "record": dict(record),
        "first_seen": now,
        "last_scanned": now,
    }
    # A header-only hub read has no hashes of its own, but the hub's LFS sha256
    # is as good for lookups (find_by_hash, the guard, takedown searches).
    known = record.get("known_hashes")
    for name in HASH_NAMES:
        value = hashes.get(name) if isinstance(hashes, Mapping) else None
        if value is None and isinstance(known, Mapping):
            value = known.get(name)
        values[name] = value
    return values


def _upsert_on(conn: Connection, table: Table, key: str, values: list[dict[str, Any]]) -> None:
    dialect = conn.dialect.name
    columns = [c for c in values[0] if c != key]
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        conn.execute(
            pg.on_conflict_do_update(
                index_elements=[key], set_={c: pg.excluded[c] for c in columns}
            ),
            values,
        )
    else:
        lite = sqlite.insert(table)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=[key], set_={c: lite.excluded[c] for c in columns}
            ),
            values,
        )


def _write_derived(conn: Connection, rows: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
    """Write what the records just upserted derive into other tables, in their transaction.

    The review app filters by bank on the ``matches`` table and finds similar
    copies in the ``fingerprints`` table. Both used to be filled by a separate
    pass after the scan had committed its records, so a kill in between left
    records whose matches and fingerprints were never indexed, and the rerun
    took the files as unchanged. Written here, a record and what it derives
    commit together or not at all.

    A record's matches replace the artifact's match rows (a match of a bank
    entry deleted meanwhile is left in the record alone); its fingerprint
    replaces the stored one, and a record without one drops it: a fingerprint
    of weights the file no longer holds would link copies that are not.
    """
    art, matches, fps = _table(ArtifactRow), _table(MatchRow), _table(FingerprintRow)
    uris = list(rows)
    for start in range(0, len(uris), 500):
        chunk = uris[start : start + 500]
        ids: dict[str, int] = {
            str(u): int(i)
            for u, i in conn.execute(select(art.c.uri, art.c.id).where(art.c.uri.in_(chunk)))
        }
        wanted: list[dict[str, Any]] = []
        vectors: dict[int, Fingerprint] = {}
        for uri in chunk:
            aid = ids[uri]
            record = rows[uri]["record"]
            for m in record.get("matches") or ():
                entry_id = (m.get("entry") or {}).get("id")
                if not m.get("bank") or not str(entry_id).isdigit():
                    # Only entries of a stored bank have row ids; a custom
                    # analyzer's match stays in the record alone.
                    continue
                wanted.append(
                    {
                        "artifact_id": aid,
                        "bank": str(m["bank"]),
                        "entry_id": int(str(entry_id)),
                        "method": str(m.get("method") or ""),
                        "similarity": float(m.get("similarity") or 0.0),
                        "negative": bool(m.get("negative")),
                        "matched_at": now,
                    }
                )
            text = record.get("fingerprint")
            if isinstance(text, str):
                with suppress(ValueError):  # rematch reports unusable stored fingerprints
                    vectors[aid] = Fingerprint.from_text(text)
        conn.execute(delete(matches).where(matches.c.artifact_id.in_(list(ids.values()))))
        if wanted:
            live = set(
                conn.scalars(
                    select(BankEntryRow.id).where(
                        BankEntryRow.id.in_({w["entry_id"] for w in wanted})
                    )
                )
            )
            seen: set[tuple[int, int]] = set()
            kept = []
            for w in wanted:
                key = (w["artifact_id"], w["entry_id"])
                if w["entry_id"] in live and key not in seen:
                    seen.add(key)
                    kept.append(w)
            if kept:
                conn.execute(matches.insert(), kept)
        gone = [aid for aid in ids.values() if aid not in vectors]
        if gone:
            conn.execute(delete(fps).where(fps.c.artifact_id.in_(gone)))
        if vectors:
            stored = dict(
                conn.execute(
                    select(fps.c.artifact_id, fps.c.vector).where(
                        fps.c.artifact_id.in_(list(vectors))
                    )
                ).all()
            )
            changed = [
                {
                    "artifact_id": aid,
                    "kind": fp.kind,
                    "modules": fp.modules,
                    "vector": fp.to_bytes(),
                    "computed_at": now,
                }
                for aid, fp in vectors.items()
                if stored.get(aid) != fp.to_bytes()
            ]
            if changed:
                _upsert_on(conn, fps, "artifact_id", changed)


@dataclass(frozen=True, slots=True)
class StoredStat:
    """What the catalog remembers about a row for incremental re-scans."""

    uri: str
    size: int
    mtime_ns: int | None
    inode: int | None
    hashed: bool
    error_count: int


def _table(model: type[Base]) -> Table:
    # Declarative models expose __table__ as a FromClause to type checkers.
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Catalog:
    """Repository functions over the ``artifacts`` table.

    Example::

        catalog = Catalog.open("sqlite:///catalog.db")
        with catalog.writer() as w:
            w.add(record.to_json(), (size, mtime_ns, inode))
        catalog.count_by_severity()
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Catalog:
        """Open (creating and migrating) the catalog at ``url``."""
        return cls(open_catalog(url))

    @property
    def url(self) -> str:
        """The catalog URL with any password hidden, for messages."""
        return safe_url(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _fail(self, doing: str, exc: SQLAlchemyError) -> StoreError:
        orig = getattr(exc, "orig", None) or exc
        reason = " ".join(str(orig).split())  # driver messages span lines; ours are one line
        return StoreError(f"couldn't {doing} in the catalog at {self.url}: {reason}")

    # -- writing ---------------------------------------------------------------

    def upsert(
        self,
        entries: Sequence[tuple[ScanRecord | Mapping[str, Any], StatTuple | None]],
        *,
        delete_uris: Iterable[str] = (),
        connection: Connection | None = None,
    ) -> int:
        """Insert or update records by ``uri`` in one transaction; return how many were written.

        Args:
            entries: ``(record or its JSON, (size, mtime_ns, inode) or None)`` pairs.
                A ``None`` stat stores the record's size and no change key, so the
                next scan re-reads it.
            delete_uris: rows to remove in the same transaction (archive members
                that disappeared from a re-scanned file).
            connection: an open connection to reuse (not in a transaction); by
                default one is opened for this call.
        """
        now = datetime.now(UTC)
        rows: dict[str, dict[str, Any]] = {}
        for record, stat in entries:
            data = record.to_json() if isinstance(record, ScanRecord) else record
            values = _row_values(data, stat, now)
            rows[values["uri"]] = values  # a URI twice in a batch: the last one wins
        doomed = [u for u in delete_uris if u not in rows]
        if not rows and not doomed:
            return 0
        table = _table(ArtifactRow)
        dialect = self.engine.dialect.name
        try:
            with ExitStack() as stack:
                conn = connection or stack.enter_context(self.engine.connect())
                stack.enter_context(conn.begin())
                if doomed:
                    conn.execute(delete(table).where(table.c.uri.in_(doomed)))
                if rows:
                    if dialect == "postgresql":
                        pg = postgresql.insert(table)
                        stmt: Any = pg.on_conflict_do_update(
                            index_elements=["uri"], set_={c: pg.excluded[c] for c in _UPDATED}
                        )
                    elif dialect == "sqlite":
                        lite = sqlite.insert(table)
                        stmt = lite.on_conflict_do_update(
                            index_elements=["uri"], set_={c: lite.excluded[c] for c in _UPDATED}
                        )
                    else:
                        raise StoreError(
                            f"the catalog supports SQLite and PostgreSQL, not {dialect}: "
                            "use a sqlite:/// or postgresql:// URL"
                        )
                    conn.execute(stmt, list(rows.values()))
                    _write_derived(conn, rows, now)
        except SQLAlchemyError as exc:
            raise self._fail("write records", exc) from exc
        return len(rows)

    def writer(self, *, batch_size: int = 200, max_delay: float = 0.5) -> CatalogWriter:
        """A batching writer: commits every ``batch_size`` records or ``max_delay`` seconds."""
        return CatalogWriter(self, batch_size=batch_size, max_delay=max_delay)

    def delete(self, uris: Iterable[str]) -> int:
        """Remove the rows with these URIs; return how many were removed."""
        uris = list(uris)
        removed = 0
        try:
            with self.engine.begin() as conn:
                for i in range(0, len(uris), 500):
                    res = conn.execute(
                        delete(ArtifactRow).where(ArtifactRow.uri.in_(uris[i : i + 500]))
                    )
                    removed += res.rowcount or 0
        except SQLAlchemyError as exc:
            raise self._fail("delete records", exc) from exc
        return removed

    def delete_missing(self, prefix: str, seen: Iterable[str]) -> int:
        """Remove rows under ``prefix`` whose URI is not in ``seen`` (files gone from disk).

        Returns the number of rows removed.
        """
        keep = set(seen)
        gone = [uri for uri in self.stats_under(prefix) if uri not in keep]
        return self.delete(gone)

    # -- reading ---------------------------------------------------------------

    def get(self, uri: str) -> dict[str, Any] | None:
        """The stored record JSON for ``uri``, or ``None``."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(ArtifactRow.record).where(ArtifactRow.uri == uri)).first()
        except SQLAlchemyError as exc:
            raise self._fail("read a record", exc) from exc
        return dict(row[0]) if row else None

    def records(self, uris: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored record JSON for many URIs at once (missing ones are absent)."""
        uris = list(uris)
        out: dict[str, dict[str, Any]] = {}
        try:
            with self.engine.connect() as conn:
                for i in range(0, len(uris), 500):
                    chunk = uris[i : i + 500]
                    for uri, record in conn.execute(
                        select(ArtifactRow.uri, ArtifactRow.record).where(
                            ArtifactRow.uri.in_(chunk)
                        )
                    ):
                        out[uri] = dict(record)
        except SQLAlchemyError as exc:
            raise self._fail("read records", exc) from exc
        return out

    def stats_under(self, prefix: str) -> dict[str, StoredStat]:
        """Stat keys of every row whose URI starts with ``prefix``, in one query.

        The scanner loads these once per scanned root and decides from memory
        which files are unchanged, instead of one query per file.
        """
        c = ArtifactRow
        query = select(
            c.uri, c.size, c.mtime_ns, c.inode, c.sha256.is_not(None), c.error_count
        ).where(c.uri.like(_escape_like(prefix) + "%", escape="\\"))
        try:
            with self.engine.connect() as conn:
                return {
                    row[0]: StoredStat(row[0], row[1], row[2], row[3], bool(row[4]), row[5])
                    for row in conn.execute(query)
                }
        except SQLAlchemyError as exc:
            raise self._fail("read stat keys", exc) from exc

    def unchanged(self, uri: str, size: int, mtime_ns: int | None, inode: int | None) -> bool:
        """True when ``uri`` is stored with exactly this (size, mtime_ns, inode)."""
        if mtime_ns is None or inode is None:
            return False
        stored = self.stats_under(uri).get(uri)
        return stored is not None and (stored.size, stored.mtime_ns, stored.inode) == (
            size,
            mtime_ns,
            inode,
        )

    def iter_records(
        self,
        *,
        min_severity: Severity | None = None,
        hub: str | None = None,
        kind: str | None = None,
        base_family: str | None = None,
        uri_prefix: str | None = None,
        with_errors: bool | None = None,
        order: str = "queue",
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream stored records matching every given filter.

        Args:
            min_severity: only records whose effective severity is at least this.
            with_errors: True for only errored records, False for only clean ones.
            order: ``queue`` (most severe, highest score, oldest first) or ``uri``.
            limit: at most this many records.
        """
        c = ArtifactRow
        query = select(c.record)
        if min_severity is not None:
            query = query.where(c.severity >= int(min_severity))
        if hub is not None:
            query = query.where(c.hub == hub)
        if kind is not None:
            query = query.where(c.kind == kind)
        if base_family is not None:
            query = query.where(c.base_family == base_family)
        if uri_prefix is not None:
            query = query.where(c.uri.like(_escape_like(uri_prefix) + "%", escape="\\"))
        if with_errors is True:
            query = query.where(c.error_count > 0)
        elif with_errors is False:
            query = query.where(c.error_count == 0)
        if order == "queue":
            query = query.order_by(c.severity.desc(), c.score.desc(), c.first_seen, c.uri)
        elif order == "uri":
            query = query.order_by(c.uri)
        else:
            raise ValueError(f"unknown order {order!r}: use 'queue' or 'uri'")
        if limit is not None:
            query = query.limit(limit)
        try:
            with self.engine.connect() as conn:
                for (record,) in conn.execute(query.execution_options(yield_per=500)):
                    yield dict(record)
        except SQLAlchemyError as exc:
            raise self._fail("read records", exc) from exc

    def count(self) -> int:
        """How many rows the catalog holds."""
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(ArtifactRow)).scalar_one())
        except SQLAlchemyError as exc:
            raise self._fail("count records", exc) from exc

    def count_by_severity(self) -> dict[Severity, int]:
        """Rows per effective severity; every severity is present (0 when none)."""
        out = dict.fromkeys(Severity, 0)
        try:
            with self.engine.connect() as conn:
                for sev, n in conn.execute(
                    select(ArtifactRow.severity, func.count()).group_by(ArtifactRow.severity)
                ):
                    out[Severity(int(sev))] = int(n)
        except SQLAlchemyError as exc:
            raise self._fail("count records", exc) from exc
        return out

    def find_by_hash(self, name: str, value: str) -> list[dict[str, Any]]:
        """Records whose hash ``name`` equals ``value`` (case-insensitive hex).

        ``autov3`` also accepts the 12-hex prefix Civitai and A1111 show;
        ``crc32`` also accepts the byte-reversed spelling other tools print.
        """
        if name not in HASH_NAMES:
            raise ValueError(f"unknown hash {name!r}: use one of {', '.join(HASH_NAMES)}")
        value = value.strip().lower()
        column = getattr(ArtifactRow, name)
        if name == "autov3" and len(value) < 64:
            cond = column.like(_escape_like(value) + "%", escape="\\")
        elif name == "crc32" and len(value) == 8:
            reversed_hex = bytes.fromhex(value)[::-1].hex() if _is_hex(value) else value
            cond = or_(column == value, column == reversed_hex)
        else:
            cond = column == value
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(ArtifactRow.record).where(cond).order_by(ArtifactRow.first_seen)
                )
                return [dict(r[0]) for r in rows]
        except SQLAlchemyError as exc:
            raise self._fail("look up a hash", exc) from exc


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


class CatalogWriter:
    """Buffers records and commits them in batches (count or age, whichever comes first).

    Batching is what makes catalog writes cheap (one transaction per few hundred
    records, not per file) and it is also the crash-safety unit: a SIGKILL loses
    at most the records added since the last commit.
    """

    def __init__(self, catalog: Catalog, *, batch_size: int = 200, max_delay: float = 0.5) -> None:
        self.catalog = catalog
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.written = 0
        self._pending: list[tuple[Mapping[str, Any], StatTuple | None]] = []
        self._delete: list[str] = []
        self._oldest: float | None = None
        # One connection for the writer's life: with SQLite every connection
        # close checkpoints the WAL (an fsync), which per batch cost more than
        # the batch itself when the disk was busy.
        self._conn: Connection | None = None

    def add(
        self,
        record: ScanRecord | Mapping[str, Any],
        stat: StatTuple | None,
        *,
        delete_uris: Iterable[str] = (),
    ) -> None:
        """Queue one record (and rows to delete with it); commit if the batch is due."""
        data = record.to_json() if isinstance(record, ScanRecord) else record
        self._pending.append((data, stat))
        self._delete.extend(delete_uris)
        if self._oldest is None:
            self._oldest = time.monotonic()
        self.maybe_flush()

    def maybe_flush(self) -> None:
        """Commit when the batch is full or its oldest record waited ``max_delay``."""
        if self._oldest is None:
            return
        if (
            len(self._pending) >= self.batch_size
            or time.monotonic() - self._oldest >= self.max_delay
        ):
            self.flush()

    def flush(self) -> None:
        """Commit everything queued, in one transaction."""
        if not self._pending and not self._delete:
            return
        pending, doomed = self._pending, self._delete
        self._pending, self._delete, self._oldest = [], [], None
        if self._conn is None:
            try:
                self._conn = self.catalog.engine.connect()
            except SQLAlchemyError as exc:
                raise self.catalog._fail("write records", exc) from exc
        self.written += self.catalog.upsert(pending, delete_uris=doomed, connection=self._conn)

    def close(self) -> None:
        """Commit what is queued and release the connection."""
        try:
            self.flush()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> CatalogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Commit what was scanned even when the scan is interrupted (Ctrl-C):
        # those records are complete; only a hard kill loses the last batch.
        self.close()
