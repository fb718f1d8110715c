"""Credentials on SQL: API tokens, calendar-feed tokens and the app's secrets."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from orchestrator.domain.models import Principal, Role
from orchestrator.store import tables as t
from orchestrator.store.base.tokens import TokenRecord
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from, values_of


class SqlTokens:
    """The `Tokens` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def add(self, record: TokenRecord, token_hash: str) -> None:
        values = {**values_of(record), "token_hash": token_hash, "revoked_at": None}
        await self._c.execute(t.api_tokens.insert().values(values))

    async def principal_for(self, token_hash: str) -> Principal | None:
        k = t.api_tokens.c
        row = (
            await self._c.execute(
                sa.select(t.api_tokens).where(k.token_hash == token_hash, k.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        return Principal(
            role=Role(row.role),
            token_id=row.id,
            site_id=row.site_id,
            email=row.email,
            label=row.label,
        )

    async def revoke(self, token_id: str, at: datetime) -> bool:
        k = t.api_tokens.c
        res = await self._c.execute(
            t.api_tokens.update()
            .where(k.id == token_id, k.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(res.rowcount)

    async def all(self) -> list[TokenRecord]:
        rows = await self._c.execute(sa.select(t.api_tokens).order_by(t.api_tokens.c.created_at))
        return [record_from(TokenRecord, r) for r in rows]

    async def set_feed(self, site_id: str, token_hash: str, at: datetime) -> None:
        await self._c.execute(t.feed_tokens.delete().where(t.feed_tokens.c.site_id == site_id))
        await self._c.execute(
            t.feed_tokens.insert().values(site_id=site_id, token_hash=token_hash, created_at=at)
        )

    async def site_for_feed(self, token_hash: str) -> str | None:
        f = t.feed_tokens.c
        found = await self._c.scalar(sa.select(f.site_id).where(f.token_hash == token_hash))
        return str(found) if found is not None else None

    async def secret(self, name: str, candidate: str) -> str:
        stmt = self._tx.insert(t.app_secrets).values(name=name, value=candidate)
        await self._c.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        value = await self._c.scalar(
            sa.select(t.app_secrets.c.value).where(t.app_secrets.c.name == name)
        )
        return str(value)
