"""review: accounts, sessions, cases, decisions, audit log, takedown requests.

Revision ID: review_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("review",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

# The audit log is append-only: the database itself refuses edits, so a bug or a
# hand-typed UPDATE cannot rewrite history.
PG_AUDIT_GUARD = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION USING MESSAGE = "
    "'audit_log is append-only: ' || TG_OP || ' is not allowed'; END; "
    "$$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
SQLITE_AUDIT_GUARD = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed'); END",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used", TS),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table(
        "cases",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "artifact_id",
            BigId,
            sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("queue", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("labels", sa.String(128), nullable=False),
        sa.Column("banks", sa.String(512), nullable=False),
        sa.Column("hub", sa.String(32)),
        sa.Column("base_family", sa.String(32)),
        sa.Column("subject", sa.String(256)),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("rank_key", sa.String(64), nullable=False),
        sa.Column("assignee_id", BigId, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_cases_queue_rank", "cases", ["queue", "status", "rank_key"])
    op.create_index("ix_cases_counts", "cases", ["queue", "status", "severity"])
    op.create_index("ix_cases_hub", "cases", ["hub"])
    op.create_index("ix_cases_subject", "cases", ["subject"])
    op.create_index("ix_cases_base_family", "cases", ["base_family"])
    op.create_table(
        "decisions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("bank", sa.String(128)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_decisions_case_id", "decisions", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_table(
        "takedowns",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("names", sa.JSON, nullable=False),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.Column("handles", sa.JSON, nullable=False),
        sa.Column("links", sa.JSON, nullable=False),
        sa.Column("contact", sa.String(320), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(128)),
        sa.Column("searched_through", BigId, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "takedown_cases",
        sa.Column(
            "takedown_id",
            BigId,
            sa.ForeignKey("takedowns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "case_id", BigId, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_takedown_cases_case_id", "takedown_cases", ["case_id"])
    guard = PG_AUDIT_GUARD if op.get_bind().dialect.name == "postgresql" else SQLITE_AUDIT_GUARD
    for statement in guard:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "takedown_cases",
        "takedowns",
        "audit_log",
        "decisions",
        "cases",
        "web_sessions",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
