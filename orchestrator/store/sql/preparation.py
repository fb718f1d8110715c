"""Task submissions on SQL: one row per (session, task), the latest submission."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrator.store import tables as t
from orchestrator.store.base.preparation import Submission
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from, values_of


class SqlSubmissions:
    """The `Submissions` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def put_submission(self, submission: Submission) -> None:
        await self._tx.upsert_row(
            t.task_submissions, values_of(submission), ["session_id", "task_id"]
        )

    async def get_submissions(self, session_id: str) -> dict[str, Submission]:
        s = t.task_submissions.c
        rows = await self._c.execute(
            sa.select(t.task_submissions).where(s.session_id == session_id)
        )
        return {r.task_id: record_from(Submission, r) for r in rows}
