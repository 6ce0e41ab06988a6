"""core: the artifacts table.

Revision ID: core_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("uri", sa.String(2048), nullable=False, unique=True),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("hub", sa.String(32), nullable=False),
        sa.Column("repo", sa.String(512)),
        sa.Column("revision", sa.String(64)),
        sa.Column("url", sa.String(2048)),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger),
        sa.Column("inode", sa.BigInteger),
        sa.Column("format", sa.String(32)),
        sa.Column("kind", sa.String(32)),
        sa.Column("base_family", sa.String(32)),
        sa.Column("key_scheme", sa.String(32)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("autov1", sa.String(8)),
        sa.Column("autov2", sa.String(10)),
        sa.Column("autov3", sa.String(64)),
        sa.Column("blake3", sa.String(64)),
        sa.Column("crc32", sa.String(8)),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("subject", sa.String(256)),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_scanned", sa.DateTime(timezone=True), nullable=False),
    )
    for col in (
        "hub",
        "repo",
        "kind",
        "base_family",
        "sha256",
        "autov1",
        "autov2",
        "autov3",
        "blake3",
        "crc32",
        "subject",
    ):
        op.create_index(f"ix_artifacts_{col}", "artifacts", [col])
    op.create_index("ix_artifacts_queue", "artifacts", ["severity", "score", "first_seen"])


def downgrade() -> None:
    op.drop_table("artifacts")
