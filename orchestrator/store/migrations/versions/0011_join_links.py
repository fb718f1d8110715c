"""The join gateway (DESIGN 10): each (series or session, site) link's nonce, and every opening
of a gateway link.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "join_nonces",
        sa.Column("subject_id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.Integer, nullable=False),
        sa.Column("rotated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "link_openings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_link_openings_session", "link_openings", ["session_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_link_openings_session", table_name="link_openings")
    op.drop_table("link_openings")
    op.drop_table("join_nonces")
