"""Series: the same meeting on a rhythm (DESIGN 10); occurrences are sessions that name it.

A series keeps its rule, its zone and its first occurrence forever; each occurrence is an ordinary
session (its claims under the same overlap rule) carrying `series_id` and `occurrence` (its
original start: its RECURRENCE-ID) and the fields changed on it alone (`exception_fields`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("agenda", sa.Text, nullable=False, server_default=""),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=True),
        sa.Column("recurrence", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("first_start", UTCDateTime, nullable=False),
        sa.Column("first_end", UTCDateTime, nullable=False),
        sa.Column("host_site_id", sa.String(64), nullable=False),
        sa.Column("chair_name", sa.String(200), nullable=False),
        sa.Column("chair_email", sa.String(320), nullable=False),
        sa.Column("leader_groups", sa.JSON, nullable=False),
        sa.Column("speaking_sites", sa.JSON, nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer, nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("skipped", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_series_first_start", "series", ["first_start"])
    op.create_index("ix_series_chair_email", "series", ["chair_email"])
    op.create_table(
        "series_sites",
        sa.Column(
            "series_id",
            sa.String(36),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_series_sites_site", "series_sites", ["site_id"])
    # Plain ADD COLUMNs on both backends (no table rebuild: SQLite would cascade deletes).
    op.add_column("sessions", sa.Column("series_id", sa.String(36), nullable=True))
    op.add_column("sessions", sa.Column("occurrence", UTCDateTime, nullable=True))
    op.add_column("sessions", sa.Column("exception_fields", sa.JSON, nullable=True))
    op.create_index(
        "ix_sessions_series_occurrence", "sessions", ["series_id", "occurrence"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_series_occurrence", table_name="sessions")
    for column in ("exception_fields", "occurrence", "series_id"):
        op.drop_column("sessions", column)
    op.drop_table("series_sites")
    op.drop_table("series")
