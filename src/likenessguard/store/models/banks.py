"""Bank tables: banks, their entries, matches of catalog artifacts, stored fingerprints.

``matches`` is what lets the web app filter the review queue by bank, and
``fingerprints`` is what lets ``rematch`` and ``mirrors`` compare the whole
catalog again without re-reading a single model file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from likenessguard.store.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class BankRow(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BankEntryRow(Base):
    __tablename__ = "bank_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("banks.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(512))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    autov1: Mapped[str | None] = mapped_column(String(8), index=True)
    autov2: Mapped[str | None] = mapped_column(String(10), index=True)
    autov3: Mapped[str | None] = mapped_column(String(64), index=True)
    blake3: Mapped[str | None] = mapped_column(String(64), index=True)
    crc32: Mapped[str | None] = mapped_column(String(8), index=True)
    fingerprint: Mapped[str | None] = mapped_column(Text)
    fp_kind: Mapped[str | None] = mapped_column(String(16))
    source_url: Mapped[str | None] = mapped_column(String(2048))
    reason: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(256))
    added_by: Mapped[str | None] = mapped_column(String(256))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class MatchRow(Base):
    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("artifact_id", "entry_id", name="uq_matches_artifact_entry"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    artifact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("artifacts.id", ondelete="CASCADE"), index=True
    )
    bank: Mapped[str] = mapped_column(String(128), index=True)
    entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("bank_entries.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(16))
    similarity: Mapped[float] = mapped_column(Float)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FingerprintRow(Base):
    __tablename__ = "fingerprints"

    artifact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), index=True)
    modules: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
