"""The outbox on SQL: rows claimed under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orchestrator.store import tables as t
from orchestrator.store.base.outbox import OutboxItem
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from


class SqlOutbox:
    """The `Outbox` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def add(
        self, kind: str, session_id: str, version: int, payload: dict[str, Any], at: datetime
    ) -> None:
        await self._c.execute(
            t.outbox.insert().values(
                kind=kind,
                session_id=session_id,
                version=version,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=at,
                created_at=at,
            )
        )

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        o = t.outbox.c
        stmt = (
            sa.select(t.outbox)
            .where(o.status == "pending", o.next_attempt_at <= now)
            .order_by(o.id)
            .limit(limit)
        )
        if self._tx.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = (await self._c.execute(stmt)).all()
        if not rows:
            return []
        await self._c.execute(
            t.outbox.update()
            .where(o.id.in_([r.id for r in rows]))
            .values(attempts=o.attempts + 1, next_attempt_at=now + lease)
        )
        return [
            record_from(OutboxItem, r, payload=dict(r.payload), attempts=r.attempts + 1)
            for r in rows
        ]

    async def settle(
        self,
        item_id: int,
        *,
        status: str,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "pending":
            values["next_attempt_at"] = retry_at or at
        else:
            values["done_at"] = at
        await self._c.execute(t.outbox.update().where(t.outbox.c.id == item_id).values(values))

    async def pending(self, session_id: str) -> int:
        o = t.outbox.c
        count = await self._c.scalar(
            sa.select(sa.func.count()).where(o.session_id == session_id, o.status == "pending")
        )
        return int(count or 0)
