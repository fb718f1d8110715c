"""Reports (DESIGN 11): each site's result in each frozen attendance record, in a table made for
aggregating, filled from the records frozen before it existed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_PAGE = 200  # records read at a time: a 10,000-site record is a few megabytes of JSON


def upgrade() -> None:
    results = op.create_table(
        "attendance_results",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("left_early", sa.Boolean, nullable=False),
        sa.Column("connected_minutes", sa.Float, nullable=False),
    )
    assert results is not None
    _back_fill(op.get_bind(), results)


def _back_fill(bind: sa.Connection, results: sa.Table) -> None:
    """Every record frozen so far, its sites' lines copied as the freeze now writes them."""
    records = sa.table("attendance_records", sa.column("session_id"), sa.column("record"))
    after = ""
    while True:
        page = bind.execute(
            sa.select(records.c.session_id, records.c.record)
            .where(records.c.session_id > after)
            .order_by(records.c.session_id)
            .limit(_PAGE)
        ).all()
        rows: list[dict[str, Any]] = []
        for session_id, text in page:
            for site in json.loads(text).get("sites", []):
                rows.append(
                    {
                        "session_id": session_id,
                        "site_id": site["site_id"],
                        "status": site["status"],
                        "late": bool(site.get("late")),
                        "left_early": bool(site.get("left_early")),
                        "connected_minutes": float(site.get("connected_minutes") or 0.0),
                    }
                )
        if rows:
            bind.execute(results.insert(), rows)
        if len(page) < _PAGE:
            return
        after = page[-1][0]


def downgrade() -> None:
    op.drop_table("attendance_results")
