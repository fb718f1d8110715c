"""Sessions on SQL: one row per session, its sites as ordered rows of `session_sites`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestrator.domain.models import Session, SessionSite, SessionStatus, session_site
from orchestrator.store import tables as t
from orchestrator.store.base.sessions import SessionQuery
from orchestrator.store.sql.engine import COPY_THRESHOLD, Transaction
from orchestrator.store.sql.rows import session_from, session_values


def _status_is(status: SessionStatus, now: datetime | None) -> sa.ColumnElement[bool]:
    """The SQL form of `Session.status_at(now)`."""
    s = t.sessions.c
    cancelled = s.status == SessionStatus.CANCELLED.value
    if status is SessionStatus.CANCELLED:
        return cancelled
    if now is None:
        raise ValueError("filtering by scheduled, live or ended needs `now`")
    if status is SessionStatus.SCHEDULED:
        return sa.and_(~cancelled, s.starts_at > now)
    if status is SessionStatus.LIVE:
        return sa.and_(~cancelled, s.starts_at <= now, s.ends_at > now)
    return sa.and_(~cancelled, s.ends_at <= now)


# A session's sites from `first` on, their positions in the order given, in one statement:
# the database makes the rows from JSON (SQLite: [site_id, join_url] pairs; PostgreSQL: two
# arrays side by side), where thousands of rows cost SQLAlchemy a dict of parameters each, and
# the PostgreSQL driver an encoding of each value.
_ADD_SITES = {
    "sqlite": sa.text(
        "INSERT INTO session_sites (session_id, site_id, position, join_url) "
        "SELECT :session_id, json_extract(value, '$[0]'), :first + key, "
        "json_extract(value, '$[1]') FROM json_each(:rows)"
    ),
    "postgresql": sa.text(
        "INSERT INTO session_sites (session_id, site_id, position, join_url) "
        "SELECT :session_id, v.site, :first + v.n - 1, v.url "
        "FROM ROWS FROM (json_array_elements_text(CAST(:sites AS json)), "
        "json_array_elements_text(CAST(:urls AS json))) WITH ORDINALITY AS v(site, url, n)"
    ),
}


class SqlSessions:
    """The `Sessions` on SQLAlchemy; a session's sites, thousands or a few, go in as one
    statement."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn

    async def _insert_sites(
        self, session_id: str, sites: Sequence[SessionSite], first: int
    ) -> None:
        if not sites:
            return
        params: dict[str, Any] = {"session_id": session_id, "first": first}
        if self._tx.pg:
            params["sites"] = json.dumps([s.site_id for s in sites])
            params["urls"] = json.dumps([s.join_url for s in sites])
            await self._c.execute(_ADD_SITES["postgresql"], params)
        else:
            params["rows"] = json.dumps([(s.site_id, s.join_url) for s in sites])
            await self._c.execute(_ADD_SITES["sqlite"], params)

    async def add(self, session: Session) -> None:
        await self._c.execute(t.sessions.insert().values(session_values(session)))
        await self._insert_sites(session.id, session.sites, 0)

    async def add_sites(self, session: Session) -> None:
        await self._insert_sites(session.id, session.sites, 0)

    async def add_many(self, sessions: Sequence[Session]) -> None:
        if not sessions:
            return
        await self._c.execute(t.sessions.insert(), [session_values(s) for s in sessions])
        for s in sessions:
            await self._insert_sites(s.id, s.sites, 0)

    async def update_many(
        self, changes: Sequence[tuple[Session, Sequence[str], Sequence[str]]]
    ) -> None:
        if not changes:
            return
        s, ss = t.sessions.c, t.session_sites.c
        rows = []
        for session, _, _ in changes:
            row = session_values(session)
            row.pop("created_at")
            row["_id"] = row.pop("id")
            rows.append(row)
        columns = [k for k in rows[0] if k != "_id"]
        await self._c.execute(
            t.sessions.update()
            .where(s.id == sa.bindparam("_id"))
            .values({k: sa.bindparam(k) for k in columns}),
            rows,
        )
        removed = [
            {"_s": session.id, "_site": site} for session, _, gone in changes for site in gone
        ]
        if removed:
            await self._c.execute(
                t.session_sites.delete().where(
                    ss.session_id == sa.bindparam("_s"), ss.site_id == sa.bindparam("_site")
                ),
                removed,
            )
        adding = [(session, set(added)) for session, added, _ in changes if added]
        if adding:
            tops: dict[str, int] = {}
            for cond in self._tx.in_(ss.session_id, [a.id for a, _ in adding]):
                res = await self._c.execute(
                    sa.select(ss.session_id, sa.func.max(ss.position))
                    .where(cond)
                    .group_by(ss.session_id)
                )
                tops.update({r[0]: int(r[1]) for r in res})
            for session, wanted in adding:
                new = [x for x in session.sites if x.site_id in wanted]
                await self._insert_sites(session.id, new, tops.get(session.id, -1) + 1)
        await self._refresh_links([session for session, _, _ in changes])

    async def _refresh_links(self, sessions: Sequence[Session]) -> None:
        """Write every site's join link of `sessions`: one statement over arrays on PostgreSQL
        (thousands of rows), an executemany on SQLite (in-process, already cheap)."""
        rows = [(s.id, x.site_id, x.join_url) for s in sessions for x in s.sites]
        if not rows:
            return
        if self._tx.pg and len(rows) >= COPY_THRESHOLD:
            ids, site_ids, urls = (list(column) for column in zip(*rows, strict=True))
            await self._c.execute(
                sa.text(
                    "UPDATE session_sites AS ss SET join_url = v.url "
                    "FROM unnest(CAST(:ids AS text[]), CAST(:sites AS text[]), "
                    "CAST(:urls AS text[])) AS v(id, site, url) "
                    "WHERE ss.session_id = v.id AND ss.site_id = v.site"
                ),
                {"ids": ids, "sites": site_ids, "urls": urls},
            )
            return
        ss = t.session_sites.c
        await self._c.execute(
            t.session_sites.update()
            .where(ss.session_id == sa.bindparam("_s"), ss.site_id == sa.bindparam("_site"))
            .values(join_url=sa.bindparam("join_url")),
            [{"_s": i, "_site": site, "join_url": url} for i, site, url in rows],
        )

    async def update(
        self,
        session: Session,
        *,
        added_sites: Sequence[str] = (),
        removed_sites: Sequence[str] = (),
    ) -> None:
        row = session_values(session)
        row.pop("id")
        row.pop("created_at")
        await self._c.execute(t.sessions.update().where(t.sessions.c.id == session.id).values(row))
        ss = t.session_sites.c
        for cond in self._tx.in_(ss.site_id, list(removed_sites)):
            await self._c.execute(t.session_sites.delete().where(ss.session_id == session.id, cond))
        if added_sites:
            wanted = set(added_sites)
            top = await self._c.scalar(
                sa.select(sa.func.coalesce(sa.func.max(ss.position), -1)).where(
                    ss.session_id == session.id
                )
            )
            new = [s for s in session.sites if s.site_id in wanted]
            await self._insert_sites(session.id, new, int(top or 0) + 1)
        # Join links may change with any update (issue-time tokens), so refresh them all.
        urls = [
            {"_s": session.id, "_site": s.site_id, "join_url": s.join_url} for s in session.sites
        ]
        if urls:
            await self._c.execute(
                t.session_sites.update()
                .where(ss.session_id == sa.bindparam("_s"), ss.site_id == sa.bindparam("_site"))
                .values(join_url=sa.bindparam("join_url")),
                urls,
            )

    async def load(self, rows: Sequence[Any]) -> list[Session]:
        """The sessions of `rows` (of `sessions`), each with its sites (one query per chunk of
        sessions)."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        ss = t.session_sites.c
        by_session: dict[str, list[SessionSite]] = {i: [] for i in ids}
        for cond in self._tx.in_(ss.session_id, ids):
            res = await self._c.execute(
                sa.select(ss.session_id, ss.site_id, ss.join_url)
                .where(cond)
                .order_by(ss.session_id, ss.position)
            )
            for session_id, site_id, join_url in res:  # by position: cheaper than by name
                # written only from a validated `SessionSite`: read back without validating
                by_session[session_id].append(session_site(site_id=site_id, join_url=join_url))
        return [session_from(r, tuple(by_session[r.id])) for r in rows]

    async def get(self, session_id: str, *, sites: bool = True) -> Session | None:
        rows = (
            await self._c.execute(sa.select(t.sessions).where(t.sessions.c.id == session_id))
        ).all()
        if not sites:
            return session_from(rows[0], ()) if rows else None
        found = await self.load(rows)
        return found[0] if found else None

    async def set_status(self, session_id: str, status: SessionStatus, at: datetime) -> None:
        await self._c.execute(
            t.sessions.update()
            .where(t.sessions.c.id == session_id)
            .values(status=status.value, updated_at=at)
        )

    async def by_room(self, room: str) -> Session | None:
        rows = (
            await self._c.execute(
                sa.select(t.sessions).where(t.sessions.c.room == room).order_by(t.sessions.c.id)
            )
        ).all()
        found = await self.load(rows[:1])
        return found[0] if found else None

    async def find(self, query: SessionQuery) -> list[Session]:
        s = t.sessions.c
        stmt = sa.select(t.sessions)
        if query.start_from is not None:
            stmt = stmt.where(s.ends_at > query.start_from)
        if query.start_to is not None:
            stmt = stmt.where(s.starts_at < query.start_to)
        if query.region is not None:
            stmt = stmt.where(s.region_id == query.region)
        if query.kinds is not None:
            stmt = stmt.where(s.kind.in_([k.value for k in query.kinds]))
        if query.chair_email is not None:
            stmt = stmt.where(sa.func.lower(s.chair_email) == query.chair_email.lower())
        if query.status is not None:
            stmt = stmt.where(_status_is(query.status, query.now))
        if query.site is not None:
            ss = t.session_sites.c
            stmt = stmt.where(sa.exists().where(ss.session_id == s.id, ss.site_id == query.site))
        stmt = stmt.order_by(s.starts_at, s.id).limit(query.limit).offset(query.offset)
        rows = (await self._c.execute(stmt)).all()
        if not query.sites:
            return [session_from(r, ()) for r in rows]
        return await self.load(rows)
