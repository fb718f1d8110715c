"""The attendance log on SQL: events appended in one round trip per batch, repeats skipped by
their (source, dedupe_key), and announced to the other instances (PostgreSQL's NOTIFY, in the
same transaction); frozen records one row per session; the rooms' poll leases. Webhooks' batches
go through `SqlEventAppender` (`appender`): one statement on a connection of its own, past
SQLAlchemy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from orchestrator.store import tables as t
from orchestrator.store.base.attendance import LoggedEvent, StoredEvent
from orchestrator.store.sql.engine import Transaction
from orchestrator.store.sql.rows import record_from, values_of


# SQLAlchemy compiles an INSERT with ON CONFLICT again on every execution: its ON CONFLICT clause
# has no cache key, so the statement is never cached. The event log's INSERT runs for every group
# commit of webhooks, always with the same clause: these classes, used for that statement only,
# give the clause a key (its class) so the statement is compiled once per backend.
class _PgSkipRepeats(postgresql.dml.OnConflictDoNothing):
    _traverse_internals = []  # noqa: RUF012 (its key is its class: always the same clause)


class _SqliteSkipRepeats(sqlite.dml.OnConflictDoNothing):
    _traverse_internals = []  # noqa: RUF012


class _PgLogInsert(postgresql.Insert):
    """`INSERT INTO attendance_events … ON CONFLICT (source, dedupe_key) DO NOTHING`."""

    inherit_cache = True

    def __init__(self, table: sa.Table) -> None:
        super().__init__(table)
        self._post_values_clause = _PgSkipRepeats(index_elements=["source", "dedupe_key"])


class _SqliteLogInsert(sqlite.Insert):
    """`INSERT INTO attendance_events … ON CONFLICT (source, dedupe_key) DO NOTHING`."""

    inherit_cache = True

    def __init__(self, table: sa.Table) -> None:
        super().__init__(table)
        self._post_values_clause = _SqliteSkipRepeats(index_elements=["source", "dedupe_key"])


# The channel of `announce`: NOTIFY reaches the listeners of the same database only.
CHANNEL = "orch_attendance"


def announcement(origin: str, session_id: str, first: int, last: int) -> str:
    """One NOTIFY payload: a few dozen bytes, far below PostgreSQL's 8,000-byte limit."""
    return json.dumps({"o": origin, "s": session_id, "f": first, "l": last})


class SqlAttendanceLog:
    """The `AttendanceLog` on SQLAlchemy."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._c = tx.conn
        self._new: dict[str, tuple[int, int]] = {}  # session: first and last id logged here

    async def add_events(self, events: Sequence[StoredEvent]) -> dict[tuple[str, str], int]:
        if not events:
            return {}
        rows = [values_of(e) for e in events]
        for row in rows:
            del row["id"]  # the log numbers its events
        a = t.attendance_events.c
        log_insert = _PgLogInsert if self._tx.pg else _SqliteLogInsert
        stmt = log_insert(t.attendance_events).returning(a.source, a.dedupe_key, a.id, a.session_id)
        # one round trip for the whole batch; RETURNING tells the new rows from duplicates
        result = await self._c.execute(stmt, rows)
        added: dict[tuple[str, str], int] = {}
        new = self._new
        for r in result:
            added[r.source, r.dedupe_key] = r.id
            if r.session_id is not None:
                first, last = new.get(r.session_id, (r.id, r.id))
                new[r.session_id] = (min(first, r.id), max(last, r.id))
        return added

    async def announce(self, origin: str) -> None:
        new, self._new = self._new, {}
        if not self._tx.pg or not new:
            return
        payloads = [announcement(origin, s, first, last) for s, (first, last) in new.items()]
        # one round trip for every session; NOTIFY is transactional: heard on commit
        await self._c.execute(
            sa.text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
            {"channel": CHANNEL, "payloads": payloads},
        )

    async def list_events(
        self,
        session_id: str,
        *,
        after_id: int = 0,
        limit: int | None = None,
        upto_id: int | None = None,
    ) -> list[StoredEvent]:
        a = t.attendance_events.c
        stmt = sa.select(t.attendance_events).where(a.session_id == session_id).order_by(a.id)
        if after_id:
            stmt = stmt.where(a.id > after_id)
        if upto_id is not None:
            stmt = stmt.where(a.id <= upto_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = await self._c.execute(stmt)
        return [record_from(StoredEvent, r, data=dict(r.data)) for r in rows]

    async def read_log(
        self,
        session_id: str,
        *,
        after_id: int = 0,
        limit: int | None = None,
        upto_id: int | None = None,
    ) -> list[LoggedEvent]:
        # A board's first open reads its whole log (18,700 rows at 10,000 sites): straight to
        # the driver, as the appender writes (SQLAlchemy's rows cost a third more), the columns
        # the merge reads and the fields of `data` taken out by the database (those only
        # check-ins and overrides hold, from theirs alone).
        driver: Any = (await self._c.get_raw_connection()).driver_connection
        upto = _NO_ID if upto_id is None else upto_id
        most = -1 if limit is None else limit
        if self._tx.pg:
            rows = await driver.fetch(_PG_READ, session_id, after_id, upto, most)
            make_at: Any = None
        else:
            rows = await driver.execute_fetchall(_SQLITE_READ, (session_id, after_id, upto, most))
            instants: dict[int, datetime] = {}  # many events share an instant: one each

            def make_at(micros: int) -> datetime:
                at = instants.get(micros)
                if at is None:
                    at = instants[micros] = t.EPOCH + micros * t.MICROSECOND
                return at

        out: list[LoggedEvent] = []
        append = out.append
        for r in rows:
            names = r[11]
            append(
                LoggedEvent(
                    r[0],
                    r[1],
                    r[2],
                    r[3] if make_at is None else make_at(r[3]),
                    r[4],
                    r[5],
                    r[6],
                    bool(r[7]),
                    r[8],
                    r[9],
                    r[10],
                    None if names is None else json.loads(names),
                    r[12],
                    r[13],
                )
            )
        return out

    async def sites_of(self, session_id: str) -> tuple[str, ...]:
        ss = t.session_sites.c
        stmt = sa.select(ss.site_id).where(ss.session_id == session_id).order_by(ss.position)
        return tuple((await self._c.execute(stmt)).scalars())

    async def room_sites(self, room: str) -> tuple[str, tuple[str, ...]] | None:
        s = t.sessions.c
        stmt = sa.select(s.id).where(s.room == room).order_by(s.id).limit(1)  # as `by_room`
        session_id = (await self._c.execute(stmt)).scalar()
        if session_id is None:
            return None
        return session_id, await self.sites_of(session_id)

    async def save_record(self, session_id: str, frozen_at: datetime, record: str) -> None:
        values = {"session_id": session_id, "frozen_at": frozen_at, "record": record}
        await self._tx.upsert_row(t.attendance_records, values, ["session_id"])

    async def get_record(self, session_id: str) -> tuple[datetime, str] | None:
        r = t.attendance_records.c
        row = (
            await self._c.execute(
                sa.select(r.frozen_at, r.record).where(r.session_id == session_id)
            )
        ).first()
        return None if row is None else (row.frozen_at, row.record)

    async def take_poll_lease(
        self, room: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        p = t.poll_leases.c
        stmt = self._tx.insert(t.poll_leases).values(
            room=room, holder=holder, expires_at=expires_at
        )
        # Taken only when free, expired or ours: the row's lock (PostgreSQL) or the database's
        # write lock (SQLite) makes two takers of one expired lease find one winner.
        stmt = stmt.on_conflict_do_update(
            index_elements=[p.room],
            set_={"holder": holder, "expires_at": expires_at},
            where=sa.or_(p.holder == holder, p.expires_at <= now),
        ).returning(p.holder)
        return (await self._c.execute(stmt)).first() is not None

    async def release_poll_leases(self, holder: str) -> None:
        p = t.poll_leases.c
        await self._c.execute(sa.delete(t.poll_leases).where(p.holder == holder))


_NO_ID = 2**63 - 1  # no upper bound on ids
# `read_log`: a session's events by id, after one id and up to another, at most a number of
# them (-1: no limit), the fields of `data` the merge reads (check-ins' and overrides' only
# from theirs)
_OWN = "kind IN ('checkin', 'override')"
_SQLITE_READ = f"""
SELECT id, source, kind, at, dedupe_key, site_id, occupant, after_freeze,
  json_extract(data, '$.name'), json_extract(data, '$.email'),
  CASE WHEN {_OWN} THEN json_extract(data, '$.headcount') END,
  CASE WHEN {_OWN} THEN json_extract(data, '$.names') END,
  CASE WHEN {_OWN} THEN json_extract(data, '$.verdict') END,
  CASE WHEN {_OWN} THEN json_extract(data, '$.reason') END
FROM attendance_events
WHERE session_id = ? AND id > ? AND id <= ?
ORDER BY id LIMIT ?
"""
_PG_READ = f"""
SELECT id, source, kind, at, dedupe_key, site_id, occupant, after_freeze,
  data->>'name', data->>'email',
  CASE WHEN {_OWN} THEN (data->>'headcount')::int END,
  CASE WHEN {_OWN} THEN data->>'names' END,
  CASE WHEN {_OWN} THEN data->>'verdict' END,
  CASE WHEN {_OWN} THEN data->>'reason' END
FROM attendance_events
WHERE session_id = $1 AND id > $2 AND id <= $3
ORDER BY id LIMIT CASE WHEN $4::bigint < 0 THEN NULL ELSE $4::bigint END
"""
