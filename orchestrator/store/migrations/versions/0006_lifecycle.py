"""Lifecycle: the actions already done (transitions, reminders), so none is done twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "done_actions",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_done_actions_session_id", "done_actions", ["session_id"])


def downgrade() -> None:
    op.drop_table("done_actions")
