"""hubs: crawl state per repo, crawl cursors, webhook event queue, hub listings.

Revision ID: hubs_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hubs_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("hubs",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_repos",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("hub", sa.String(32), nullable=False),
        sa.Column("repo", sa.String(512), nullable=False),
        sa.Column("last_commit", sa.String(64)),
        sa.Column("last_modified", TS),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("last_crawled", TS, nullable=False),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("hub", "repo", name="uq_hub_repos_hub_repo"),
    )
    op.create_table(
        "crawl_cursors",
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("hub", sa.String(32), nullable=False),
        sa.Column("cursor", sa.Text),
        sa.Column("watermark", TS),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "hub_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("hub", sa.String(32), nullable=False),
        sa.Column("repo", sa.String(512), nullable=False),
        sa.Column("revision", sa.String(64)),
        sa.Column("dedupe_key", sa.String(700), nullable=False, unique=True),
        sa.Column("delivery_id", sa.String(128)),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("lease_until", TS),
        sa.Column("finished_at", TS),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_hub_events_ready", "hub_events", ["status", "available_at"])
    op.create_table(
        "hub_listings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("hub", sa.String(32), nullable=False),
        sa.Column("listing_id", sa.String(128), nullable=False),
        sa.Column("revision", sa.String(64)),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.UniqueConstraint("hub", "listing_id", name="uq_hub_listings_hub_id"),
    )


def downgrade() -> None:
    op.drop_table("hub_listings")
    op.drop_index("ix_hub_events_ready", table_name="hub_events")
    op.drop_table("hub_events")
    op.drop_table("crawl_cursors")
    op.drop_table("hub_repos")
