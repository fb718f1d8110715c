"""Idempotent answers on SQL: one row per (actor, key); the primary key refuses a twin."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrator.store import tables as t
from orchestrator.store.base.answers import StoredAnswer
from orchestrator.store.base.errors import DuplicateAnswer
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from, values_of


class SqlAnswers:
    """The `Answers` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._c = tx.conn

    async def get(self, actor: str, key: str) -> StoredAnswer | None:
        k = t.idempotency_keys.c
        row = (
            await self._c.execute(
                sa.select(t.idempotency_keys).where(k.actor == actor, k.key == key)
            )
        ).first()
        return None if row is None else record_from(StoredAnswer, row)

    async def put(self, actor: str, key: str, answer: StoredAnswer, at: datetime) -> None:
        values = {"actor": actor, "key": key, **values_of(answer), "created_at": at}
        try:
            await self._c.execute(t.idempotency_keys.insert().values(values))
        except IntegrityError as exc:
            raise DuplicateAnswer(f"{actor}/{key}") from exc
