"""Done actions on SQL: one row per key; the key's uniqueness makes each action once-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from orchestrator.store import tables as t
from orchestrator.store.sql.engine import Transaction


class SqlDoneActions:
    """The `DoneActions` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def mark_done(self, key: str, session_id: str, kind: str, at: datetime) -> bool:
        stmt = self._tx.insert(t.done_actions).values(
            key=key, session_id=session_id, kind=kind, at=at
        )
        result = await self._c.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount)

    async def done_keys(self, session_ids: Sequence[str]) -> set[str]:
        d = t.done_actions.c
        out: set[str] = set()
        for cond in self._tx.in_(d.session_id, list(session_ids)):
            out.update((await self._c.execute(sa.select(d.key).where(cond))).scalars())
        return out
