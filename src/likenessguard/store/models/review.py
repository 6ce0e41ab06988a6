"""Review tables: accounts, sessions, cases, decisions, the audit log and takedown requests.

The review app's state lives beside the catalog (one database, its own Alembic
branch ``review``) so a case always points at a real ``artifacts`` row and a
backup of the catalog is a backup of every decision made on it.

Secrets are never stored: passwords as argon2 hashes, API tokens, session ids
and takedown status tokens as SHA-256 digests of high-entropy random strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from likenessguard.store.db import Base
from likenessguard.store.models.core import BigId


class UserRow(Base):
    """A local account. ``role`` is admin, reviewer or viewer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiTokenRow(Base):
    """An API token for automation; only its SHA-256 digest is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class SessionRow(Base):
    """A server-side login session, so logout and disabling a user end it at once."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CaseRow(Base):
    """One artifact that needs a human decision.

    Severity, score, labels, banks and the filter columns are copied from the
    artifact at sync time so the queue is one indexed range scan: ``rank_key``
    sorts severity desc, score desc, age asc, id asc as a single ascending string.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    artifact_id: Mapped[int] = mapped_column(
        ForeignKey("artifacts.id", ondelete="CASCADE"), unique=True
    )
    queue: Mapped[str] = mapped_column(String(16), default="main")
    status: Mapped[str] = mapped_column(String(16), default="open")
    severity: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    labels: Mapped[str] = mapped_column(String(128), default="")
    banks: Mapped[str] = mapped_column(String(512), default="")
    hub: Mapped[str | None] = mapped_column(String(32))
    base_family: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(256))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rank_key: Mapped[str] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_cases_queue_rank", "queue", "status", "rank_key"),
        Index("ix_cases_counts", "queue", "status", "severity"),
        Index("ix_cases_hub", "hub"),
        Index("ix_cases_subject", "subject"),
        Index("ix_cases_base_family", "base_family"),
    )


class DecisionRow(Base):
    """A reviewer's decision on a case: confirm, dismiss or escalate, with a note."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    bank: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """One append-only audit line. Code never updates or deletes these rows, and on
    PostgreSQL a trigger refuses it (SQLite: triggers too, see the migration)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TakedownRow(Base):
    """A takedown request from a person depicted (or someone acting for them).

    ``status`` is ``pending`` (waiting for a reviewer; acts on nothing),
    ``accepted`` (its person is in the registry and its search runs) or
    ``rejected``. What the requester gave (names, aliases, handles, links,
    contact) is one encrypted token in ``sealed`` (``registry.sealing``); it is
    erased on rejection, and withdrawing deletes the row (and its links), leaving
    only an anonymous audit line.
    """

    __tablename__ = "takedowns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    sealed: Mapped[str | None] = mapped_column(Text)
    relation: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(128))
    searched_through: Mapped[int] = mapped_column(BigId, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TakedownCaseRow(Base):
    """Links a takedown request to the cases its search opened or found."""

    __tablename__ = "takedown_cases"

    takedown_id: Mapped[int] = mapped_column(
        ForeignKey("takedowns.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True
    )
