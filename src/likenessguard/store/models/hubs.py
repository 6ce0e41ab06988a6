"""Hub crawl state: last seen commit per repo, crawl cursors, webhook events, hub listings.

These tables are what make crawls incremental (a repo whose commit did not move
is not read again), resumable (a cursor and per-repo marks survive a kill) and
what makes webhook deliveries durable (an event is a row before the hub gets
its 202, and a delivery id or (repo, commit) can only be recorded once).
``hub_removals`` remembers which catalogued files their host took down, and
when, without deleting the artifact rows that evidence and review hang on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from likenessguard.store.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class HubRepoRow(Base):
    """One repo (or Civitai model) a crawl has seen, with the commit it last finished."""

    __tablename__ = "hub_repos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hub: Mapped[str] = mapped_column(String(32))
    repo: Mapped[str] = mapped_column(String(512))
    last_commit: Mapped[str | None] = mapped_column(String(64))
    last_modified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    files: Mapped[int] = mapped_column(Integer, default=0)
    last_crawled: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("hub", "repo", name="uq_hub_repos_hub_repo"),)


class CrawlCursorRow(Base):
    """Where a named crawl (hub + query) stands: its page cursor and its watermark."""

    __tablename__ = "crawl_cursors"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    hub: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[str | None] = mapped_column(Text)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HubEventRow(Base):
    """A webhook delivery (or sweep finding) waiting for a worker to scan the repo."""

    __tablename__ = "hub_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hub: Mapped[str] = mapped_column(String(32))
    repo: Mapped[str] = mapped_column(String(512))
    revision: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(700), unique=True)
    delivery_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_hub_events_ready", "status", "available_at"),)


class HubListingRow(Base):
    """A hub's own listing of a model (Civitai), in the shared listing-record shape."""

    __tablename__ = "hub_listings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hub: Mapped[str] = mapped_column(String(32))
    listing_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[str | None] = mapped_column(String(64))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("hub", "listing_id", name="uq_hub_listings_hub_id"),)


class HubRemovalRow(Base):
    """A catalogued file its hub no longer serves at the repo's head, and since when.

    ``reason`` is ``repo-deleted`` (a delete webhook), ``file-removed`` (a newer
    commit no longer has the path) or ``superseded`` (a newer commit has the
    path; the row is kept because a review case hangs on it). The artifact row
    stays; only deleting the artifact deletes this mark.
    """

    __tablename__ = "hub_removals"

    artifact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    hub: Mapped[str] = mapped_column(String(32))
    repo: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(String(32))
    commit: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_hub_removals_repo", "hub", "repo"),)
