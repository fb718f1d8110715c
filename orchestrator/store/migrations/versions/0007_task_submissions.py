"""Preparation: the documents sites submit for a session's tasks.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_submissions",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("task_id", sa.String(200), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("submitted_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(400), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_submissions")
