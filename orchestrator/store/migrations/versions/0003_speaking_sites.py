"""Sessions remember which sites speak when the others must join as visitors.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both backends (no table rebuild: SQLite would cascade deletes).
    op.add_column("sessions", sa.Column("speaking_sites", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "speaking_sites")
