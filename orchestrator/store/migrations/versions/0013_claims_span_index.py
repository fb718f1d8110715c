"""The claims' index by resource and start also holds each claim's end and whether it is active,
so the free-slot search and SQLite's overlap trigger read the index alone, not each claim's row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = ["resource", "starts_at", "ends_at", "active"]


def upgrade() -> None:
    op.create_index("ix_claims_resource_span", "claims", _COLUMNS)
    op.drop_index("ix_claims_resource_start", table_name="claims")


def downgrade() -> None:
    op.create_index("ix_claims_resource_start", "claims", ["resource", "starts_at"])
    op.drop_index("ix_claims_resource_span", table_name="claims")
