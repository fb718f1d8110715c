"""The audit log on SQL: one row per entry, read newest first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from orchestrator.domain.models import AuditEntry
from orchestrator.store import tables as t
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import audit_from, audit_values


class SqlAuditLog:
    """The `AuditLog` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._c = tx.conn

    async def record(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        reason: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        # Built as the domain's entry first, so it is validated as every entry is.
        entry = AuditEntry(
            at=at, actor=actor, action=action, target=target, reason=reason, detail=detail or {}
        )
        await self._c.execute(t.audit_log.insert().values(audit_values(entry)))

    async def recent(self, *, target: str | None = None, limit: int = 100) -> list[AuditEntry]:
        a = t.audit_log.c
        stmt = sa.select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if target is not None:
            stmt = stmt.where(a.target == target)
        return [audit_from(r) for r in await self._c.execute(stmt)]
