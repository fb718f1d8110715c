"""The join gateway's nonces and link openings on SQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from orchestrator.store import tables as t
from orchestrator.store.base.joins import LinkOpening
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from, values_of


class SqlJoinLinks:
    """The `JoinLinks` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def nonces(self, subject_id: str) -> dict[str, int]:
        n = t.join_nonces.c
        rows = await self._c.execute(
            sa.select(n.site_id, n.nonce).where(n.subject_id == subject_id)
        )
        return {r.site_id: int(r.nonce) for r in rows}

    async def rotate(self, subject_id: str, site_id: str, at: datetime) -> int:
        n = t.join_nonces.c
        stmt = self._tx.insert(t.join_nonces).values(
            subject_id=subject_id, site_id=site_id, nonce=1, rotated_at=at
        )
        await self._c.execute(
            stmt.on_conflict_do_update(
                index_elements=["subject_id", "site_id"],
                set_={"nonce": t.join_nonces.c.nonce + 1, "rotated_at": at},
            )
        )
        value = await self._c.scalar(
            sa.select(n.nonce).where(n.subject_id == subject_id, n.site_id == site_id)
        )
        return int(value or 0)

    async def record_opening(self, opening: LinkOpening) -> None:
        await self._c.execute(t.link_openings.insert().values(values_of(opening)))

    async def openings(self, session_id: str) -> list[LinkOpening]:
        o = t.link_openings.c
        rows = await self._c.execute(
            sa.select(o.subject_id, o.site_id, o.session_id, o.at, o.outcome)
            .where(o.session_id == session_id)
            .order_by(o.at, o.id)
        )
        return [record_from(LinkOpening, r) for r in rows]
