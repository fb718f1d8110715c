"""Invite deliveries and answers on SQL: the latest state per (session, site), every attempt
logged."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrator.store import tables as t
from orchestrator.store.base.invites import Delivery, Rsvp
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from, values_of


class SqlInvites:
    """The `Invites` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def deliveries(self, session_id: str) -> dict[str, Delivery]:
        d = t.invite_deliveries.c
        rows = await self._c.execute(
            sa.select(t.invite_deliveries).where(d.session_id == session_id)
        )
        return {r.site_id: record_from(Delivery, r) for r in rows}

    async def record_delivery(self, delivery: Delivery, *, ok: bool, error: str | None) -> None:
        await self._tx.upsert_row(
            t.invite_deliveries, values_of(delivery), ["session_id", "site_id"]
        )
        await self._c.execute(
            t.delivery_attempts.insert().values(
                session_id=delivery.session_id,
                site_id=delivery.site_id,
                sequence=delivery.sequence,
                at=delivery.updated_at,
                ok=ok,
                error=error,
            )
        )

    async def put_rsvp(self, session_id: str, rsvp: Rsvp) -> None:
        values = {"session_id": session_id, **values_of(rsvp)}
        await self._tx.upsert_row(t.rsvps, values, ["session_id", "site_id"])

    async def rsvps(self, session_id: str) -> dict[str, Rsvp]:
        rows = await self._c.execute(sa.select(t.rsvps).where(t.rsvps.c.session_id == session_id))
        return {r.site_id: record_from(Rsvp, r) for r in rows}
