"""Persisting banks, their entries, the matches they produce and catalog fingerprints.

Everything the ``bank``, ``match``, ``rematch`` and ``mirrors`` commands and
the web app need from the database goes through these functions, so the
rules live in one place: bank names are unique, duplicate entries are merged
(never doubled), a match row exists once per (artifact, entry), and a rematch
replaces an artifact's matches against the banks it covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Integer, cast, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from likenessguard.banks.base import HASH_LENGTHS, Bank, BankEntry, Match, normalize_hash
from likenessguard.banks.io import merge_duplicates
from likenessguard.errors import BankError, StoreError
from likenessguard.hashing.base import HASH_NAMES
from likenessguard.hashing.fingerprint import Fingerprint
from likenessguard.store.catalog import record_severity
from likenessguard.store.db import safe_url
from likenessguard.store.models.banks import BankEntryRow, BankRow, FingerprintRow, MatchRow
from likenessguard.store.models.core import ArtifactRow

#: The engine type, re-exported so callers outside ``store`` never import SQLAlchemy.
CatalogEngine = Engine

BANK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_LIMITS = {"name": 512, "source_url": 2048, "subject": 256, "added_by": 256}


@dataclass(frozen=True, slots=True)
class BankSummary:
    """One line of ``bank list``."""

    name: str
    negative: bool
    description: str
    entries: int
    disabled: int
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "negative": self.negative,
            "description": self.description,
            "entries": self.entries,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class AddResult:
    """What adding entries did: new entry ids, and how many inputs merged into existing ones."""

    added: tuple[int, ...]
    merged: int
    updated: tuple[int, ...] = ()

    @property
    def touched(self) -> tuple[int, ...]:
        return self.added + self.updated


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """What matching needs of one catalog artifact."""

    id: int
    uri: str
    path: str
    hub: str
    repo: str | None
    url: str | None
    first_seen: datetime
    hashes: Mapping[str, str | None]
    fingerprint: str | None
    format: str | None = None
    errors: int = 0

    @property
    def signal_hashes(self) -> dict[str, str | None]:
        """The hashes that identify this artifact's weights (see :func:`without_bogus_autov3`)."""
        return without_bogus_autov3(self.hashes, self.format, ok=self.errors == 0)


def autov3_applies(format: str | None, *, ok: bool) -> bool:
    """Whether an artifact's AutoV3 says anything about its weights.

    AutoV3 hashes the bytes after the safetensors header whose length the
    first 8 bytes declare. That is the tensor data only when the header
    parsed: for a broken file (bogus length, invalid JSON, truncated data) or a
    file that is not safetensors at all it hashes an arbitrary tail, and two
    unrelated broken uploads can share it (docs/hashes.md).
    """
    return ok and format == "safetensors"


def without_bogus_autov3(
    hashes: Mapping[str, str | None], format: str | None, *, ok: bool
) -> dict[str, str | None]:
    """``hashes`` for matching and clustering: AutoV3 dropped where it does not apply."""
    out = dict(hashes)
    if out.get("autov3") and not autov3_applies(format, ok=ok):
        out["autov3"] = None
    return out


def _fail(engine: Engine, doing: str, exc: SQLAlchemyError) -> StoreError:
    orig = getattr(exc, "orig", None) or exc
    return StoreError(f"couldn't {doing} in the catalog at {safe_url(engine)}: {orig}")


def _check_name(name: str) -> str:
    if not BANK_NAME.match(name):
        raise BankError(
            f"bank name {name!r} is not allowed: use 1-128 letters, digits, '.', '_' or '-'"
        )
    return name


def _bank_row(session: Session, name: str) -> BankRow:
    row = session.scalar(select(BankRow).where(BankRow.name == name))
    if row is None:
        known = ", ".join(session.scalars(select(BankRow.name).order_by(BankRow.name))) or "none"
        raise BankError(
            f"no bank named {name!r} (banks: {known}); create it with 'likenessguard bank create'"
        )
    return row


def _entry(row: BankEntryRow) -> BankEntry:
    added_at = row.added_at
    if added_at is not None and added_at.tzinfo is None:
        added_at = added_at.replace(tzinfo=UTC)  # SQLite drops the zone
    return BankEntry(
        id=row.id,
        name=row.name,
        sha256=row.sha256,
        autov1=row.autov1,
        autov2=row.autov2,
        autov3=row.autov3,
        blake3=row.blake3,
        crc32=row.crc32,
        fingerprint=row.fingerprint,
        source_url=row.source_url,
        reason=row.reason,
        subject=row.subject,
        added_by=row.added_by,
        added_at=added_at,
        disabled=row.disabled,
    )


def _clip(entry: BankEntry) -> BankEntry:
    changes: dict[str, Any] = {}
    for field_name, limit in _LIMITS.items():
        value = getattr(entry, field_name)
        if value is not None and len(value) > limit:
            changes[field_name] = value[:limit]
    return replace(entry, **changes) if changes else entry


def _fp_kind(text: str | None) -> str | None:
    return text.split(":", 2)[1] if text and text.count(":") >= 3 else None


# -- banks ------------------------------------------------------------------------


def create_bank(
    engine: Engine, name: str, *, negative: bool = False, description: str = ""
) -> Bank:
    """Create an empty bank; ``BankError`` if the name is taken or not allowed."""
    _check_name(name)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                BankRow(
                    name=name,
                    negative=negative,
                    description=description,
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        raise BankError(f"a bank named {name!r} already exists") from None
    except SQLAlchemyError as exc:
        raise _fail(engine, "create a bank", exc) from exc
    return Bank(name=name, negative=negative, description=description)


def list_banks(engine: Engine) -> list[BankSummary]:
    """Every bank with its entry counts, by name."""
    try:
        with Session(engine) as session:
            counts = {
                bank_id: (int(total), int(off or 0))
                for bank_id, total, off in session.execute(
                    select(
                        BankEntryRow.bank_id,
                        func.count(),
                        func.sum(cast(BankEntryRow.disabled, Integer)),
                    ).group_by(BankEntryRow.bank_id)
                )
            }
            return [
                BankSummary(
                    name=row.name,
                    negative=row.negative,
                    description=row.description,
                    entries=counts.get(row.id, (0, 0))[0],
                    disabled=counts.get(row.id, (0, 0))[1],
                    created_at=row.created_at,
                )
                for row in session.scalars(select(BankRow).order_by(BankRow.name))
            ]
    except SQLAlchemyError as exc:
        raise _fail(engine, "list banks", exc) from exc


def get_bank(engine: Engine, name: str, *, entries: bool = True) -> Bank:
    """A bank with (by default) all its entries, in insertion order."""
    try:
        with Session(engine) as session:
            row = _bank_row(session, name)
            items: tuple[BankEntry, ...] = ()
            if entries:
                items = tuple(
                    _entry(e)
                    for e in session.scalars(
                        select(BankEntryRow)
                        .where(BankEntryRow.bank_id == row.id)
                        .order_by(BankEntryRow.id)
                    )
                )
            return Bank(
                name=row.name, negative=row.negative, description=row.description, entries=items
            )
    except SQLAlchemyError as exc:
        raise _fail(engine, "read a bank", exc) from exc


def load_banks(engine: Engine, names: Sequence[str] | None = None) -> list[Bank]:
    """The named banks (all banks when ``names`` is None) with their entries."""
    if names is None:
        names = [b.name for b in list_banks(engine)]
    return [get_bank(engine, n) for n in dict.fromkeys(names)]


def delete_bank(engine: Engine, name: str) -> int:
    """Delete a bank, its entries and their matches; return how many entries went."""
    try:
        with Session(engine) as session, session.begin():
            row = _bank_row(session, name)
            ids = select(BankEntryRow.id).where(BankEntryRow.bank_id == row.id)
            session.execute(delete(MatchRow).where(MatchRow.entry_id.in_(ids)))
            n = session.execute(delete(BankEntryRow).where(BankEntryRow.bank_id == row.id))
            session.delete(row)
            return int(getattr(n, "rowcount", 0) or 0)
    except SQLAlchemyError as exc:
        raise _fail(engine, "delete a bank", exc) from exc


# -- entries ----------------------------------------------------------------------


def add_entries(
    engine: Engine,
    name: str,
    entries: Iterable[BankEntry],
    *,
    added_by: str | None = None,
) -> AddResult:
    """Add entries to a bank in one transaction, merging duplicates.

    An entry that is the same model as one already in the bank (same sha256,
    blake3, full autov3 or fingerprint) fills that entry's missing fields
    instead of adding a row; duplicates within ``entries`` merge first.
    """
    now = datetime.now(UTC)
    merged_input, merged = merge_duplicates(_clip(e) for e in entries)
    added: list[int] = []
    updated: list[int] = []
    try:
        with Session(engine) as session, session.begin():
            bank = _bank_row(session, name)
            for entry in merged_input:
                existing = _find_same(session, bank.id, entry)
                if existing is not None:
                    merged += 1
                    current = _entry(existing)
                    new = current.merged(entry)
                    if new != current:
                        _write_entry(existing, new)
                        updated.append(existing.id)
                    continue
                row = BankEntryRow(bank_id=bank.id, added_at=entry.added_at or now, disabled=False)
                _write_entry(row, replace(entry, added_by=entry.added_by or added_by))
                row.added_at = entry.added_at or now
                session.add(row)
                session.flush()
                added.append(row.id)
    except SQLAlchemyError as exc:
        raise _fail(engine, "add bank entries", exc) from exc
    return AddResult(added=tuple(added), merged=merged, updated=tuple(updated))


def _write_entry(row: BankEntryRow, entry: BankEntry) -> None:
    for f in ("name", *HASH_NAMES, "fingerprint", "source_url", "reason", "subject", "added_by"):
        setattr(row, f, getattr(entry, f))
    row.fp_kind = _fp_kind(entry.fingerprint)
    row.disabled = entry.disabled
    if entry.added_at is not None:
        row.added_at = entry.added_at


def _find_same(session: Session, bank_id: int, entry: BankEntry) -> BankEntryRow | None:
    conds = []
    if entry.sha256:
        conds.append(BankEntryRow.sha256 == entry.sha256)
    if entry.blake3:
        conds.append(BankEntryRow.blake3 == entry.blake3)
    if entry.autov3 and len(entry.autov3) == 64:
        conds.append(BankEntryRow.autov3 == entry.autov3)
    if entry.fingerprint:
        conds.append(BankEntryRow.fingerprint == entry.fingerprint)
    if not conds:
        return None
    return session.scalar(
        select(BankEntryRow)
        .where(BankEntryRow.bank_id == bank_id, or_(*conds))
        .order_by(BankEntryRow.id)
        .limit(1)
    )


def set_disabled(engine: Engine, name: str, ref: str, disabled: bool) -> list[int]:
    """Disable (or enable) the entries of a bank that ``ref`` names: an entry id or any hash.

    Returns:
        The ids changed. ``BankError`` when nothing in the bank matches ``ref``.
    """
    ref = ref.strip()
    try:
        with Session(engine) as session, session.begin():
            bank = _bank_row(session, name)
            conds: list[Any] = []
            if ref.isdigit() and len(ref) < 8:
                conds.append(BankEntryRow.id == int(ref))
            for hash_name in HASH_LENGTHS:
                try:
                    value = normalize_hash(hash_name, ref)
                except ValueError:
                    continue
                column = getattr(BankEntryRow, hash_name)
                conds.append(column == value)
                if hash_name == "autov3" and len(value) == 64:
                    conds.append(column == value[:12])
                if hash_name == "crc32":  # either byte order
                    conds.append(column == bytes.fromhex(value)[::-1].hex())
            if not conds:
                raise BankError(f"{ref!r} is neither an entry id nor a hash")
            rows = list(
                session.scalars(
                    select(BankEntryRow).where(BankEntryRow.bank_id == bank.id, or_(*conds))
                )
            )
            if not rows:
                raise BankError(f"no entry of bank {name!r} has id or hash {ref!r}")
            for row in rows:
                row.disabled = disabled
            return [r.id for r in rows]
    except SQLAlchemyError as exc:
        raise _fail(engine, "update bank entries", exc) from exc


# -- catalog side: fingerprints and matches ----------------------------------------


def save_fingerprints(engine: Engine, items: Iterable[tuple[int, Fingerprint]]) -> int:
    """Store (replace) the fingerprints of catalog artifacts; return how many."""
    now = datetime.now(UTC)
    n = 0
    try:
        with Session(engine) as session, session.begin():
            for artifact_id, fp in items:
                session.merge(
                    FingerprintRow(
                        artifact_id=artifact_id,
                        kind=fp.kind,
                        modules=fp.modules,
                        vector=fp.to_bytes(),
                        computed_at=now,
                    )
                )
                n += 1
    except SQLAlchemyError as exc:
        raise _fail(engine, "store fingerprints", exc) from exc
    return n


def load_fingerprints(
    engine: Engine, kind: str | None = None, *, since: datetime | None = None
) -> dict[int, Fingerprint]:
    """Stored fingerprints by artifact id (optionally of one kind, or computed after ``since``)."""
    query = select(FingerprintRow)
    if kind is not None:
        query = query.where(FingerprintRow.kind == kind)
    if since is not None:
        query = query.where(FingerprintRow.computed_at > since)
    out: dict[int, Fingerprint] = {}
    try:
        with Session(engine) as session:
            for row in session.scalars(query):
                out[row.artifact_id] = Fingerprint.from_bytes(row.kind, row.modules, row.vector)
    except SQLAlchemyError as exc:
        raise _fail(engine, "read fingerprints", exc) from exc
    return out


_CATALOG_COLUMNS = (
    ArtifactRow.id,
    ArtifactRow.uri,
    ArtifactRow.path,
    ArtifactRow.hub,
    ArtifactRow.repo,
    ArtifactRow.url,
    ArtifactRow.first_seen,
    ArtifactRow.record,
    ArtifactRow.format,
    ArtifactRow.error_count,
    *(getattr(ArtifactRow, n) for n in HASH_NAMES),
)


def _catalog_item(row: Any) -> CatalogItem:
    record = row.record or {}
    first_seen = row.first_seen
    if first_seen.tzinfo is None:
        first_seen = first_seen.replace(tzinfo=UTC)
    fingerprint = record.get("fingerprint")
    return CatalogItem(
        id=row.id,
        uri=row.uri,
        path=row.path,
        hub=row.hub,
        repo=row.repo,
        url=row.url,
        first_seen=first_seen,
        hashes={n: getattr(row, n) for n in HASH_NAMES},
        fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        format=row.format,
        errors=int(row.error_count or 0),
    )


def iter_catalog(engine: Engine) -> Iterator[CatalogItem]:
    """Every catalog artifact with its hashes and the fingerprint its record carries."""
    try:
        with engine.connect() as conn:
            result = conn.execute(
                select(*_CATALOG_COLUMNS).order_by(ArtifactRow.id).execution_options(yield_per=500)
            )
            for row in result:
                yield _catalog_item(row)
    except SQLAlchemyError as exc:
        raise _fail(engine, "read the catalog", exc) from exc


def catalog_items(engine: Engine, ids: Iterable[int]) -> dict[int, CatalogItem]:
    """The catalog artifacts with these ids (missing ones are absent)."""
    wanted = list(dict.fromkeys(ids))
    out: dict[int, CatalogItem] = {}
    try:
        with engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(*_CATALOG_COLUMNS).where(ArtifactRow.id.in_(wanted[i : i + 500]))
                )
                out.update((row.id, _catalog_item(row)) for row in rows)
    except SQLAlchemyError as exc:
        raise _fail(engine, "read the catalog", exc) from exc
    return out


def catalog_items_with_hash(
    engine: Engine, name: str, value: str, *, limit: int = 1000
) -> list[CatalogItem]:
    """Catalog artifacts whose ``name`` hash (sha256, autov3, ...) is ``value`` (indexed lookup)."""
    if name not in HASH_NAMES:
        raise ValueError(f"unknown hash {name!r}: use one of {', '.join(HASH_NAMES)}")
    column = getattr(ArtifactRow, name)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(*_CATALOG_COLUMNS)
                .where(column == value.lower())
                .order_by(ArtifactRow.id)
                .limit(limit)
            )
            return [_catalog_item(row) for row in rows]
    except SQLAlchemyError as exc:
        raise _fail(engine, "read the catalog", exc) from exc


def fingerprint_stamp(engine: Engine) -> tuple[int, datetime | None]:
    """(how many, newest ``computed_at``) of the stored fingerprints: changes on every write.

    Lets a long-lived similarity index (the review app's) notice new or
    replaced fingerprints with one aggregate query instead of reloading them.
    """
    try:
        with engine.connect() as conn:
            count, newest = conn.execute(
                select(func.count(), func.max(FingerprintRow.computed_at))
            ).one()
    except SQLAlchemyError as exc:
        raise _fail(engine, "read fingerprints", exc) from exc
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return int(count), newest


def record_matches(
    engine: Engine,
    artifact_id: int,
    matches: Sequence[Match],
    *,
    banks: Sequence[str] | None = None,
) -> None:
    """Replace an artifact's matches against ``banks`` (all banks when None).

    Writes the ``matches`` rows and the record JSON's ``matches`` list, and
    re-derives the row's effective severity (a positive match raises it to high).
    """
    now = datetime.now(UTC)
    covered = set(banks) if banks is not None else None
    try:
        with Session(engine) as session, session.begin():
            artifact = session.get(ArtifactRow, artifact_id)
            if artifact is None:
                raise StoreError(f"no catalog artifact with id {artifact_id}")
            stmt = delete(MatchRow).where(MatchRow.artifact_id == artifact_id)
            if covered is not None:
                stmt = stmt.where(MatchRow.bank.in_(covered))
            session.execute(stmt)
            for m in matches:
                entry_id = m.entry.get("id")
                if entry_id is None:
                    continue
                session.add(
                    MatchRow(
                        artifact_id=artifact_id,
                        bank=m.bank,
                        entry_id=int(entry_id),
                        method=m.method,
                        similarity=float(m.similarity),
                        negative=m.negative,
                        matched_at=now,
                    )
                )
            record = dict(artifact.record or {})
            kept = [
                x
                for x in record.get("matches") or ()
                if covered is not None and x.get("bank") not in covered
            ]
            record["matches"] = kept + [m.to_json() for m in matches]
            session.execute(
                update(ArtifactRow)
                .where(ArtifactRow.id == artifact_id)
                .values(record=record, severity=int(record_severity(record)))
            )
    except SQLAlchemyError as exc:
        raise _fail(engine, "record matches", exc) from exc


def matches_of(engine: Engine, artifact_id: int) -> list[dict[str, Any]]:
    """The stored match rows of one artifact (bank, entry_id, method, similarity, negative)."""
    try:
        with Session(engine) as session:
            return [
                {
                    "bank": r.bank,
                    "entry_id": r.entry_id,
                    "method": r.method,
                    "similarity": r.similarity,
                    "negative": r.negative,
                }
                for r in session.scalars(
                    select(MatchRow)
                    .where(MatchRow.artifact_id == artifact_id)
                    .order_by(MatchRow.bank, MatchRow.entry_id)
                )
            ]
    except SQLAlchemyError as exc:
        raise _fail(engine, "read matches", exc) from exc


def artifacts_matching(engine: Engine, bank: str) -> list[int]:
    """Ids of catalog artifacts with a positive match in ``bank`` (for the web app's filter)."""
    try:
        with Session(engine) as session:
            return list(
                session.scalars(
                    select(MatchRow.artifact_id)
                    .where(MatchRow.bank == bank, MatchRow.negative.is_(False))
                    .distinct()
                    .order_by(MatchRow.artifact_id)
                )
            )
    except SQLAlchemyError as exc:
        raise _fail(engine, "read matches", exc) from exc
