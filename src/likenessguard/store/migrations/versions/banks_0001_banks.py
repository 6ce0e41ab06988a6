"""banks: banks, bank_entries, matches, fingerprints.

Revision ID: banks_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "banks_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("banks",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("negative", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "bank_entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bank_id", BigId, sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(512)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("autov1", sa.String(8)),
        sa.Column("autov2", sa.String(10)),
        sa.Column("autov3", sa.String(64)),
        sa.Column("blake3", sa.String(64)),
        sa.Column("crc32", sa.String(8)),
        sa.Column("fingerprint", sa.Text),
        sa.Column("fp_kind", sa.String(16)),
        sa.Column("source_url", sa.String(2048)),
        sa.Column("reason", sa.Text),
        sa.Column("subject", sa.String(256)),
        sa.Column("added_by", sa.String(256)),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    for col in ("bank_id", "sha256", "autov1", "autov2", "autov3", "blake3", "crc32"):
        op.create_index(f"ix_bank_entries_{col}", "bank_entries", [col])
    op.create_table(
        "matches",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "artifact_id",
            BigId,
            sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("bank", sa.String(128), nullable=False),
        sa.Column(
            "entry_id",
            BigId,
            sa.ForeignKey("bank_entries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("negative", sa.Boolean, nullable=False),
        sa.Column("matched_at", TS, nullable=False),
        sa.UniqueConstraint("artifact_id", "entry_id", name="uq_matches_artifact_entry"),
    )
    for col in ("artifact_id", "bank", "entry_id"):
        op.create_index(f"ix_matches_{col}", "matches", [col])
    op.create_table(
        "fingerprints",
        sa.Column(
            "artifact_id",
            BigId,
            sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("modules", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
    )
    op.create_index("ix_fingerprints_kind", "fingerprints", ["kind"])


def downgrade() -> None:
    op.drop_table("fingerprints")
    op.drop_table("matches")
    op.drop_table("bank_entries")
    op.drop_table("banks")
