"""hubs: hub_removals, files their host took down (kept in the catalog, marked).

Revision ID: hubs_0002
Revises: hubs_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hubs_0002"
down_revision: str | None = "hubs_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_removals",
        sa.Column(
            "artifact_id",
            BigId,
            sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("hub", sa.String(32), nullable=False),
        sa.Column("repo", sa.String(512), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("commit", sa.String(64)),
        sa.Column("removed_at", TS, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
    )
    op.create_index("ix_hub_removals_repo", "hub_removals", ["hub", "repo"])


def downgrade() -> None:
    op.drop_index("ix_hub_removals_repo", table_name="hub_removals")
    op.drop_table("hub_removals")
