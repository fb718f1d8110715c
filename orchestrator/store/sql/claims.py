"""Claims on SQL: rule 1's rows, refused by the database when they overlap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import MAX_CLAIM_SPAN
from orchestrator.store import tables as t
from orchestrator.store.sql.engine import COPY_THRESHOLD, Transaction, resource_key


def _overlapping(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    c = t.claims.c
    # The lower bound on starts_at keeps the index scan to recent claims, not all history.
    return sa.and_(
        c.active.is_(True),
        c.starts_at < end,
        c.starts_at > start - MAX_CLAIM_SPAN,
        c.ends_at > start,
    )


class SqlClaims:
    """The `Claims` on SQLAlchemy: an exclusion constraint (PostgreSQL) or triggers (SQLite)
    refuse overlaps; advisory locks serialise competing claimers first."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def lock(self, resources: Sequence[str]) -> None:
        await self._tx.lock(resources)

    async def conflicts(
        self,
        resources: Sequence[str],
        start: datetime,
        end: datetime,
        exclude_session: str | None = None,
    ) -> list[Conflict]:
        c = t.claims.c
        out: list[Conflict] = []
        for cond in self._tx.in_(c.resource, list(dict.fromkeys(resources))):
            stmt = sa.select(c.resource, c.session_id, c.starts_at, c.ends_at).where(
                cond, _overlapping(start, end)
            )
            if exclude_session is not None:
                stmt = stmt.where(c.session_id != exclude_session)
            out.extend(
                Conflict(
                    resource=r.resource, session_id=r.session_id, start=r.starts_at, end=r.ends_at
                )
                for r in await self._c.execute(stmt)
            )
        return out

    async def add(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        if not resources:
            return
        if self._tx.pg and len(resources) >= COPY_THRESHOLD:
            await self._tx.copy(
                "claims",
                ("session_id", "resource", "resource_key", "starts_at", "ends_at", "active"),
                [(session_id, r, resource_key(r), start, end, True) for r in resources],
            )
            return
        rows = [
            {
                "session_id": session_id,
                "resource": r,
                "resource_key": resource_key(r),
                "starts_at": start,
                "ends_at": end,
                "active": True,
            }
            for r in resources
        ]
        await self._tx.guard_overlap(self._c.execute(t.claims.insert(), rows))

    async def conflicts_over(
        self,
        resources: Sequence[str],
        ranges: Sequence[tuple[datetime, datetime]],
        exclude_sessions: Sequence[str] = (),
    ) -> list[Conflict]:
        if not ranges:
            return []
        c = t.claims.c
        # One scan from the earliest range to the latest, then each claim kept only if it
        # overlaps one of the ranges: a weekly series reads its weeks, not the gaps between.
        first = min(r[0] for r in ranges)
        last = max(r[1] for r in ranges)
        spans = sorted(ranges)
        out: list[Conflict] = []
        excluded = set(exclude_sessions)
        for cond in self._tx.in_(c.resource, list(dict.fromkeys(resources))):
            stmt = sa.select(c.resource, c.session_id, c.starts_at, c.ends_at).where(
                cond,
                _overlapping(first, last),
                sa.or_(*(sa.and_(c.starts_at < e, c.ends_at > b) for b, e in _merged(spans))),
            )
            for r in await self._c.execute(stmt):
                if r.session_id not in excluded:
                    out.append(
                        Conflict(
                            resource=r.resource,
                            session_id=r.session_id,
                            start=r.starts_at,
                            end=r.ends_at,
                        )
                    )
        return out

    async def add_many(
        self, claims: Sequence[tuple[str, Sequence[str], datetime, datetime]]
    ) -> None:
        records = [
            (session_id, r, resource_key(r), start, end, True)
            for session_id, resources, start, end in claims
            for r in resources
        ]
        if not records:
            return
        columns = ("session_id", "resource", "resource_key", "starts_at", "ends_at", "active")
        if self._tx.pg and len(records) >= COPY_THRESHOLD:
            await self._tx.copy("claims", columns, records)
            return
        rows = [dict(zip(columns, r, strict=True)) for r in records]
        await self._tx.guard_overlap(self._c.execute(t.claims.insert(), rows))

    async def replace_many(
        self, claims: Sequence[tuple[str, Sequence[str], datetime, datetime]]
    ) -> None:
        c = t.claims.c
        for cond in self._tx.in_(c.session_id, [x[0] for x in claims]):
            await self._c.execute(t.claims.delete().where(cond, c.active.is_(True)))
        await self.add_many(claims)

    async def replace(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        c = t.claims.c
        await self._c.execute(
            t.claims.delete().where(c.session_id == session_id, c.active.is_(True))
        )
        await self.add(session_id, resources, start, end)

    async def release(self, session_id: str) -> None:
        c = t.claims.c
        await self._c.execute(
            t.claims.update()
            .where(c.session_id == session_id, c.active.is_(True))
            .values(active=False)
        )

    async def busy_ranges(
        self, resources: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        # A week of a hundred resources is thousands of claims but a few busy ranges a day, and
        # turning each claim's row into two instants cost more than the query itself.
        # PostgreSQL merges them (`_union`: window functions, one array of resources: one
        # statement); on SQLite, whose window functions are slower than that here, the rows come
        # as stored (integer microseconds) and are merged before they become instants.
        c = t.claims.c
        spans: list[Any] = []
        for cond in self._tx.in_(c.resource, list(dict.fromkeys(resources))):
            if self._tx.pg:
                spans.extend(
                    (b, e) for b, e in await self._c.execute(_union(cond, _overlapping(start, end)))
                )
                continue
            raw = sa.select(
                sa.type_coerce(c.starts_at, sa.Integer()), sa.type_coerce(c.ends_at, sa.Integer())
            )
            stmt = raw.where(cond, _overlapping(start, end))
            spans.extend((b, e) for b, e in await self._c.execute(stmt))  # plain tuples sort fast
        spans.sort()
        if self._tx.pg:
            return _merged(spans)
        return [(t.EPOCH + b * _MICRO, t.EPOCH + e * _MICRO) for b, e in _merged(spans)]


def _union(*conditions: sa.ColumnElement[bool]) -> sa.Select[datetime, datetime]:
    """The claims matching `conditions` merged into ranges (those that overlap or touch joined):
    a claim starts a new range unless it starts at or before the furthest end of the claims
    before it (in order of start); each range is the span of its claims."""
    c = t.claims.c
    claims = sa.select(c.starts_at, c.ends_at).where(*conditions).subquery()
    order = (claims.c.starts_at, claims.c.ends_at)
    reach = sa.func.max(claims.c.ends_at).over(order_by=order, rows=(None, -1))
    fresh = sa.case((claims.c.starts_at <= reach, 0), else_=1)
    marked = sa.select(*order, fresh.label("fresh")).subquery()
    island = sa.func.sum(marked.c.fresh).over(
        order_by=(marked.c.starts_at, marked.c.ends_at), rows=(None, 0)
    )
    numbered = sa.select(marked.c.starts_at, marked.c.ends_at, island.label("island")).subquery()
    return sa.select(sa.func.min(numbered.c.starts_at), sa.func.max(numbered.c.ends_at)).group_by(
        numbered.c.island
    )


_MICRO = timedelta(microseconds=1)


def _merged(spans: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Sorted ranges with those that touch or overlap joined (fewer terms in the query)."""
    out: list[tuple[Any, Any]] = []
    for b, e in spans:
        if out and b <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((b, e))
    return out
