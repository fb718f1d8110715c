"""Reports on SQL: per-site results of frozen records, one row per (session, site), summed by
one aggregate query joined to `sessions` (its start, status, kind, series and chair decide the
scope) and to `sites` (the region)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestrator.domain.models import SessionKind, SessionStatus
from orchestrator.store import tables as t
from orchestrator.store.base.reports import ReportScope, ScopedSession, SiteResult, SiteTotals
from orchestrator.store.sql.engine import Transaction, chunks


def _in_scope(scope: ReportScope) -> list[sa.ColumnElement[bool]]:
    s = t.sessions.c
    where: list[sa.ColumnElement[bool]] = [
        s.starts_at >= scope.start,
        s.starts_at < scope.end,
        s.ends_at <= scope.now,
        s.status != SessionStatus.CANCELLED.value,
    ]
    if scope.kind is not None:
        where.append(s.kind == scope.kind.value)
    if scope.series_id is not None:
        where.append(s.series_id == scope.series_id)
    if scope.chair_email is not None:
        where.append(sa.func.lower(s.chair_email) == scope.chair_email.lower())
    return where


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


class SqlReportData:
    """The `ReportData` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def save_results(self, session_id: str, results: Sequence[SiteResult]) -> None:
        r = t.attendance_results
        await self._c.execute(sa.delete(r).where(r.c.session_id == session_id))
        rows = [
            {
                "session_id": x.session_id,
                "site_id": x.site_id,
                "status": x.status,
                "late": x.late,
                "left_early": x.left_early,
                "connected_minutes": x.connected_minutes,
            }
            for x in results
        ]
        if not rows:
            return
        if self._tx.pg and len(rows) >= 200:  # a 10,000-site record: COPY, one round trip
            names = list(rows[0])
            await self._tx.copy(r.name, names, [tuple(row[n] for n in names) for row in rows])
            return
        for part in chunks(rows, 5000):
            await self._c.execute(sa.insert(r), list(part))

    async def site_totals(self, scope: ReportScope) -> list[SiteTotals]:
        r = t.attendance_results.c
        s = t.sessions.c
        st = t.sites.c
        stmt = (
            sa.select(
                r.site_id,
                st.region_id,
                sa.func.count().label("sessions"),
                _count(r.status == "present").label("present"),
                _count(r.status == "partial").label("partial"),
                _count(r.status == "absent").label("absent"),
                _count(r.status == "unknown").label("unknown"),
                _count(r.late).label("late"),
                _count(r.left_early).label("left_early"),
                sa.func.coalesce(sa.func.sum(r.connected_minutes), 0.0).label("minutes"),
            )
            .select_from(
                t.attendance_results.join(t.sessions, s.id == r.session_id).outerjoin(
                    t.sites, st.id == r.site_id
                )
            )
            .where(*_in_scope(scope))
            .group_by(r.site_id, st.region_id)
        )
        if scope.region is not None:
            stmt = stmt.where(st.region_id == scope.region)
        return [
            SiteTotals(
                site_id=row.site_id,
                region=row.region_id,
                sessions=int(row.sessions),
                present=int(row.present),
                partial=int(row.partial),
                absent=int(row.absent),
                unknown=int(row.unknown),
                late=int(row.late),
                left_early=int(row.left_early),
                connected_minutes=float(row.minutes),
            )
            for row in await self._c.execute(stmt)
        ]

    async def sessions(
        self, scope: ReportScope, *, limit: int | None = None
    ) -> list[ScopedSession]:
        s = t.sessions.c
        rec = t.attendance_records.c
        frozen = sa.exists().where(rec.session_id == s.id)
        stmt = (
            sa.select(s.id, s.title, s.starts_at, s.kind, s.region_id, frozen.label("frozen"))
            .where(*_in_scope(scope))
            .order_by(s.starts_at, s.id)
        )
        if scope.region is not None:
            ss = t.session_sites.c
            st = t.sites.c
            stmt = stmt.where(
                sa.exists()
                .where(ss.session_id == s.id)
                .where(st.id == ss.site_id)
                .where(st.region_id == scope.region)
            )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [
            ScopedSession(
                id=row.id,
                title=row.title,
                start=row.starts_at,
                kind=SessionKind(row.kind),
                region=row.region_id,
                frozen=bool(row.frozen),
            )
            for row in await self._c.execute(stmt)
        ]

    async def unfrozen(self, scope: ReportScope) -> list[str]:
        s = t.sessions.c
        rec = t.attendance_records.c
        stmt = (
            sa.select(s.id)
            .where(*_in_scope(scope))
            .where(~sa.exists().where(rec.session_id == s.id))
            .order_by(s.starts_at, s.id)
        )
        return list((await self._c.execute(stmt)).scalars())

    async def results(self, session_ids: Sequence[str]) -> list[SiteResult]:
        r = t.attendance_results.c
        out: list[SiteResult] = []
        for where in self._tx.in_(r.session_id, list(session_ids)):
            rows = await self._c.execute(sa.select(t.attendance_results).where(where))
            out.extend(
                SiteResult(
                    session_id=row.session_id,
                    site_id=row.site_id,
                    status=row.status,
                    late=bool(row.late),
                    left_early=bool(row.left_early),
                    connected_minutes=float(row.connected_minutes),
                )
                for row in rows
            )
        return out

    async def regions_of(self, site_ids: Sequence[str]) -> dict[str, str | None]:
        st = t.sites.c
        out: dict[str, str | None] = {}
        for where in self._tx.in_(st.id, list(site_ids)):
            for row in await self._c.execute(sa.select(st.id, st.region_id).where(where)):
                out[row.id] = row.region_id
        return out

    async def submitted(self, session_ids: Sequence[str]) -> dict[tuple[str, str], datetime]:
        ts = t.task_submissions.c
        out: dict[tuple[str, str], datetime] = {}
        for where in self._tx.in_(ts.session_id, list(session_ids)):
            stmt = sa.select(ts.session_id, ts.task_id, ts.submitted_at).where(where)
            for row in await self._c.execute(stmt):
                out[(row.session_id, row.task_id)] = row.submitted_at
        return out
