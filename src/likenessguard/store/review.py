"""Review repository: accounts, sessions, the case queue, decisions, audit log, takedowns.

Everything the review app (and its CLI) does to the database goes through the
functions here, so the web layer never writes SQL and every state change is
audit-logged in the same transaction as the change itself. The audit log is
append-only: this module has no function that updates or deletes an audit row.

Secrets never reach the database in the clear: passwords are argon2 hashes,
API tokens, session ids and takedown status tokens are SHA-256 digests of
256-bit random strings (a digest suffices for random tokens; argon2 is for the
low-entropy secrets people choose).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Connection,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import Engine as Engine  # noqa: PLC0414  (re-exported for web/, which may not import SQLAlchemy)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from likenessguard.errors import ConfigError, LikenessGuardError, StoreError, UsageError
from likenessguard.hashing.base import HASH_NAMES
from likenessguard.registry.base import Subject, subject_id
from likenessguard.registry.sealing import Sealer, requester_sealer
from likenessguard.store.banks import autov3_applies, without_bogus_autov3
from likenessguard.store.db import make_engine
from likenessguard.store.hubs import HubStore, Removal
from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.models.registry import SubjectRow
from likenessguard.store.models.review import (
    ApiTokenRow,
    AuditRow,
    CaseRow,
    DecisionRow,
    SessionRow,
    TakedownCaseRow,
    TakedownRow,
    UserRow,
)
from likenessguard.store.registry import create_subject_in
from likenessguard.verdicts.base import Severity

ROLES: tuple[str, ...] = ("admin", "reviewer", "viewer")
CASE_STATUSES: tuple[str, ...] = ("open", "confirmed", "dismissed", "escalated")
QUEUES: tuple[str, ...] = ("main", "escalation")
ACTIONS: tuple[str, ...] = ("confirm", "dismiss", "escalate", "reopen")
LABELS: tuple[str, ...] = ("real_person", "sexual", "minor_risk")
MIN_PASSWORD = 12
SYSTEM = "system"
ANONYMOUS = "anonymous"

# Decision reasons are the policy's clauses (docs/policy.md); a confirmed case cites
# one, and the takedown notice quotes it.
POLICY_REASONS: Mapping[str, str] = {
    "minor-sexualization": "Sexualised depiction of, or adapter aimed at, a minor or a "
    "person who appears to be a minor.",
    "nonconsensual-sexual-likeness": "Sexual content depicting a real, identifiable person "
    "without their consent.",
    "real-person-likeness": "Likeness model of a real, identifiable person who has not "
    "consented to it or has asked for its removal.",
    "banned-copy": "Copy, re-upload or trivial modification of a model already removed "
    "under this policy.",
}

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Verified against when a user does not exist, so a login attempt takes as long
# for an unknown name as for a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the argon2 parameters (returns the previous hasher).

    For test suites, which create hundreds of accounts: ``argon2.profiles.CHEAPEST``
    is still real argon2id, just fast. Hashes made with other parameters keep
    verifying, and are rehashed at the next login.
    """
    global _hasher, _DUMMY_HASH  # noqa: PLW0603  (module-wide hashing policy)
    previous, _hasher = _hasher, hasher
    _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
    return previous


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
_CURSOR_RE = re.compile(r"^[0-9]{32}$")


def serving_engine(engine: Engine) -> Engine:
    """An engine fit for a web server on the same catalog.

    Catalog engines open SQLite connections per use (right for CLI batch work);
    a server answering hundreds of requests a second wants them pooled, so each
    request skips the connect and its PRAGMAs, and the WAL stays open instead of
    being checkpointed whenever the last connection closes. Other backends are
    returned as they are.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    return make_engine(
        engine.url.render_as_string(hide_password=False),
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=24,
        connect_args={"check_same_thread": False},
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a random secret token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class User:
    """A reviewer account as the app sees it (never carries the password hash)."""

    id: int
    name: str
    role: str
    disabled: bool = False
    must_change_password: bool = False

    def can(self, role: str) -> bool:
        """Whether this user holds ``role`` or a stronger one (admin > reviewer > viewer)."""
        return ROLES.index(self.role) <= ROLES.index(role)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "must_change_password": self.must_change_password,
        }


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One queue line."""

    id: int
    artifact_id: int
    queue: str
    status: str
    severity: Severity
    score: float
    labels: tuple[str, ...]
    banks: tuple[str, ...]
    hub: str | None
    base_family: str | None
    subject: str | None
    first_seen: datetime
    path: str
    repo: str | None
    rank_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "artifact_id": self.artifact_id,
            "queue": self.queue,
            "status": self.status,
            "severity": self.severity.label,
            "score": round(self.score, 4),
            "labels": list(self.labels),
            "banks": list(self.banks),
            "hub": self.hub,
            "base_family": self.base_family,
            "subject": self.subject,
            "first_seen": self.first_seen.isoformat(),
            "path": self.path,
            "repo": self.repo,
        }


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Queue filters; ``None`` means any."""

    queue: str = "main"
    status: str | None = "open"
    severity: Severity | None = None
    label: str | None = None
    hub: str | None = None
    bank: str | None = None
    base_family: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: tuple[CaseSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    reason: str | None
    bank: str | None
    note: str
    user: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "bank": self.bank,
            "note": self.note,
            "user": self.user,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Mirror:
    """Another catalog artifact with the same bytes, the same tensor data or similar weights.

    ``similarity`` is the weight-fingerprint similarity to the case's artifact
    (None when either has no fingerprint); ``removed`` the ``hub_removals``
    reason when its host took it down.
    """

    artifact_id: int
    uri: str
    hub: str
    repo: str | None
    url: str | None
    method: str
    case_id: int | None
    similarity: float | None = None
    removed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact_id": self.artifact_id,
            "uri": self.uri,
            "hub": self.hub,
            "repo": self.repo,
            "url": self.url,
            "method": self.method,
            "case_id": self.case_id,
            "similarity": self.similarity,
            "removed_from_hub": self.removed,
        }


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything the case page shows."""

    case: CaseSummary
    artifact: Mapping[str, Any]
    record: Mapping[str, Any]
    decisions: tuple[Decision, ...]
    mirrors: tuple[Mirror, ...]
    takedowns: int
    removed: Removal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case.to_json(),
            "artifact": {k: _jsonable(v) for k, v in self.artifact.items()},
            "record": dict(self.record),
            "decisions": [d.to_json() for d in self.decisions],
            "mirrors": [m.to_json() for m in self.mirrors],
            "takedown_requests": self.takedowns,
            "removed_from_hub": self.removed.to_json() if self.removed else None,
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class SyncReport:
    opened: int
    updated: int
    open_cases: int
    takedown_cases: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "opened": self.opened,
            "updated": self.updated,
            "open_cases": self.open_cases,
            "takedown_cases": self.takedown_cases,
        }


@dataclass(frozen=True, slots=True)
class TakedownReceipt:
    """What the requester is given once: the case number and the secret status token."""

    number: str
    token: str


@dataclass(frozen=True, slots=True)
class TakedownModel:
    """One model linked to a takedown request, as the requester may see it."""

    case_id: int
    name: str
    url: str | None
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "name": self.name, "url": self.url, "status": self.status}


@dataclass(frozen=True, slots=True)
class TakedownStatus:
    number: str
    status: str
    created_at: datetime
    models: tuple[TakedownModel, ...] = field(default_factory=tuple)
    # the requester's own names, shown on their status page; kept out of to_json,
    # whose keys docs/records.md fixes (and which never returned requester data)
    names: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "models": [m.to_json() for m in self.models],
        }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# --------------------------------------------------------------------------- audit


# Prebuilt statements with parameters passed at execution: the hot write paths
# (every audit line, the public form) skip building and cache-keying a statement.
_AUDIT_INSERT = cast(Table, AuditRow.__table__).insert()
_TAKEDOWN_TABLE = cast(Table, TakedownRow.__table__)


def _audit(  # noqa: PLR0917  (mirrors the audit line's columns)
    conn: Connection,
    actor: str,
    action: str,
    target: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        _AUDIT_INSERT,
        {
            "at": utcnow(),
            "actor": actor,
            "action": action,
            "target": target,
            "before": dict(before) if before is not None else None,
            "after": dict(after) if after is not None else None,
        },
    )


def audit(  # noqa: PLR0917  (mirrors the audit line's columns)
    engine: Engine,
    actor: str,
    action: str,
    target: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one line to the audit log (views of sensitive data, settings changes)."""
    with engine.begin() as conn:
        _audit(conn, actor, action, target, before, after)


def _audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=_utc(row.at),
        actor=row.actor,
        action=row.action,
        target=row.target,
        before=row.before,
        after=row.after,
    )


def audit_log(
    engine: Engine,
    *,
    before_id: int | None = None,
    limit: int = 100,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
) -> list[AuditEntry]:
    """Newest-first audit lines, keyset-paged by ``before_id``."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    if action:
        query = query.where(AuditRow.action == action)
    if actor:
        query = query.where(AuditRow.actor == actor)
    if target:
        query = query.where(AuditRow.target == target)
    with engine.connect() as conn:
        return [_audit_entry(r) for r in conn.execute(query)]


def iter_audit(engine: Engine, *, chunk: int = 2000) -> Iterator[AuditEntry]:
    """Every audit line, oldest first, in chunks (for exports of any size)."""
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(AuditRow).where(AuditRow.id > last).order_by(AuditRow.id).limit(chunk)
            ).all()
        if not rows:
            return
        for row in rows:
            yield _audit_entry(row)
        last = rows[-1].id


def audit_csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """CSV export of audit lines (header first); JSON columns hold before/after."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "at", "actor", "action", "target", "before", "after"])
    yield buf.getvalue()
    for e in entries:
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            [
                e.id,
                e.at.isoformat(),
                e.actor,
                e.action,
                e.target,
                json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                json.dumps(e.after, sort_keys=True) if e.after is not None else "",
            ]
        )
        yield buf.getvalue()


# --------------------------------------------------------------------------- users


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        disabled=bool(row.disabled),
        must_change_password=bool(row.must_change_password),
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"password is {len(password)} characters; use at least {MIN_PASSWORD} "
            "(a passphrase of several words is easiest)"
        )


def create_user(
    engine: Engine,
    name: str,
    password: str,
    *,
    role: str = "viewer",
    must_change_password: bool = False,
    actor: str = SYSTEM,
) -> User:
    """Create a local account.

    Raises:
        UsageError: bad name, unknown role, short password, or the name is taken.
    """
    if not _NAME_RE.match(name):
        raise UsageError(
            f"user name {name!r} is not allowed: use 2-64 letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    _check_password(password)
    try:
        with engine.begin() as conn:
            user_id = conn.execute(
                insert(UserRow)
                .values(
                    name=name,
                    password_hash=_hasher.hash(password),
                    role=role,
                    disabled=False,
                    must_change_password=must_change_password,
                    created_at=utcnow(),
                )
                .returning(UserRow.id)
            ).scalar_one()
            _audit(conn, actor, "user.create", f"user:{name}", None, {"role": role})
    except IntegrityError:
        raise UsageError(f"user {name!r} already exists: pick another name") from None
    return User(user_id, name, role, False, must_change_password)


def get_user(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.name == name)).first()
    return _user(row) if row else None


def get_user_by_id(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.id == user_id)).first()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(UserRow).order_by(UserRow.name))]


def _require_user(conn: Connection, name: str) -> Any:
    row = conn.execute(select(UserRow).where(UserRow.name == name)).first()
    if row is None:
        raise UsageError(f"no user named {name!r}: see 'likenessguard users list'")
    return row


def set_disabled(engine: Engine, name: str, disabled: bool = True, *, actor: str = SYSTEM) -> User:
    """Disable (or re-enable) an account; disabling ends its sessions and tokens at once."""
    with engine.begin() as conn:
        row = _require_user(conn, name)
        conn.execute(update(UserRow).where(UserRow.id == row.id).values(disabled=disabled))
        if disabled:
            conn.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            conn.execute(
                update(ApiTokenRow).where(ApiTokenRow.user_id == row.id).values(revoked=True)
            )
        _audit(
            conn,
            actor,
            "user.disable" if disabled else "user.enable",
            f"user:{name}",
            {"disabled": bool(row.disabled)},
            {"disabled": disabled},
        )
    return User(row.id, row.name, row.role, disabled, bool(row.must_change_password))


def set_role(engine: Engine, name: str, role: str, *, actor: str = SYSTEM) -> User:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    with engine.begin() as conn:
        row = _require_user(conn, name)
        conn.execute(update(UserRow).where(UserRow.id == row.id).values(role=role))
        _audit(conn, actor, "user.role", f"user:{name}", {"role": row.role}, {"role": role})
    return User(row.id, row.name, role, bool(row.disabled), bool(row.must_change_password))


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user if ``password`` is right and the account is enabled, else None."""
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as conn:
            conn.execute(
                update(UserRow)
                .where(UserRow.id == row.id)
                .values(password_hash=_hasher.hash(password))
            )
    return _user(row)


def set_password(
    engine: Engine,
    name: str,
    password: str,
    *,
    must_change_password: bool = False,
    actor: str = SYSTEM,
) -> None:
    """Set a new password and end every other session of the account."""
    _check_password(password)
    with engine.begin() as conn:
        row = _require_user(conn, name)
        conn.execute(
            update(UserRow)
            .where(UserRow.id == row.id)
            .values(password_hash=_hasher.hash(password), must_change_password=must_change_password)
        )
        conn.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
        _audit(conn, actor, "user.password", f"user:{name}", None, None)


def create_api_token(engine: Engine, name: str, *, label: str = "", actor: str = SYSTEM) -> str:
    """Create an API token for ``name``; the returned secret is shown once and never stored."""
    token = "lgt_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        row = _require_user(conn, name)
        if row.disabled:
            raise UsageError(f"user {name!r} is disabled: enable it before issuing tokens")
        conn.execute(
            insert(ApiTokenRow).values(
                user_id=row.id,
                token_hash=token_digest(token),
                label=label[:128],
                created_at=utcnow(),
                revoked=False,
            )
        )
        _audit(conn, actor, "token.create", f"user:{name}", None, {"label": label[:128]})
    return token


def user_for_token(engine: Engine, token: str) -> User | None:
    """The enabled user an API token belongs to, or None."""
    digest = token_digest(token)
    with engine.connect() as conn:
        row = conn.execute(
            select(UserRow)
            .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
            .where(ApiTokenRow.token_hash == digest, ApiTokenRow.revoked.is_(False))
        ).first()
    if row is None or row.disabled:
        return None
    return _user(row)


# --------------------------------------------------------------------------- sessions


def create_session(engine: Engine, user: User, *, lifetime: timedelta) -> tuple[str, str]:
    """Start a login session. Returns (session id for the cookie, CSRF token)."""
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(SessionRow).where(SessionRow.expires_at < now))
        conn.execute(
            insert(SessionRow).values(
                id_hash=token_digest(sid),
                user_id=user.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return sid, csrf


def session_user(engine: Engine, sid: str) -> tuple[User, str] | None:
    """(user, CSRF token) of a live session, or None when expired, ended or disabled."""
    with engine.connect() as conn:
        row = conn.execute(
            select(UserRow, SessionRow.csrf, SessionRow.expires_at)
            .join(SessionRow, SessionRow.user_id == UserRow.id)
            .where(SessionRow.id_hash == token_digest(sid))
        ).first()
    if row is None or row.disabled or _utc(row.expires_at) < utcnow():
        return None
    return _user(row), str(row.csrf)


def end_session(engine: Engine, sid: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(SessionRow).where(SessionRow.id_hash == token_digest(sid)))


# --------------------------------------------------------------------------- cases


def rank_key(severity: int, score: float, first_seen: datetime, artifact_id: int) -> str:
    """One ascending string that sorts severity desc, score desc, age asc, then id.

    A single indexed column lets the queue page with a plain ``rank_key > cursor``
    range scan instead of a four-column OR chain the query planner cannot use.
    """
    sev = 4 - max(0, min(4, int(severity)))
    sc = 9_999_999 - round(max(0.0, min(1.0, float(score))) * 9_999_999)
    age = max(0, int(_utc(first_seen).timestamp()))
    return f"{sev:01d}{sc:07d}{age:012d}{artifact_id:012d}"


def _fired_labels(record: Mapping[str, Any]) -> tuple[str, ...]:
    verdict = record.get("verdict") or {}
    labels = verdict.get("labels") or {}
    return tuple(sorted(k for k, v in labels.items() if isinstance(v, Mapping) and v.get("fired")))


def _match_banks(record: Mapping[str, Any]) -> tuple[str, ...]:
    banks = {
        str(m.get("bank"))
        for m in record.get("matches") or ()
        if isinstance(m, Mapping) and m.get("bank") and not m.get("negative")
    }
    return tuple(sorted(banks))


def _case_values(row: Any, record: Mapping[str, Any]) -> dict[str, Any]:
    labels = _fired_labels(record)
    return {
        "severity": int(row.severity),
        "score": float(row.score),
        "labels": ",".join(labels),
        "banks": "," + ",".join(_match_banks(record)) + "," if _match_banks(record) else "",
        "hub": row.hub,
        "base_family": row.base_family,
        "subject": row.subject,
        "first_seen": _utc(row.first_seen),
        "rank_key": rank_key(row.severity, row.score, row.first_seen, row.id),
    }


_ARTIFACT_COLS = (
    ArtifactRow.id,
    ArtifactRow.severity,
    ArtifactRow.score,
    ArtifactRow.hub,
    ArtifactRow.base_family,
    ArtifactRow.subject,
    ArtifactRow.first_seen,
    ArtifactRow.record,
)


def _open_case(conn: Connection, row: Any, now: datetime) -> tuple[int, bool]:
    """Open a case for artifact ``row`` unless one exists. Returns (case id, opened)."""
    existing = conn.execute(select(CaseRow.id).where(CaseRow.artifact_id == row.id)).scalar()
    if existing is not None:
        return int(existing), False
    record = row.record or {}
    values = _case_values(row, record)
    escalate = "minor_risk" in values["labels"].split(",")
    case_id = conn.execute(
        insert(CaseRow)
        .values(
            artifact_id=row.id,
            queue="escalation" if escalate else "main",
            status="escalated" if escalate else "open",
            opened_at=now,
            updated_at=now,
            **values,
        )
        .returning(CaseRow.id)
    ).scalar_one()
    _audit(
        conn,
        SYSTEM,
        "case.open",
        f"case:{case_id}",
        None,
        {"artifact_id": row.id, "severity": Severity(values["severity"]).label},
    )
    return int(case_id), True


def _has_matches_clause(dialect: str) -> Any:
    if dialect == "postgresql":
        return text("json_array_length(COALESCE(artifacts.record->'matches', '[]'::json)) > 0")
    return text("COALESCE(json_array_length(artifacts.record, '$.matches'), 0) > 0")


def case_sync(
    engine: Engine,
    *,
    min_severity: Severity = Severity.MEDIUM,
    chunk: int = 2000,
    sealer: Sealer | None = None,
) -> SyncReport:
    """Open a case for every catalog artifact at/above ``min_severity`` or with a bank match.

    Idempotent: an artifact gets at most one case. Open cases are refreshed from a
    re-scan (severity, score, labels, banks); decided cases keep their state. Ends
    by matching new artifacts against accepted takedown requests (opened with
    ``sealer``, by default the ``requester_key`` setting).

    Returns:
        How many cases were opened and refreshed, and how many are open now.
    """
    opened = updated = 0
    dialect = engine.dialect.name
    last = 0
    now = utcnow()
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(*_ARTIFACT_COLS)
                .where(ArtifactRow.id > last)
                .where(
                    or_(
                        ArtifactRow.severity >= int(min_severity),
                        _has_matches_clause(dialect),
                    )
                )
                .order_by(ArtifactRow.id)
                .limit(chunk)
            ).all()
            if not rows:
                break
            last = rows[-1].id
            existing = {
                r.artifact_id: r
                for r in conn.execute(
                    select(CaseRow).where(CaseRow.artifact_id.in_([r.id for r in rows]))
                )
            }
            fresh = []
            for row in rows:
                case = existing.get(row.id)
                if row.severity < int(min_severity) and not _match_banks(row.record or {}):
                    continue  # only negative-bank matches: known good, nothing to review
                if case is None:
                    values = _case_values(row, row.record or {})
                    escalate = "minor_risk" in values["labels"].split(",")
                    fresh.append(
                        {
                            "artifact_id": row.id,
                            "queue": "escalation" if escalate else "main",
                            "status": "escalated" if escalate else "open",
                            "opened_at": now,
                            "updated_at": now,
                            "assignee_id": None,
                            **values,
                        }
                    )
                elif case.status in ("open", "escalated"):
                    values = _case_values(row, row.record or {})
                    if any(getattr(case, k) != v for k, v in values.items() if k != "first_seen"):
                        conn.execute(
                            update(CaseRow)
                            .where(CaseRow.id == case.id)
                            .values(updated_at=now, **values)
                        )
                        updated += 1
            if fresh:
                conn.execute(insert(CaseRow), fresh)
                opened += len(fresh)
    with engine.begin() as conn:
        if opened or updated:
            _audit(
                conn, SYSTEM, "cases.sync", "cases", None, {"opened": opened, "updated": updated}
            )
        open_now = conn.execute(
            select(func.count())
            .select_from(CaseRow)
            .where(CaseRow.status.in_(("open", "escalated")))
        ).scalar_one()
    linked = process_takedowns(engine, sealer)
    return SyncReport(opened, updated, int(open_now), linked)


def _summary(row: Any) -> CaseSummary:
    return CaseSummary(
        id=row.id,
        artifact_id=row.artifact_id,
        queue=row.queue,
        status=row.status,
        severity=Severity(row.severity),
        score=float(row.score),
        labels=tuple(x for x in row.labels.split(",") if x),
        banks=tuple(x for x in row.banks.split(",") if x),
        hub=row.hub,
        base_family=row.base_family,
        subject=row.subject,
        first_seen=_utc(row.first_seen),
        path=row.path,
        repo=row.repo,
        rank_key=row.rank_key,
    )


_SUMMARY_COLS = (
    CaseRow.id,
    CaseRow.artifact_id,
    CaseRow.queue,
    CaseRow.status,
    CaseRow.severity,
    CaseRow.score,
    CaseRow.labels,
    CaseRow.banks,
    CaseRow.hub,
    CaseRow.base_family,
    CaseRow.subject,
    CaseRow.first_seen,
    CaseRow.rank_key,
    ArtifactRow.path,
    ArtifactRow.repo,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def queue_query(flt: QueueFilter, *, after: str | None = None, limit: int = 50) -> Any:
    """The SELECT behind a queue page (exposed so the benchmark times exactly it)."""
    query = (
        select(*_SUMMARY_COLS)
        .join(ArtifactRow, ArtifactRow.id == CaseRow.artifact_id)
        .where(CaseRow.queue == flt.queue)
    )
    if flt.status:
        query = query.where(CaseRow.status == flt.status)
    if flt.severity is not None:
        query = query.where(CaseRow.severity == int(flt.severity))
    if flt.label:
        query = query.where(CaseRow.labels.like(f"%{_escape_like(flt.label)}%", escape="\\"))
    if flt.hub:
        query = query.where(CaseRow.hub == flt.hub)
    if flt.bank:
        query = query.where(CaseRow.banks.like(f"%,{_escape_like(flt.bank)},%", escape="\\"))
    if flt.base_family:
        query = query.where(CaseRow.base_family == flt.base_family)
    if flt.subject:
        query = query.where(CaseRow.subject == flt.subject)
    if after:
        if not _CURSOR_RE.match(after):
            raise UsageError(f"bad queue cursor {after!r}: use the next_cursor of a previous page")
        query = query.where(CaseRow.rank_key > after)
    return query.order_by(CaseRow.rank_key).limit(max(1, min(limit, 500)))


def queue(
    engine: Engine, flt: QueueFilter = QueueFilter(), *, after: str | None = None, limit: int = 50
) -> QueuePage:
    """One page of the review queue, ordered severity, score, age (keyset-paged)."""
    with engine.connect() as conn:
        rows = conn.execute(queue_query(flt, after=after, limit=limit + 1)).all()
    items = tuple(_summary(r) for r in rows[:limit])
    return QueuePage(items, items[-1].rank_key if len(rows) > limit and items else None)


def severity_counts(engine: Engine, *, queue: str = "main", status: str = "open") -> dict[str, int]:
    """How many cases of each severity wait in ``queue`` with ``status``."""
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    with engine.connect() as conn:
        for sev, n in conn.execute(
            select(CaseRow.severity, func.count())
            .where(CaseRow.queue == queue, CaseRow.status == status)
            .group_by(CaseRow.severity)
        ):
            counts[Severity(sev).label] = int(n)
    return counts


def filter_options(engine: Engine) -> dict[str, list[str]]:
    """Distinct values for the queue's filter menus."""
    with engine.connect() as conn:
        hubs = [h for (h,) in conn.execute(select(CaseRow.hub).distinct()) if h]
        families = [b for (b,) in conn.execute(select(CaseRow.base_family).distinct()) if b]
    return {"hub": sorted(hubs), "base_family": sorted(families), "label": list(LABELS)}


def get_case(engine: Engine, case_id: int) -> CaseDetail | None:
    """The case, its artifact with the full scan record, decisions, mirrors and takedown links."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*_SUMMARY_COLS)
            .join(ArtifactRow, ArtifactRow.id == CaseRow.artifact_id)
            .where(CaseRow.id == case_id)
        ).first()
        if row is None:
            return None
        art = conn.execute(select(ArtifactRow).where(ArtifactRow.id == row.artifact_id)).one()
        artifact = {
            c: getattr(art, c)
            for c in (col.name for col in ArtifactRow.__table__.columns)
            if c != "record"
        }
        decisions = tuple(
            Decision(d.action, d.reason, d.bank, d.note, d.name, _utc(d.created_at))
            for d in conn.execute(
                select(DecisionRow, UserRow.name)
                .outerjoin(UserRow, UserRow.id == DecisionRow.user_id)
                .where(DecisionRow.case_id == case_id)
                .order_by(DecisionRow.id)
            )
        )
        mirrors = tuple(_mirrors(conn, art))
        takedowns = conn.execute(
            select(func.count()).where(TakedownCaseRow.case_id == case_id)
        ).scalar_one()
    removed = HubStore(engine).removals([art.id]).get(art.id)
    return CaseDetail(
        _summary(row), artifact, art.record or {}, decisions, mirrors, int(takedowns), removed
    )


def _mirrors(conn: Connection, art: Any) -> Iterator[Mirror]:
    """Other artifacts with the same file bytes (sha256) or the same tensors (autov3).

    AutoV3 links only safetensors files whose header parsed, on both sides
    (``store.banks.autov3_applies``): a broken file's AutoV3 hashes an arbitrary tail.
    """
    seen: set[int] = {art.id}
    for method in ("sha256", "autov3"):
        value = getattr(art, method)
        if not value:
            continue
        column = getattr(ArtifactRow, method)
        query = (
            select(
                ArtifactRow.id,
                ArtifactRow.uri,
                ArtifactRow.hub,
                ArtifactRow.repo,
                ArtifactRow.url,
                CaseRow.id.label("case_id"),
            )
            .outerjoin(CaseRow, CaseRow.artifact_id == ArtifactRow.id)
            .where(column == value)
            .order_by(ArtifactRow.id)
            .limit(200)
        )
        if method == "autov3":
            if not autov3_applies(art.format, ok=not art.error_count):
                continue
            query = query.where(ArtifactRow.format == "safetensors", ArtifactRow.error_count == 0)
        for other in conn.execute(query):
            if other.id in seen:
                continue
            seen.add(other.id)
            yield Mirror(
                other.id, other.uri, other.hub, other.repo, other.url, method, other.case_id
            )


def case_ids(engine: Engine, artifact_ids: Iterable[int]) -> dict[int, int]:
    """Artifact id -> case id, for the artifacts that have a case."""
    ids = list(dict.fromkeys(artifact_ids))
    out: dict[int, int] = {}
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            out.update(
                (int(a), int(c))
                for a, c in conn.execute(
                    select(CaseRow.artifact_id, CaseRow.id).where(
                        CaseRow.artifact_id.in_(ids[i : i + 500])
                    )
                )
            )
    return out


def case_artifact_path(engine: Engine, case_id: int) -> tuple[str, Mapping[str, Any]] | None:
    """The local path and scan record of a case's artifact (for preview lookup)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ArtifactRow.path, ArtifactRow.record)
            .join(CaseRow, CaseRow.artifact_id == ArtifactRow.id)
            .where(CaseRow.id == case_id)
        ).first()
    return (row.path, row.record or {}) if row else None


def _bank_add(
    engine: Engine, bank: str, art: Any, *, negative: bool, actor: str, reason: str | None
) -> dict[str, Any]:
    """Add the artifact's hashes and fingerprint to ``bank`` in the bank store.

    Runs after the decision has committed (the bank store writes in its own
    transactions). The decision row always records the bank, so
    ``confirmed_hashes`` exports a shareable bank file even where the bank store
    refused the entry; the outcome goes to the audit log either way.
    """
    try:
        banks = importlib.import_module("likenessguard.store.banks")
        bank_entry = importlib.import_module("likenessguard.banks.base").BankEntry
    except (ImportError, AttributeError):
        return {"bank": bank, "added": False, "why": "the bank store is not installed"}
    record = art.record or {}
    fields: dict[str, Any] = {
        "name": str(art.path).rsplit("/", 1)[-1],
        "source_url": art.url or art.uri,
        "reason": reason,
        "subject": art.subject,
        "fingerprint": record.get("fingerprint"),
    }
    for h in HASH_NAMES:
        value = getattr(art, h)
        fields[h] = value.lower() if isinstance(value, str) else None
    if not autov3_applies(art.format, ok=not art.error_count):
        fields["autov3"] = None  # it would ban an arbitrary tail, not these weights
    try:
        if bank not in {b.name for b in banks.list_banks(engine)}:
            banks.create_bank(
                engine, bank, negative=negative, description="created by a review decision"
            )
        try:
            result = banks.add_entries(engine, bank, [bank_entry(**fields)], added_by=actor)
        except (ValueError, LikenessGuardError):
            # a fingerprint the bank store cannot read: the hashes still catch copies
            fields["fingerprint"] = None
            result = banks.add_entries(engine, bank, [bank_entry(**fields)], added_by=actor)
    except (ValueError, LikenessGuardError) as exc:
        return {"bank": bank, "added": False, "why": str(exc)[:300]}
    return {"bank": bank, "added": True, "entries": list(result.touched)}


def decide(
    engine: Engine,
    case_id: int,
    user: User,
    action: str,
    *,
    reason: str | None = None,
    note: str = "",
    bank: str | None = None,
) -> CaseSummary:
    """Record a decision and move the case; audit-logged with before and after.

    ``confirm`` needs a policy ``reason`` and adds the artifact to ``bank``
    (default ``confirmed``); ``dismiss`` may add it to a negative ``bank``;
    ``escalate`` moves it to the admin-only escalation queue; ``reopen`` (admin)
    puts a decided case back in the main queue.

    Raises:
        UsageError: unknown action or reason, or the user may not take it.
        StoreError: the case does not exist.
    """
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    if not user.can("reviewer"):
        raise UsageError(f"{user.name} is a {user.role}: only reviewers and admins decide cases")
    if action == "confirm" and reason not in POLICY_REASONS:
        raise UsageError(f"confirming needs a policy reason: one of {', '.join(POLICY_REASONS)}")
    if action != "confirm":
        reason = None
    if action == "confirm":
        bank = (bank or "confirmed").strip()
    elif action == "dismiss":
        bank = (bank or "").strip() or None
    else:
        bank = None
    if bank is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", bank):
        raise UsageError(f"bank name {bank!r} is not allowed: use letters, digits, '.', '_', '-'")
    note = note.strip()[:4000]
    now = utcnow()
    with engine.begin() as conn:
        case = conn.execute(select(CaseRow).where(CaseRow.id == case_id)).first()
        if case is None:
            raise StoreError(f"case {case_id} does not exist")
        if case.queue == "escalation" and not user.can("admin"):
            raise UsageError("escalated cases are decided by admins")
        if action == "reopen":
            if not user.can("admin"):
                raise UsageError("only admins reopen decided cases")
            new_status, new_queue = "open", "main"
        elif case.status in ("confirmed", "dismissed"):
            raise UsageError(
                f"case {case_id} is already {case.status}: an admin can reopen it first"
            )
        elif action == "escalate":
            new_status, new_queue = "escalated", "escalation"
        else:
            new_status = "confirmed" if action == "confirm" else "dismissed"
            new_queue = case.queue
        conn.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(status=new_status, queue=new_queue, updated_at=now, assignee_id=user.id)
        )
        conn.execute(
            insert(DecisionRow).values(
                case_id=case_id,
                user_id=user.id,
                action=action,
                reason=reason,
                bank=bank,
                note=note,
                created_at=now,
            )
        )
        art = conn.execute(select(ArtifactRow).where(ArtifactRow.id == case.artifact_id)).one()
        _audit(
            conn,
            user.name,
            f"case.{action}",
            f"case:{case_id}",
            {"status": case.status, "queue": case.queue},
            {
                "status": new_status,
                "queue": new_queue,
                "reason": reason,
                "bank": bank,
                "note": note,
            },
        )
        row = conn.execute(
            select(*_SUMMARY_COLS)
            .join(ArtifactRow, ArtifactRow.id == CaseRow.artifact_id)
            .where(CaseRow.id == case_id)
        ).one()
    if bank is not None:
        outcome = _bank_add(
            engine, bank, art, negative=action == "dismiss", actor=user.name, reason=reason
        )
        audit(engine, user.name, "bank.add", f"case:{case_id}", None, outcome)
    return _summary(row)


# --------------------------------------------------------------------------- notices, exports


def takedown_notice(
    engine: Engine, case_id: int, *, deadline_days: int = 2, contact: str = ""
) -> dict[str, Any]:
    """The takedown notice of a confirmed case, ready to send to the hub.

    Raises:
        UsageError: the case is not confirmed.
        StoreError: the case does not exist.
    """
    detail = get_case(engine, case_id)
    if detail is None:
        raise StoreError(f"case {case_id} does not exist")
    if detail.case.status != "confirmed":
        raise UsageError(
            f"case {case_id} is {detail.case.status}: only confirmed cases get notices"
        )
    confirm = next(d for d in reversed(detail.decisions) if d.action == "confirm")
    art = detail.artifact
    record = detail.record
    evidence: list[dict[str, Any]] = []
    for label, result in ((record.get("verdict") or {}).get("labels") or {}).items():
        if isinstance(result, Mapping) and result.get("fired"):
            evidence.extend({"label": label, **e} for e in result.get("evidence") or ())
    locations = [
        {
            "hub": art["hub"],
            "repo": art["repo"],
            "revision": art["revision"],
            "url": art["url"],
            "uri": art["uri"],
        }
    ] + [
        {"hub": m.hub, "repo": m.repo, "revision": None, "url": m.url, "uri": m.uri}
        for m in detail.mirrors
    ]
    issued = utcnow()
    return {
        "notice": f"LG-{case_id}",
        "issued_at": issued.isoformat(),
        "deadline": (issued + timedelta(days=deadline_days)).isoformat(),
        "policy_clause": confirm.reason,
        "policy_text": POLICY_REASONS.get(confirm.reason or "", ""),
        "decided_at": confirm.at.isoformat(),
        "locations": locations,
        "hashes": {h: art.get(h) for h in HASH_NAMES},
        "fingerprint": record.get("fingerprint"),
        "severity": detail.case.severity.label,
        "labels": list(detail.case.labels),
        "evidence": evidence,
        "contact": contact,
    }


def notice_text(notice: Mapping[str, Any]) -> str:
    """The plain-text form of a takedown notice, for e-mail or a hub's abuse form."""
    lines = [
        f"Takedown notice {notice['notice']}",
        f"Issued: {notice['issued_at']}",
        f"Please remove by: {notice['deadline']}",
        "",
        f"Policy clause: {notice['policy_clause']}",
        f"  {notice['policy_text']}",
        "",
        "Where the model is hosted:",
    ]
    for loc in notice["locations"]:
        where = loc.get("url") or loc.get("uri")
        rev = f" @ {loc['revision']}" if loc.get("revision") else ""
        lines.append(f"  - [{loc.get('hub')}] {loc.get('repo') or ''}{rev} {where}")
    lines += ["", "Hashes (identify every copy):"]
    lines += [f"  {k}: {v}" for k, v in notice["hashes"].items() if v]
    if notice.get("fingerprint"):
        lines.append(f"  weight fingerprint: {notice['fingerprint']}")
    lines += ["", f"Severity: {notice['severity']} ({', '.join(notice['labels']) or 'bank match'})"]
    if notice["evidence"]:
        lines.append("Evidence (quoted as found in the file or listing):")
        for e in notice["evidence"]:
            lines.append(f'  - {e["label"]}: "{e["text"]}" ({e["source"]} / {e["field"]})')
    if notice.get("contact"):
        lines += ["", f"Contact: {notice['contact']}"]
    return "\n".join(lines) + "\n"


# The banks area's export columns (banks/io.py EXPORT_FIELDS), so a confirmed-hash
# export imports unchanged with ``likenessguard bank import`` anywhere.
BANK_COLUMNS: tuple[str, ...] = (
    "name",
    *HASH_NAMES,
    "fingerprint",
    "source_url",
    "reason",
    "subject",
    "added_by",
    "added_at",
    "disabled",
)


def confirmed_hashes(engine: Engine) -> Iterator[dict[str, Any]]:
    """One bank entry per confirmed case: hashes, fingerprint, where it was found, why."""
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    CaseRow.id.label("case_id"),
                    ArtifactRow,
                    DecisionRow.reason.label("decision_reason"),
                    DecisionRow.created_at.label("decided_at"),
                    UserRow.name.label("decided_by"),
                )
                .join(ArtifactRow, ArtifactRow.id == CaseRow.artifact_id)
                .join(DecisionRow, DecisionRow.case_id == CaseRow.id)
                .outerjoin(UserRow, UserRow.id == DecisionRow.user_id)
                .where(CaseRow.status == "confirmed", DecisionRow.action == "confirm")
                .where(CaseRow.id > last)
                .order_by(CaseRow.id, DecisionRow.id.desc())
                .limit(1000)
            ).all()
        if not rows:
            return
        seen: set[int] = set()
        for row in rows:
            if row.case_id in seen:
                continue
            seen.add(row.case_id)
            hashes = {h: getattr(row, h) for h in HASH_NAMES}
            yield {
                "name": row.path.rsplit("/", 1)[-1],
                **without_bogus_autov3(hashes, row.format, ok=not row.error_count),
                "fingerprint": (row.record or {}).get("fingerprint"),
                "source_url": row.url or row.uri,
                "reason": row.decision_reason,
                "subject": row.subject,
                "added_by": row.decided_by,
                "added_at": _utc(row.decided_at).isoformat(),
            }
        last = rows[-1].case_id


# --------------------------------------------------------------------------- takedowns


def _clean_list(values: Iterable[str], *, limit: int = 20, size: int = 200) -> list[str]:
    out: list[str] = []
    for value in values:
        v = " ".join(str(value).split())[:size]
        if v and v not in out:
            out.append(v)
    return out[:limit]


class TakedownsFull(UsageError):
    """The cap on requests waiting for review is reached: this one was not stored."""


PENDING_CAP = 500


def pending_takedowns(engine: Engine) -> int:
    """How many requests wait for a reviewer (what the cap counts)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(TakedownRow).where(TakedownRow.status == "pending")
            ).scalar_one()
        )


def create_takedown(
    engine: Engine,
    *,
    sealer: Sealer,
    names: Sequence[str],
    aliases: Sequence[str] = (),
    handles: Sequence[str] = (),
    links: Sequence[str] = (),
    contact: str,
    relation: str,
    pending_cap: int = PENDING_CAP,
) -> TakedownReceipt:
    """Store a takedown request, sealed and *pending*, and return its number and status token.

    A pending request acts on nothing: its person is not in the registry (no
    verdict sees them) and no search runs for it until a reviewer accepts it
    (:func:`accept_takedown`). Names, aliases, handles, links and contact are
    stored only as one token sealed with ``sealer``. The count against
    ``pending_cap`` and the insert are one statement, so concurrent forms cannot
    overshoot the cap on SQLite (PostgreSQL: an advisory lock serialises them).
    The audit line carries no personal data.

    Raises:
        UsageError: no name, no contact, or a relation other than self/agent.
        TakedownsFull: ``pending_cap`` requests already wait for review.
    """
    names_ = _clean_list(names)
    if not names_:
        raise UsageError("a takedown request needs at least one name")
    if subject_id(names_[0]) == subject_id(""):
        raise UsageError("the first name of a takedown request needs a letter or digit")
    contact = " ".join(contact.split())[:320]
    if not contact:
        raise UsageError("a takedown request needs a contact (e-mail or other)")
    if relation not in ("self", "agent"):
        raise UsageError("state whether you are the person depicted (self) or act for them (agent)")
    token = secrets.token_urlsafe(32)
    sealed = sealer.seal(
        {
            "names": names_,
            "aliases": _clean_list(aliases),
            "handles": _clean_list(h.lstrip("@") for h in handles),
            "links": _clean_list(links, size=500),
            "contact": contact,
        }
    )
    pending = (
        select(func.count())
        .select_from(TakedownRow)
        .where(TakedownRow.status == "pending")
        .scalar_subquery()
    )
    for attempt in range(5):
        # 32 random bits: a clash is rare, and the unique index catches it
        number = "TD-" + secrets.token_hex(4).upper()
        values = {
            "number": number,
            "token_hash": token_digest(token),
            "status": "pending",
            "sealed": sealed,
            "relation": relation,
            "searched_through": 0,
            "created_at": utcnow(),
        }
        row = select(
            *(bindparam(k, v, type_=_TAKEDOWN_TABLE.c[k].type) for k, v in values.items())
        ).where(pending < pending_cap)
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(7301)"))
                takedown_id = conn.execute(
                    insert(TakedownRow).from_select(list(values), row).returning(TakedownRow.id)
                ).scalar()
                if takedown_id is None:
                    raise TakedownsFull(
                        f"{pending_cap} takedown requests are already waiting for review: "
                        "yours was not stored. Please try again later."
                    )
                _audit(
                    conn,
                    ANONYMOUS,
                    "takedown.create",
                    f"takedown:{takedown_id}",
                    None,
                    {"number": number},
                )
            break
        except IntegrityError:
            if attempt == 4:
                raise
    return TakedownReceipt(number, token)


_WORD = re.compile(r"[^\W_]+")


def _phrases(td: Any) -> set[tuple[str, ...]]:
    """The word sequences a request looks for: each name, alias and handle as its
    words ("Jane Roe" -> jane roe, matching jane_roe, Jane-Roe, "jane roe") and,
    for several words, run together (janeroe)."""
    out: set[tuple[str, ...]] = set()
    for value in [*td.names, *td.aliases, *td.handles]:
        words = tuple(_WORD.findall(value.lower()))
        if not words or len("".join(words)) < 3:
            continue
        out.add(words)
        if len(words) > 1:
            out.add(("".join(words),))
    return out


_LINK_REPO = re.compile(r"huggingface\.co/(?:models/)?([^/?#\s]+/[^/?#\s]+)")
_LINK_CIVITAI = re.compile(r"civitai\.com/models/(\d+)")
_URI_CIVITAI = re.compile(r"^civitai://model/(\d+)/")


class _Matcher:
    """Every pending request's names and links, indexed so one artifact is tested
    against all of them in time proportional to its own text (not to the number of
    requests): phrases are keyed by their first word, links by URL, repo and model id."""

    def __init__(self, tds: Sequence[Any]) -> None:
        self.after = {td.id: td.searched_through for td in tds}
        self.by_first: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        self.by_subject: dict[str, set[int]] = {}
        self.by_url: dict[str, set[int]] = {}
        self.by_repo: dict[str, set[int]] = {}
        self.by_civitai: dict[str, set[int]] = {}
        for td in tds:
            for words in _phrases(td):
                self.by_first.setdefault(words[0], []).append((words, td.id))
                self.by_subject.setdefault(" ".join(words), set()).add(td.id)
            for link in td.links:
                self.by_url.setdefault(link, set()).add(td.id)
                if m := _LINK_REPO.search(link):
                    self.by_repo.setdefault(m.group(1), set()).add(td.id)
                if m := _LINK_CIVITAI.search(link):
                    self.by_civitai.setdefault(m.group(1), set()).add(td.id)

    def hits(self, row: Any) -> set[int]:
        """Ids of the requests that artifact ``row`` matches."""
        found: set[int] = set()
        found |= self.by_subject.get(" ".join(_WORD.findall((row.subject or "").lower())), set())
        found |= self.by_url.get(row.url or "", set())
        found |= self.by_repo.get(row.repo or "", set())
        if m := _URI_CIVITAI.match(str(row.uri)):
            found |= self.by_civitai.get(m.group(1), set())
        words = _WORD.findall(f"{row.repo or ''} {row.path} {row.text or ''}".lower())
        for i, word in enumerate(words):
            for phrase, td_id in self.by_first.get(word, ()):
                if td_id not in found and tuple(words[i : i + len(phrase)]) == phrase:
                    found.add(td_id)
        return {t for t in found if row.id > self.after[t]}


@dataclass(frozen=True, slots=True)
class _Request:
    """An accepted request as the search sees it (opened from its sealed token)."""

    id: int
    searched_through: int
    names: list[str]
    aliases: list[str]
    handles: list[str]
    links: list[str]


def _default_sealer() -> Sealer:
    from likenessguard.config import load_settings

    return requester_sealer(load_settings().get("requester_key", ""))


Pause = Callable[[str], None]


def process_takedowns(
    engine: Engine,
    sealer: Sealer | None = None,
    *,
    chunk: int = 2000,
    pause: Pause | None = None,
) -> int:
    """Search the catalog for every *accepted* takedown's names, handles and links; link cases.

    Pending and rejected requests are never searched: an unreviewed request
    opens no case and adds nobody to the registry (acceptance does that, in
    :func:`accept_takedown`). All requests that need work share one pass over
    the catalog, and an index of their names (``_Matcher``) tests each
    artifact's words (subject, repo, path, the whole scan record) against all of
    them at once. Names match as whole words in any spelling (``jane_roe``,
    ``Jane-Roe``, ``janeroe``), links by URL, repo or Civitai model. Each request
    remembers the highest artifact id it has searched, so later scans are
    matched incrementally.

    Reads happen outside any write transaction; the write transaction starts by
    claiming the requests that are *still accepted* (an ``UPDATE ... WHERE
    status = 'accepted' RETURNING id``, which on PostgreSQL takes their row
    locks), so a request withdrawn or rejected while the catalog was read gets
    nothing written: no interleaving leaves a link behind.

    Args:
        sealer: opens the requests (default: the ``requester_key`` setting / key file).
        pause: called with ``"searched"`` between the read and the write (tests use it
            to force interleavings).

    Returns:
        How many case links were added.
    """
    with engine.connect() as conn:
        top = int(conn.execute(select(func.coalesce(func.max(ArtifactRow.id), 0))).scalar_one())
        rows = conn.execute(
            select(TakedownRow.id, TakedownRow.searched_through, TakedownRow.sealed).where(
                TakedownRow.status == "accepted", TakedownRow.searched_through < top
            )
        ).all()
    if not rows:
        return 0
    sealer = sealer or _default_sealer()
    tds = []
    for r in rows:
        data = sealer.open(r.sealed) if r.sealed else {}
        tds.append(
            _Request(
                r.id,
                int(r.searched_through),
                list(data.get("names", [])),
                list(data.get("aliases", [])),
                list(data.get("handles", [])),
                list(data.get("links", [])),
            )
        )
    matcher = _Matcher(tds)
    hits: dict[int, list[int]] = {td.id: [] for td in tds}
    last = min(td.searched_through for td in tds)
    while last < top:
        with engine.connect() as conn:
            arts = conn.execute(
                select(
                    ArtifactRow.id,
                    ArtifactRow.subject,
                    ArtifactRow.repo,
                    ArtifactRow.path,
                    ArtifactRow.url,
                    ArtifactRow.uri,
                    ArtifactRow.record.cast(Text()).label("text"),
                )
                .where(ArtifactRow.id > last, ArtifactRow.id <= top)
                .order_by(ArtifactRow.id)
                .limit(chunk)
            ).all()
        if not arts:
            break
        for art in arts:
            for td_id in matcher.hits(art):
                hits[td_id].append(art.id)
        last = arts[-1].id
    if pause is not None:
        pause("searched")
    added = 0
    now = utcnow()
    # one transaction for the whole batch: one commit however many requests it holds
    with engine.begin() as conn:
        alive = set(
            conn.execute(
                update(TakedownRow)
                .where(
                    TakedownRow.id.in_([td.id for td in tds]),
                    TakedownRow.status == "accepted",
                )
                .values(searched_through=top)
                .returning(TakedownRow.id)
            ).scalars()
        )
        wanted = sorted({a for td in tds if td.id in alive for a in hits[td.id]})
        by_id = {
            r.id: r
            for r in (
                conn.execute(select(*_ARTIFACT_COLS).where(ArtifactRow.id.in_(wanted))).all()
                if wanted
                else []
            )
        }
        for td in tds:
            if td.id not in alive:  # withdrawn or rejected meanwhile: keep nothing
                continue
            for artifact_id in hits[td.id]:
                case_id, _ = _open_case(conn, by_id[artifact_id], now)
                linked = conn.execute(
                    select(TakedownCaseRow.case_id).where(
                        TakedownCaseRow.takedown_id == td.id,
                        TakedownCaseRow.case_id == case_id,
                    )
                ).first()
                if linked is None:
                    conn.execute(insert(TakedownCaseRow).values(takedown_id=td.id, case_id=case_id))
                    added += 1
    return added


def would_link(
    engine: Engine, names: Sequence[str], links: Sequence[str] = (), *, limit: int = 50
) -> list[str]:
    """The models (artifact URIs) the search of a request with these names and links
    would link, without storing anything: the reviewer's preview of a pending request.
    Same matching as :func:`process_takedowns`; stops after ``limit`` hits."""
    matcher = _Matcher([_Request(0, 0, list(names), [], [], list(links))])
    out: list[str] = []
    last = 0
    while len(out) < limit:
        with engine.connect() as conn:
            arts = conn.execute(
                select(
                    ArtifactRow.id,
                    ArtifactRow.subject,
                    ArtifactRow.repo,
                    ArtifactRow.path,
                    ArtifactRow.url,
                    ArtifactRow.uri,
                    ArtifactRow.record.cast(Text()).label("text"),
                )
                .where(ArtifactRow.id > last)
                .order_by(ArtifactRow.id)
                .limit(2000)
            ).all()
        if not arts:
            break
        out.extend(str(a.uri) for a in arts if matcher.hits(a))
        last = arts[-1].id
    return out[:limit]


# --------------------------------------------------------------------------- review of requests


@dataclass(frozen=True, slots=True)
class TakedownRequest:
    """A takedown request as a reviewer sees it: the pending subject and who asked.

    Personal data: only reviewer routes build it, and the detail view is audit-logged.
    """

    id: int
    number: str
    status: str
    created_at: datetime
    relation: str
    names: tuple[str, ...]
    aliases: tuple[str, ...]
    handles: tuple[str, ...]
    links: tuple[str, ...]
    contact: str
    subject_id: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    cases: int = 0

    @property
    def name(self) -> str:
        return self.names[0] if self.names else "(erased)"

    def subject(self) -> Subject:
        """The registry subject accepting this request would create."""
        name = self.names[0] if self.names else ""
        return Subject(
            id=subject_id(name),
            name=name,
            aliases=tuple(n for n in (*self.names[1:], *self.aliases) if n != name),
            handles=self.handles,
            source="takedown",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "relation": self.relation,
            "names": list(self.names),
            "aliases": list(self.aliases),
            "handles": list(self.handles),
            "links": list(self.links),
            "contact": self.contact,
            "subject_id": self.subject_id,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "cases": self.cases,
        }


TAKEDOWN_STATUSES: tuple[str, ...] = ("pending", "accepted", "rejected")


def _request(row: Any, sealer: Sealer, cases: int = 0) -> TakedownRequest:
    data = sealer.open(row.sealed) if row.sealed else {}
    return TakedownRequest(
        id=int(row.id),
        number=row.number,
        status=row.status,
        created_at=_utc(row.created_at),
        relation=row.relation,
        names=tuple(data.get("names", ())),
        aliases=tuple(data.get("aliases", ())),
        handles=tuple(data.get("handles", ())),
        links=tuple(data.get("links", ())),
        contact=str(data.get("contact", "")),
        subject_id=row.subject_id,
        reviewed_by=row.reviewed_by,
        reviewed_at=_utc(row.reviewed_at) if row.reviewed_at else None,
        cases=cases,
    )


def list_takedowns(
    engine: Engine, sealer: Sealer, *, status: str | None = "pending", limit: int = 200
) -> list[TakedownRequest]:
    """Requests in one state (None: all), oldest first, for the reviewer's list."""
    query = select(TakedownRow).order_by(TakedownRow.id).limit(limit)
    if status is not None:
        query = query.where(TakedownRow.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_request(r, sealer) for r in rows]


def get_takedown(
    engine: Engine, sealer: Sealer, takedown_id: int, *, viewer: User | None = None
) -> TakedownRequest:
    """One request with its personal data; a view by ``viewer`` is audit-logged.

    Raises:
        StoreError: no such request (withdrawn, or never made).
    """
    with engine.begin() as conn:
        if viewer is not None:
            # written first: on SQLite a transaction that reads and then writes fails
            # if another writer committed in between; one that starts writing waits
            _audit(conn, viewer.name, "takedown.view", f"takedown:{takedown_id}")
        row = conn.execute(select(TakedownRow).where(TakedownRow.id == takedown_id)).first()
        if row is None:  # the rollback takes the audit line with it
            raise StoreError(f"takedown request {takedown_id} does not exist (or was withdrawn)")
        cases = conn.execute(
            select(func.count()).where(TakedownCaseRow.takedown_id == takedown_id)
        ).scalar_one()
    return _request(row, sealer, int(cases))


def accept_takedown(
    engine: Engine,
    sealer: Sealer,
    takedown_id: int,
    user: User,
    *,
    pause: Pause | None = None,
) -> TakedownRequest:
    """Accept a pending request: its person enters the registry, in the same transaction.

    The transaction starts with a compare-and-set (``UPDATE ... WHERE status =
    'pending'``): a request withdrawn or decided by someone else meanwhile is not
    accepted, and a withdrawal that comes while this one runs waits for it (the
    write lock on SQLite, the row lock on PostgreSQL) and then removes what it
    added. A person already in the registry stays as they are and is not linked
    to the request, so withdrawing never removes a subject someone else added.

    Raises:
        StoreError: the request does not exist or is no longer pending.
    """
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            update(TakedownRow)
            .where(TakedownRow.id == takedown_id, TakedownRow.status == "pending")
            .values(status="accepted", reviewed_by=user.name, reviewed_at=now)
            .returning(TakedownRow.sealed)
        ).first()
        if row is None:
            raise StoreError(
                f"takedown request {takedown_id} does not exist or is no longer pending"
            )
        if pause is not None:
            pause("accepting")
        data = sealer.open(row.sealed) if row.sealed else {}
        names = list(data.get("names", []))
        owned = None
        if names:
            try:
                owned = create_subject_in(
                    conn,
                    name=names[0],
                    aliases=[*names[1:], *data.get("aliases", [])],
                    handles=data.get("handles", []),
                    source="takedown",
                )
            except ConfigError as exc:
                raise StoreError(f"takedown request {takedown_id}: {exc}") from exc
        conn.execute(
            update(TakedownRow).where(TakedownRow.id == takedown_id).values(subject_id=owned)
        )
        _audit(
            conn,
            user.name,
            "takedown.accept",
            f"takedown:{takedown_id}",
            {"status": "pending"},
            {"status": "accepted", "registry": "added" if owned else "already present"},
        )
    return get_takedown(engine, sealer, takedown_id)


def reject_takedown(engine: Engine, takedown_id: int, user: User) -> None:
    """Reject a pending request: it never reaches the registry, and its personal data
    is erased at once (the row keeps its number so the requester's link says so).

    Raises:
        StoreError: the request does not exist or is no longer pending.
    """
    with engine.begin() as conn:
        done = conn.execute(
            update(TakedownRow)
            .where(TakedownRow.id == takedown_id, TakedownRow.status == "pending")
            .values(status="rejected", sealed=None, reviewed_by=user.name, reviewed_at=utcnow())
            .returning(TakedownRow.id)
        ).first()
        if done is None:
            raise StoreError(
                f"takedown request {takedown_id} does not exist or is no longer pending"
            )
        _audit(
            conn,
            user.name,
            "takedown.reject",
            f"takedown:{takedown_id}",
            {"status": "pending"},
            {"status": "rejected"},
        )
    scrub_deleted(engine)


def scrub_deleted(engine: Engine) -> bool:
    """Leave no copy of deleted rows in the database files (as far as the backend allows).

    SQLite: catalog connections run with ``secure_delete=ON`` (deleted cells and
    freed pages are zeroed), and a ``wal_checkpoint(TRUNCATE)`` copies the WAL
    into the database and truncates it to zero bytes, so the frames that held
    the row before its deletion are gone. The checkpoint needs a moment with no
    reader on an older snapshot; it is retried for about a second.
    PostgreSQL: a plain ``VACUUM`` of the takedown and registry tables marks the
    dead tuples' space free (it does not promise to overwrite it; see docs/web.md).

    Returns:
        True when the scrub completed (SQLite: the WAL is empty).
    """
    # The deletion has committed: a failing scrub must not turn it into an error page.
    try:
        if engine.dialect.name == "sqlite":
            if engine.url.database in (None, "", ":memory:"):
                return True
            for _ in range(40):
                with engine.connect() as conn:
                    result = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
                if result is None or int(result[0]) == 0:
                    return True
                time.sleep(0.025)
            return False
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM takedowns, takedown_cases, registry_subjects")
            return True
    except SQLAlchemyError:
        return False
    return False


def rotate_requester_key(engine: Engine, sealer: Sealer) -> int:
    """Re-seal every stored request with the sealer's first key; returns how many.

    After it, the older keys can be dropped from ``requester_key`` (or the key file).
    """
    count = 0
    with engine.begin() as conn:
        rows = conn.execute(
            select(TakedownRow.id, TakedownRow.sealed).where(TakedownRow.sealed.is_not(None))
        ).all()
        for r in rows:
            conn.execute(
                update(TakedownRow)
                .where(TakedownRow.id == r.id)
                .values(sealed=sealer.reseal(r.sealed))
            )
            count += 1
        _audit(conn, SYSTEM, "takedown.rotate_key", "takedowns", None, {"resealed": count})
    scrub_deleted(engine)
    return count


def _takedown_by_token(conn: Connection, token: str) -> Any:
    return conn.execute(
        select(TakedownRow).where(TakedownRow.token_hash == token_digest(token))
    ).first()


# what the requester's link says: pending (waiting for a reviewer), active, rejected
_REQUESTER_STATES = {"pending": "pending", "accepted": "active", "rejected": "rejected"}


def takedown_status(
    engine: Engine, token: str, sealer: Sealer | None = None
) -> TakedownStatus | None:
    """What the requester may see: the state of the request, the subject it asks to
    protect (their own names, when ``sealer`` is given) and the state of each
    linked model. Never another person's data, nor what a pending request would match."""
    with engine.connect() as conn:
        td = _takedown_by_token(conn, token)
        if td is None:
            return None
        models = tuple(
            TakedownModel(
                case_id=r.id,
                name=(r.repo or r.path.rsplit("/", 1)[-1]),
                url=r.url,
                status={
                    "open": "under review",
                    "escalated": "under review",
                    "confirmed": "removal requested",
                    "dismissed": "no violation found",
                }.get(r.status, r.status),
            )
            for r in conn.execute(
                select(
                    CaseRow.id, CaseRow.status, ArtifactRow.repo, ArtifactRow.path, ArtifactRow.url
                )
                .join(TakedownCaseRow, TakedownCaseRow.case_id == CaseRow.id)
                .join(ArtifactRow, ArtifactRow.id == CaseRow.artifact_id)
                .where(TakedownCaseRow.takedown_id == td.id)
                .order_by(CaseRow.id)
            )
        )
    names: tuple[str, ...] = ()
    if sealer is not None and td.sealed:
        data = sealer.open(td.sealed)
        names = tuple(data.get("names", ())) + tuple(data.get("aliases", ()))
    state = _REQUESTER_STATES.get(td.status, td.status)
    return TakedownStatus(td.number, state, _utc(td.created_at), models, names)


def withdraw_takedown(engine: Engine, token: str) -> bool:
    """Delete the request, every piece of personal data in it and the registry entry it made.

    One transaction deletes the request (its case links cascade) and, when this
    request put its person in the registry, that subject: no interleaving with an
    acceptance or a search leaves either behind (the ``DELETE ... RETURNING`` waits
    for a concurrent acceptance and sees the subject it added). Then
    :func:`scrub_deleted` removes the copies in the database files. What remains
    is one anonymous audit line and the cases themselves (a model that breaks the
    policy stays in review, but no longer points at the person).
    Returns False when the token is unknown (already withdrawn).
    """
    with engine.begin() as conn:
        gone = conn.execute(
            delete(TakedownRow)
            .where(TakedownRow.token_hash == token_digest(token))
            .returning(TakedownRow.id, TakedownRow.subject_id)
        ).first()
        if gone is None:
            return False
        conn.execute(delete(TakedownCaseRow).where(TakedownCaseRow.takedown_id == gone.id))
        if gone.subject_id:
            conn.execute(
                delete(SubjectRow).where(
                    SubjectRow.id == gone.subject_id, SubjectRow.source == "takedown"
                )
            )
        _audit(conn, ANONYMOUS, "takedown.withdraw", "takedown", None, None)
    scrub_deleted(engine)
    return True


def takedown_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TakedownRow)).scalar_one())
