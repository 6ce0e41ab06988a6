"""Persisting the protected-person registry in the catalog.

``likenessguard registry ...`` calls :func:`add_subject`; a takedown request
reaches the registry only when a reviewer accepts it, and then through
:func:`create_subject_in` inside the acceptance's own transaction (so accepting
and withdrawing are each one unit of work with the registry change). Ids are derived from
the normalised name, so adding the same person twice merges aliases and
handles into one subject instead of creating a duplicate.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from likenessguard.errors import ConfigError, StoreError
from likenessguard.registry.base import Registry, Subject, subject_id
from likenessguard.store.db import safe_url
from likenessguard.store.models.registry import SubjectRow

MAX_NAME = 512
MAX_IMPORT_LINE = 64 * 1024


def _clean(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        v = " ".join(str(raw).split())[:MAX_NAME]
        if v and v not in out:
            out.append(v)
    return out


def _to_subject(row: SubjectRow) -> Subject:
    return Subject(
        id=row.id,
        name=row.name,
        aliases=tuple(row.aliases or ()),
        handles=tuple(row.handles or ()),
        source=row.source,
        note=row.note,
    )


def add_subject(
    engine: Engine,
    *,
    name: str,
    aliases: Iterable[str] = (),
    handles: Iterable[str] = (),
    source: str = "manual",
    note: str | None = None,
) -> str:
    """Add a protected person (or merge names into an existing one) and return its id.

    Args:
        engine: an open catalog (``open_catalog(url)``).
        name: the display name (``"Jane Roe"``); must contain a letter or digit.
        aliases: other names, stage names, transliterations (``"Джейн Роу"``).
        handles: social handles (``"@janeroe"``); matched without the ``@``.
        source: where the subject came from (``manual``, ``takedown``, ``import:<file>``).
        note: a free-text note for reviewers; do not put requester contact data here.

    Returns:
        The stable subject id, e.g. ``"subj_3f2a9c01b7de"``.

    Raises:
        ConfigError: the name is empty after normalisation.
        StoreError: the catalog could not be written.
    """
    name = " ".join(name.split())[:MAX_NAME]
    sid = subject_id(name)
    if sid == subject_id(""):
        raise ConfigError(f"subject name {name!r} has no letters or digits: give a real name")
    now = datetime.now(UTC)
    try:
        with Session(engine) as s, s.begin():
            row = s.get(SubjectRow, sid)
            if row is None:
                s.add(
                    SubjectRow(
                        id=sid,
                        name=name,
                        aliases=_clean(aliases),
                        handles=_clean(handles),
                        source=source[:64],
                        note=note,
                        created=now,
                        updated=now,
                    )
                )
            else:
                row.aliases = _clean([*(row.aliases or []), *aliases])
                row.handles = _clean([*(row.handles or []), *handles])
                if note and not row.note:
                    row.note = note
                row.updated = now
    except SQLAlchemyError as exc:
        raise StoreError(
            f"couldn't add subject to the registry at {safe_url(engine)}: {exc}"
        ) from exc
    return sid


def create_subject_in(
    conn: Connection,
    *,
    name: str,
    aliases: Iterable[str] = (),
    handles: Iterable[str] = (),
    source: str = "takedown",
) -> str | None:
    """Insert a new subject inside the caller's transaction; None when it already exists.

    Never merges into an existing subject: a takedown must not edit a person
    someone else put in the registry (and its withdrawal must not remove them).

    Raises:
        ConfigError: the name is empty after normalisation.
    """
    name = " ".join(name.split())[:MAX_NAME]
    sid = subject_id(name)
    if sid == subject_id(""):
        raise ConfigError(f"subject name {name!r} has no letters or digits: give a real name")
    table = SubjectRow.__table__
    if conn.execute(select(SubjectRow.id).where(SubjectRow.id == sid)).first() is not None:
        return None
    now = datetime.now(UTC)
    conn.execute(
        table.insert().values(  # type: ignore[attr-defined]
            id=sid,
            name=name,
            aliases=[a for a in _clean(aliases) if a != name],
            handles=_clean(h.lstrip("@") for h in handles),
            source=source[:64],
            note=None,
            created=now,
            updated=now,
        )
    )
    return sid


def remove_subject(engine: Engine, subject: str) -> bool:
    """Remove a subject by id (or by exact name); True when one was removed."""
    try:
        with Session(engine) as s, s.begin():
            row = s.get(SubjectRow, subject) or s.get(SubjectRow, subject_id(subject))
            if row is None:
                return False
            s.delete(row)
            return True
    except SQLAlchemyError as exc:
        raise StoreError(f"couldn't remove subject at {safe_url(engine)}: {exc}") from exc


def get_subject(engine: Engine, subject: str) -> Subject | None:
    with Session(engine) as s:
        row = s.get(SubjectRow, subject)
        return _to_subject(row) if row else None


def list_subjects(engine: Engine) -> list[Subject]:
    """Every subject, ordered by name."""
    try:
        with Session(engine) as s:
            rows = s.scalars(select(SubjectRow).order_by(SubjectRow.name, SubjectRow.id)).all()
            return [_to_subject(r) for r in rows]
    except SQLAlchemyError as exc:
        raise StoreError(f"couldn't read the registry at {safe_url(engine)}: {exc}") from exc


def load_registry(engine: Engine) -> Registry:
    """The catalog's registry as an in-memory matcher."""
    return Registry(list_subjects(engine))


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", "|").split("|") if v.strip()]
    return []


def parse_subjects(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Read a CSV (header ``name,aliases,handles,note``; lists split on ``|``) or JSONL file.

    Returns (subjects as dicts, one-line errors with line numbers). A bad line is
    reported and skipped; the rest is imported.
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"couldn't read registry file {path}: {exc}") from exc
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line[:MAX_IMPORT_LINE])
            except ValueError as exc:
                errors.append(f"{path}:{n}: not JSON ({exc.args[0][:60]}): line skipped")
                continue
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("name"), str)
                or not obj["name"].strip()
            ):
                errors.append(f'{path}:{n}: needs an object with a "name" string: line skipped')
                continue
            items.append(obj)
        return items, errors
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "name" not in reader.fieldnames:
        raise ConfigError(f"{path}: a CSV registry file needs a header row with a 'name' column")
    for n, row in enumerate(reader, 2):
        name = (row.get("name") or "").strip()
        if not name:
            errors.append(f"{path}:{n}: empty name: line skipped")
            continue
        items.append(row)
    return items, errors


def import_subjects(
    engine: Engine, path: str | Path, *, source: str | None = None
) -> tuple[list[str], list[str]]:
    """Import subjects from a CSV or JSONL file; returns (ids added or merged, line errors)."""
    p = Path(path)
    items, errors = parse_subjects(p)
    ids: list[str] = []
    for item in items:
        try:
            ids.append(
                add_subject(
                    engine,
                    name=str(item["name"]),
                    aliases=_split(item.get("aliases")),
                    handles=_split(item.get("handles")),
                    source=source or f"import:{p.name}",
                    note=(str(item["note"]) if item.get("note") else None),
                )
            )
        except ConfigError as exc:
            errors.append(f"{p}: {exc}")
    return ids, errors


def records_by_hash(engine: Engine, value: str, limit: int = 20) -> list[dict[str, Any]]:
    """Stored scan records whose file has this hash (sha256, AutoV3, AutoV2, or a >= 8 hex prefix).

    Used by the guard to judge LoRAs a generation request references.
    """
    from sqlalchemy import func, or_

    from likenessguard.store.models.core import ArtifactRow

    h = value.strip().lower()
    if len(h) < 8 or any(c not in "0123456789abcdef" for c in h):
        return []
    cond = or_(
        func.lower(ArtifactRow.sha256).startswith(h),
        func.lower(ArtifactRow.autov3).startswith(h),
        func.lower(ArtifactRow.autov2) == h[:10],
    )
    try:
        with Session(engine) as s:
            rows = s.scalars(select(ArtifactRow.record).where(cond).limit(limit)).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"couldn't look up hash {value!r} in {safe_url(engine)}: {exc}") from exc
    return [dict(r) for r in rows if isinstance(r, dict)]


def search_subject(engine: Engine, subject: str, batch: int = 500) -> list[tuple[str, Any]]:
    """Re-judge every stored record against one registry subject, from stored evidence.

    Returns ``(uri, verdict)`` for each record on which the subject is now found,
    without re-reading any file (the scan stored a bounded evidence list in each
    record). Call it after :func:`add_subject` to find every copy already in the catalog.
    """
    subj = get_subject(engine, subject)
    if subj is None:
        return []
    return preview_subject(engine, subj, batch=batch)


def preview_subject(
    engine: Engine, subj: Subject, *, batch: int = 500, limit: int | None = None
) -> list[tuple[str, Any]]:
    """What ``subj`` would match if it were in the registry, without adding it.

    The same re-judging as :func:`search_subject` for a subject that is not (yet)
    stored: a reviewer sees what accepting a pending takedown would flag before
    anything acts on verdicts. Stops after ``limit`` hits when given.
    """
    from likenessguard.store.models.core import ArtifactRow
    from likenessguard.verdicts.judge import rejudge_record

    registry = Registry([subj])
    out: list[tuple[str, Any]] = []
    last = 0
    try:
        with Session(engine) as s:
            while limit is None or len(out) < limit:
                rows = s.execute(
                    select(ArtifactRow.id, ArtifactRow.uri, ArtifactRow.record)
                    .where(ArtifactRow.id > last)
                    .order_by(ArtifactRow.id)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                for rid, uri, record in rows:
                    last = rid
                    if not isinstance(record, dict):
                        continue
                    v = rejudge_record(record, registry)
                    if v is not None and v.subject == subj.id:
                        out.append((uri, v))
    except SQLAlchemyError as exc:
        raise StoreError(f"couldn't search the catalog at {safe_url(engine)}: {exc}") from exc
    return out if limit is None else out[:limit]
