"""Attendance: event-sync events keyed by their exact instant.

The natural key of an event-sync event (room, breakout, occupant JID, event, instant) held the
instant with six significant digits, so distinct events of one occupant within hours shared a
key and all but the first were dropped. Every event-sync row logged before is re-keyed from its
own fields, the instant as whole microseconds, so a resend of it is still recognised.

This module keeps its own copy of the key's shape: a migration means what it meant when written.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_CHUNK = 5000
_EVENT_NAMES = {"join": "muc-occupant-joined", "leave": "muc-occupant-left"}

events = sa.table(
    "attendance_events",
    sa.column("id", sa.BigInteger),
    sa.column("source", sa.String),
    sa.column("kind", sa.String),
    sa.column("room", sa.String),
    sa.column("occupant", sa.String),
    sa.column("at", UTCDateTime),
    sa.column("dedupe_key", sa.String),
    sa.column("data", sa.JSON),
)


def _fit(key: str) -> str:
    return key if len(key) <= 400 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def exact_key(row: Any) -> str:
    """The key migration 0008 gives an event-sync row (the shape of `sources.sync_key`)."""
    micros = (row.at - _EPOCH) // _MICRO
    room = row.room or ""
    if row.kind in _EVENT_NAMES:
        breakout = (row.data or {}).get("breakout") or ""
        jid = row.occupant or ""
        if breakout and jid.endswith("#" + breakout):
            jid = jid[: -len(breakout) - 1]
        return _fit(f"{room}|{breakout}|{jid}|{_EVENT_NAMES[row.kind]}|{micros}")
    if row.kind == "created":
        # the breakout's id was kept only in the key: room|<breakout>|created|<instant>
        parts = row.dedupe_key.rsplit("|", 3)
        own = parts[1] if len(parts) == 4 else ""
        return _fit(f"{room}|{own}|created|{micros}")
    if row.kind == "destroyed":
        return _fit(f"{room}||destroyed|{micros}")
    return str(row.dedupe_key)


def upgrade() -> None:
    conn = op.get_bind()
    c = events.c
    update = (
        sa.update(events)
        .where(c.id == sa.bindparam("row_id"))
        .values(dedupe_key=sa.bindparam("new_key"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(c.id, c.kind, c.room, c.occupant, c.at, c.dedupe_key, c.data)
            .where(c.source == "jitsi", c.id > last)
            .order_by(c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        changed = [
            {"row_id": r.id, "new_key": key} for r in rows if (key := exact_key(r)) != r.dedupe_key
        ]
        if changed:
            conn.execute(update, changed)
        last = rows[-1].id


def downgrade() -> None:
    """The coarse keys are not rebuilt: they lost events, and exact keys dedupe resends too."""
