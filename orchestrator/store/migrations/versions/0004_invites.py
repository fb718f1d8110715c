"""Invites: the outbox, per-site deliveries and their attempts, RSVPs, feed tokens, secrets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_outbox_session_id", "outbox", ["session_id"])
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "invite_deliveries",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_delivery_attempts_session_id", "delivery_attempts", ["session_id"])
    op.create_table(
        "rsvps",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("response", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(400), nullable=False),
    )
    op.create_table(
        "feed_tokens",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "app_secrets",
        "feed_tokens",
        "rsvps",
        "delivery_attempts",
        "invite_deliveries",
        "outbox",
    ):
        op.drop_table(table)
