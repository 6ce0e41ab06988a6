"""Core tables: one row per scanned artifact, keyed by its location URI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from likenessguard.store.db import Base

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for a big hub.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ArtifactRow(Base):
    """The catalog entry of one artifact. ``record`` is the full ScanRecord JSON;
    the other columns are what queries filter and sort on."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    path: Mapped[str] = mapped_column(String(2048))
    hub: Mapped[str] = mapped_column(String(32), default="local", index=True)
    repo: Mapped[str | None] = mapped_column(String(512), index=True)
    revision: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(2048))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    inode: Mapped[int | None] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str | None] = mapped_column(String(32), index=True)
    base_family: Mapped[str | None] = mapped_column(String(32), index=True)
    key_scheme: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    autov1: Mapped[str | None] = mapped_column(String(8), index=True)
    autov2: Mapped[str | None] = mapped_column(String(10), index=True)
    autov3: Mapped[str | None] = mapped_column(String(64), index=True)
    blake3: Mapped[str | None] = mapped_column(String(64), index=True)
    crc32: Mapped[str | None] = mapped_column(String(8), index=True)
    severity: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    subject: Mapped[str | None] = mapped_column(String(256), index=True)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_scanned: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_artifacts_queue", "severity", "score", "first_seen"),)
