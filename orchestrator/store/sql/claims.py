"""Claims on SQL: rule 1's rows, refused by the database when they overlap."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import MAX_CLAIM_SPAN
from orchestrator.store import tables as t
from orchestrator.store.sql.engine import Transaction, resource_key


def _overlapping(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    c = t.claims.c
    # The lower bound on starts_at keeps the index scan to recent claims, not all history.
    return sa.and_(
        c.active.is_(True),
        c.starts_at < end,
        c.starts_at > start - MAX_CLAIM_SPAN,
        c.ends_at > start,
    )


# One session's claims in one statement, its resources and their keys given as JSON: the
# database makes the rows (and checks each against the overlap rule) itself. Thousands of
# claims cost SQLAlchemy a dict of parameters per row in an executemany, and the PostgreSQL
# driver about 2 µs a value to encode them as arrays (timestamps most); JSON is one string.
# SQLite reads [resource, key] pairs; PostgreSQL two arrays side by side.
_ADD = {
    dialect: stmt.bindparams(
        sa.bindparam("start", type_=t.UTCDateTime()), sa.bindparam("end", type_=t.UTCDateTime())
    )
    for dialect, stmt in {
        "sqlite": sa.text(
            "INSERT INTO claims (session_id, resource, resource_key, starts_at, ends_at, active) "
            "SELECT :session_id, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
            ":start, :end, 1 FROM json_each(:rows)"
        ),
        "postgresql": sa.text(
            "INSERT INTO claims (session_id, resource, resource_key, starts_at, ends_at, active) "
            "SELECT :session_id, v.name, CAST(v.key AS bigint), :start, :end, true "
            "FROM ROWS FROM (json_array_elements_text(CAST(:names AS json)), "
            "json_array_elements_text(CAST(:keys AS json))) AS v(name, key)"
        ),
    }.items()
}


class SqlClaims:
    """The `Claims` on SQLAlchemy: an exclusion constraint (PostgreSQL) or triggers (SQLite)
    refuse overlaps; advisory locks serialise competing claimers first."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn
        self._dialect = "postgresql" if tx.pg else "sqlite"

    async def lock(self, resources: Sequence[str]) -> None:
        await self._tx.lock(resources)

    async def conflicts(
        self,
        resources: Sequence[str],
        start: datetime,
        end: datetime,
        exclude_session: str | None = None,
    ) -> list[Conflict]:
        if not resources:
            return []
        c = t.claims.c
        stmt = sa.select(c.resource, c.session_id, c.starts_at, c.ends_at).where(
            self._tx.in_one(c.resource, list(dict.fromkeys(resources))), _overlapping(start, end)
        )
        if exclude_session is not None:
            stmt = stmt.where(c.session_id != exclude_session)
        return [
            Conflict(resource=r.resource, session_id=r.session_id, start=r.starts_at, end=r.ends_at)
            for r in await self._c.execute(stmt)
        ]

    async def add(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        await self.add_many([(session_id, resources, start, end)])

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
        pg = self._tx.pg
        for session_id, resources, start, end in claims:
            if not resources:
                continue
            params: dict[str, Any] = {"session_id": session_id, "start": start, "end": end}
            if pg:
                params["names"] = json.dumps(list(resources))
                params["keys"] = json.dumps([resource_key(r) for r in resources])
            else:
                params["rows"] = json.dumps([(r, resource_key(r)) for r in resources])
            await self._tx.guard_overlap(self._c.execute(_ADD[self._dialect], params))

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
            # Claims starting together (a session's resources) as one span: a seventh of the rows.
            raw = sa.select(
                sa.type_coerce(c.starts_at, sa.Integer()),
                sa.type_coerce(sa.func.max(c.ends_at), sa.Integer()),
            )
            stmt = raw.where(cond, _overlapping(start, end)).group_by(c.starts_at)
            spans.extend((b, e) for b, e in await self._c.execute(stmt))  # plain tuples sort fast
        spans.sort()
        if self._tx.pg:
            return _merged(spans)
        return [
            (t.EPOCH + b * t.MICROSECOND, t.EPOCH + e * t.MICROSECOND) for b, e in _merged(spans)
        ]


def _union(*conditions: sa.ColumnElement[bool]) -> sa.Select[datetime, datetime]:
    """The claims matching `conditions` merged into ranges (those that overlap or touch joined):
    a claim starts a new range unless it starts at or before the furthest end of the claims
    before it (in order of start); each range is the span of its claims."""
    c = t.claims.c
    # claims starting together (a session's resources) enter the windows as one
    claims = (
        sa.select(c.starts_at, sa.func.max(c.ends_at).label("ends_at"))
        .where(*conditions)
        .group_by(c.starts_at)
        .subquery()
    )
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


def _merged(spans: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Sorted ranges with those that touch or overlap joined (fewer terms in the query)."""
    out: list[tuple[Any, Any]] = []
    for b, e in spans:
        if out and b <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((b, e))
    return out
