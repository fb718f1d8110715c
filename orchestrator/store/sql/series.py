"""Series on SQL: one row per series, its sites as ordered rows of `series_sites`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestrator.domain.models import Series, SeriesStatus, Session, SessionStatus
from orchestrator.store import tables as t
from orchestrator.store.base.series import SeriesQuery
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import series_from, series_values
from orchestrator.store.sql.sessions import SqlSessions


class SqlSeries:
    """The `SeriesRepository` on SQLAlchemy."""

    def __init__(self, tx: Transaction, sessions: SqlSessions) -> None:
        self._tx = tx
        self._c = tx.conn
        self._sessions = sessions

    async def _insert_sites(self, series: Series) -> None:
        if series.sites:
            await self._c.execute(
                t.series_sites.insert(),
                [
                    {"series_id": series.id, "site_id": site, "position": i}
                    for i, site in enumerate(series.sites)
                ],
            )

    async def add(self, series: Series) -> None:
        await self._c.execute(t.series.insert().values(series_values(series)))
        await self._insert_sites(series)

    async def update(self, series: Series) -> None:
        row = series_values(series)
        row.pop("id")
        row.pop("created_at")
        await self._c.execute(t.series.update().where(t.series.c.id == series.id).values(row))
        await self._c.execute(
            t.series_sites.delete().where(t.series_sites.c.series_id == series.id)
        )
        await self._insert_sites(series)

    async def _load(self, rows: Sequence[Any]) -> list[Series]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        ss = t.series_sites.c
        by_series: dict[str, list[str]] = {i: [] for i in ids}
        for cond in self._tx.in_(ss.series_id, ids):
            res = await self._c.execute(
                sa.select(ss.series_id, ss.site_id).where(cond).order_by(ss.series_id, ss.position)
            )
            for r in res:
                by_series[r.series_id].append(r.site_id)
        return [series_from(r, tuple(by_series[r.id])) for r in rows]

    async def get(self, series_id: str) -> Series | None:
        rows = (await self._c.execute(sa.select(t.series).where(t.series.c.id == series_id))).all()
        found = await self._load(rows)
        return found[0] if found else None

    async def find(self, query: SeriesQuery) -> list[Series]:
        s = t.series.c
        stmt = sa.select(t.series)
        if query.chair_email is not None:
            stmt = stmt.where(sa.func.lower(s.chair_email) == query.chair_email.lower())
        if query.status is SeriesStatus.CANCELLED:
            stmt = stmt.where(s.status == SeriesStatus.CANCELLED.value)
        elif query.status is not None:
            if query.now is None:
                raise ValueError("an active or ended series is told by `now`: give it")
            o = t.sessions.c
            live = sa.and_(o.series_id == s.id, o.status != SessionStatus.CANCELLED.value)
            ended = sa.and_(
                sa.exists().where(live),
                ~sa.exists().where(live, o.ends_at > query.now),
            )
            stmt = stmt.where(s.status == SeriesStatus.ACTIVE.value)
            stmt = stmt.where(ended if query.status is SeriesStatus.ENDED else ~ended)
        if query.site is not None:
            ss = t.series_sites.c
            stmt = stmt.where(sa.exists().where(ss.series_id == s.id, ss.site_id == query.site))
        stmt = stmt.order_by(s.first_start, s.id).limit(query.limit).offset(query.offset)
        return await self._load((await self._c.execute(stmt)).all())

    async def occurrences(self, series_id: str) -> list[Session]:
        s = t.sessions.c
        rows = (
            await self._c.execute(
                sa.select(t.sessions).where(s.series_id == series_id).order_by(s.occurrence, s.id)
            )
        ).all()
        return await self._sessions.load(rows)

    async def bump(self, series_id: str, at: datetime) -> int:
        s = t.series.c
        version = await self._c.scalar(
            t.series.update()
            .where(s.id == series_id)
            .values(version=s.version + 1, updated_at=at)
            .returning(s.version)
        )
        if version is None:
            raise LookupError(f"no series {series_id!r}")
        return int(version)
