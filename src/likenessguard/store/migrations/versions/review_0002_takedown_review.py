"""review: takedown requests wait for review, and their requester data is encrypted.

Adds ``sealed`` (one Fernet token holding names, aliases, handles, links and
contact), ``reviewed_by`` / ``reviewed_at`` and an index on ``status``; seals
every existing request with the requester key (``requester_key`` setting, or the
key file in the data directory) and drops the plaintext columns. A request the
old code had already searched (``active``) had already put its person in the
registry, so it becomes ``accepted``; the others wait for a reviewer.

On SQLite ``secure_delete`` is on while the table is rebuilt, so the pages that
held the plaintext are zeroed rather than left in the free list.

Revision ID: review_0002
Revises: review_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0002"
down_revision: str | None = "review_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
PLAINTEXT = ("names", "aliases", "handles", "links", "contact")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete=ON")
    with op.batch_alter_table("takedowns") as batch:
        batch.add_column(sa.Column("sealed", sa.Text))
        batch.add_column(sa.Column("reviewed_by", sa.String(64)))
        batch.add_column(sa.Column("reviewed_at", TS))
    table = sa.table(
        "takedowns",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("sealed", sa.Text),
        *(sa.column(name, sa.JSON if name != "contact" else sa.String) for name in PLAINTEXT),
    )
    rows = bind.execute(sa.select(table)).all()
    if rows:
        from likenessguard.config import load_settings
        from likenessguard.registry.sealing import requester_sealer

        sealer = requester_sealer(load_settings().get("requester_key", ""))
        for row in rows:
            payload = {name: getattr(row, name) for name in PLAINTEXT}
            bind.execute(
                sa.update(table)
                .where(table.c.id == row.id)
                .values(
                    sealed=sealer.seal(payload),
                    status="accepted" if row.status == "active" else "pending",
                )
            )
    with op.batch_alter_table("takedowns") as batch:
        for name in PLAINTEXT:
            batch.drop_column(name)
    op.create_index("ix_takedowns_status", "takedowns", ["status"])


def downgrade() -> None:
    # The plaintext columns come back empty: decrypting into them would undo the point.
    op.drop_index("ix_takedowns_status", table_name="takedowns")
    with op.batch_alter_table("takedowns") as batch:
        for name in PLAINTEXT[:-1]:
            batch.add_column(sa.Column(name, sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("contact", sa.String(320), nullable=False, server_default=""))
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by")
        batch.drop_column("sealed")
