"""Attendance: the append-only event log and the frozen records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=True),
        sa.Column("room", sa.String(100), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("occupant", sa.String(300), nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("dedupe_key", sa.String(400), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("after_freeze", sa.Boolean, nullable=False),
        sa.UniqueConstraint("source", "dedupe_key", name="uq_attendance_events_dedupe"),
    )
    op.create_index("ix_attendance_events_session_id", "attendance_events", ["session_id"])
    op.create_table(
        "attendance_records",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("frozen_at", UTCDateTime, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attendance_records")
    op.drop_table("attendance_events")
