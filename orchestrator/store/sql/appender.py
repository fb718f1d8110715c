"""The event log's hot path (`Store.events`, `SqlEventAppender`): webhooks' batches written in
one statement each, past SQLAlchemy, on connections held for them; on SQLite a webhook's batch
on the event loop's own connection. Apart from `attendance` (the log in a unit of work), as it is
tuned against the webhooks' benchmark rather than read with the rest of the log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orchestrator.store import tables as t
from orchestrator.store.base.attendance import Appended, StoredEvent
from orchestrator.store.base.errors import StoreFailure
from orchestrator.store.sql.attendance import CHANNEL
from orchestrator.store.sql.engine import driver_error

# The event log's hot path (`Store.events`). A group commit of webhooks through a unit of work
# costs a pool checkout, BEGIN, the INSERT, NOTIFY, COMMIT and the connection's reset: about ten
# hand-offs to aiosqlite's thread, or four round trips to PostgreSQL, plus SQLAlchemy's work per
# row, about 2 ms of CPU per batch in all. Here a batch is one statement in its own (implicit)
# transaction on a connection kept for it (a room's end on SQLite: statements of `CHUNK_ROWS`
# rows in one explicit transaction), its rows bound as `VALUES` (SQLite: `_sqlite_values`) or
# passed as one JSON text (PostgreSQL: `_pg_batch`): about 0.1-0.3 ms. The frozen check is in
# the statement (a record, once saved, flags every later event), and so is NOTIFY (sent on
# commit).
_COLUMNS = "session_id, room, source, kind, site_id, occupant, at, dedupe_key, data, received_at"
_RETURNING = "RETURNING source, dedupe_key, session_id, after_freeze, id"
_PG_APPEND = f"""
WITH added AS (
  INSERT INTO attendance_events ({_COLUMNS}, after_freeze)
  SELECT {", ".join("r." + c for c in _COLUMNS.split(", "))},
    EXISTS (SELECT 1 FROM attendance_records x WHERE x.session_id = r.session_id)
  FROM json_to_recordset($1::json) AS r(n bigint, session_id varchar, room varchar,
    source varchar, kind varchar, site_id varchar, occupant varchar, at timestamptz,
    dedupe_key varchar, data json, received_at timestamptz)
  ORDER BY r.n  -- (inserted in the order given: `_lock_order`)
  ON CONFLICT (source, dedupe_key) DO NOTHING
  {_RETURNING}
), told AS (
  SELECT pg_notify('{CHANNEL}', json_build_object(
    'o', $2::text, 's', session_id, 'f', min(id), 'l', max(id))::text)
  FROM added WHERE session_id IS NOT NULL GROUP BY session_id
)
SELECT a.*, (SELECT count(*) FROM told) AS told FROM added a
"""


@functools.cache
def _sqlite_values(rows: int) -> str:
    """SQLite's statement for `rows` events bound as `VALUES` (ten parameters a row): a
    webhook's batch of 13 costs SQLite 0.10 ms so, 0.16 ms as one JSON text, which each of its
    ten `json_extract`s parses again (SQLite 3.40); a room's end of 20,000 rows 93 ms in
    statements of 256 rows, 234 ms as JSON. `rows` is a power of two up to `CHUNK_ROWS`, the
    batch padded with rows of nulls that the statement leaves out (`source` is never null):
    each size is a statement the connection keeps compiled (every size up to 64 held 3.3 MB;
    the seven powers of two up to 64 held 0.12 MB, those of 128 and 256 0.49 MB more, on the
    connection that writes a room's end)."""
    row = "(" + ", ".join("?" * 10) + ")"
    return f"""
INSERT INTO attendance_events ({_COLUMNS}, after_freeze)
SELECT v.*, EXISTS (SELECT 1 FROM attendance_records r WHERE r.session_id = v.column1)
FROM (VALUES {", ".join([row] * rows)}) AS v WHERE v.column3 IS NOT NULL
ON CONFLICT (source, dedupe_key) DO NOTHING
{_RETURNING}
"""


def _rows(
    events: Sequence[StoredEvent],
    data: Callable[[dict[str, Any]], Any],
    instant: Callable[[datetime], Any],
) -> Iterator[tuple[Any, ...]]:
    """Each event as the statements take its row (`_COLUMNS`), its `data` and its two instants
    as `data` and `instant` make them for the database."""
    for e in events:
        yield (
            e.session_id,
            e.room,
            e.source,
            e.kind,
            e.site_id,
            e.occupant,
            instant(e.at),
            e.dedupe_key,
            data(e.data),
            instant(e.received_at),
        )


def _lock_order(e: StoredEvent) -> tuple[str, str]:
    """The order in which every PostgreSQL batch inserts its rows: by their unique key, so
    batches written at once take the keys they share in one order (`SqlEventAppender`)."""
    return (e.source, e.dedupe_key)


def _micros(at: datetime) -> int:
    """An instant as SQLite's column holds it: microseconds since `EPOCH`."""
    return (at - t.EPOCH) // t.MICROSECOND


CHUNK_ROWS = 256  # events a SQLite statement binds at most (`_sqlite_values`)


def _sqlite_chunks(events: Sequence[StoredEvent]) -> list[tuple[str, list[Any]]]:
    """A batch as SQLite's statements (`_sqlite_values`) and their parameters, `CHUNK_ROWS`
    events each, the last padded. Raises StoreFailure for `data` that no JSON can carry."""
    try:
        values = [value for row in _rows(events, _json, _micros) for value in row]
    except (TypeError, ValueError) as exc:
        raise StoreFailure(f"an event's data cannot be stored: {exc}") from exc
    out = []
    for first in range(0, len(events), CHUNK_ROWS):
        count = min(CHUNK_ROWS, len(events) - first)
        size = 1 << (count - 1).bit_length()
        bound = values[10 * first : 10 * (first + count)]
        bound.extend([None] * (10 * (size - count)))
        out.append((_sqlite_values(size), bound))
    return out


def _json(value: Any) -> str:
    """`value` as JSON text, by orjson: a webhook batch's JSON took about 4 % of the event
    loop's time under a flood with the standard library's encoder (18.5 µs for 13 rows, orjson
    2.7 µs). What orjson refuses (an integer beyond 64 bits, a key that is not text: none of
    our readers makes one, but an event's `data` could carry it) goes to the standard encoder.
    Either way the same values are stored; orjson writes non-ASCII as UTF-8, not `\\u` escapes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _pg_batch(events: Sequence[StoredEvent]) -> str:
    """A batch as `_PG_APPEND`'s one JSON text (`json_to_recordset`), its rows numbered in the
    order of their keys (`_lock_order`). One text, not an array per column: asyncpg checks
    each element of an array against the `Iterable` ABC, a Python call each (13 rows: 0.14-0.16
    ms of the loop's CPU a batch as arrays, 0.08-0.09 ms as JSON; 20,000 rows: 119-152 ms, 43-93
    ms). Its `data` is made apart (`_json`: what orjson refuses goes to the standard encoder).
    Raises StoreFailure for `data` that no JSON can carry, or an instant without its offset
    (as SQLite's `_sqlite_chunks` does)."""
    if any(e.at.tzinfo is None or e.received_at.tzinfo is None for e in events):
        raise StoreFailure("an event's instant has no offset")
    ordered = sorted(events, key=_lock_order)
    try:
        data = [_json(e.data) for e in ordered]
    except (TypeError, ValueError) as exc:
        raise StoreFailure(f"an event's data cannot be stored: {exc}") from exc
    return orjson.dumps(
        [
            {
                "n": n,
                "session_id": e.session_id,
                "room": e.room,
                "source": e.source,
                "kind": e.kind,
                "site_id": e.site_id,
                "occupant": e.occupant,
                "at": e.at,
                "dedupe_key": e.dedupe_key,
                "data": orjson.Fragment(text),
                "received_at": e.received_at,
            }
            for n, (e, text) in enumerate(zip(ordered, data, strict=True))
        ]
    ).decode()


class SqlEventAppender:
    """The `EventAppender` on SQLAlchemy's engine: its statements go to the driver's connection
    (aiosqlite, asyncpg) on pooled connections held between batches, each given up when
    anything fails on it (a restart of the database: the next batch connects afresh).

    SQLite has one writer: one connection, one batch at a time. PostgreSQL takes `PG_PARALLEL`
    batches at once (at most the pool's size: with a pool of one, the units of work run on its
    overflow), each on its own connection: the next batch is written while the last one's commit
    waits for the disk. Batches written at once may repeat each other's events (a platform's
    retry), and each takes its rows' keys as it inserts them: every batch inserts its rows in
    one order of their keys (`_lock_order`), so a batch waits at most for another's commit,
    never in a circle (two batches listing two shared events in opposite orders, or three
    sharing one event pairwise, did; the event log kept such batches apart until 5 December).

    With `direct` (SQLite over a file: a maker of plain connections that never wait for a
    lock), a batch of up to `HERE_ROWS` events (`batch_rows`: the event log takes no more at
    once) is written on the event loop itself, its rows bound as `VALUES`: its
    statement costs about 0.2 ms of CPU, but handed to aiosqlite's thread it took 1.5 ms,
    mostly that thread waiting for the GIL, so each webhook waited for the batch before its
    own, and the loop sat idle with 32 connections waiting (5 December). Should another
    connection hold the write lock (a unit of work), the batch goes to the thread after all,
    which waits for it as every writer does; so does a larger one (a room's end)."""

    PG_PARALLEL = 3
    HERE_ROWS = 64  # at most about 1.5 ms of the loop's time (20 µs a row alone)

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        wrote: Callable[[], None] | None = None,
        direct: Callable[[], sqlite3.Connection] | None = None,
    ) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        self._wrote = wrote  # told after each batch: its statement committed on its own
        pool = getattr(engine.pool, "size", None)
        room = pool() if callable(pool) else self.PG_PARALLEL
        self.parallel = max(1, min(self.PG_PARALLEL, room)) if self._pg else 1
        self._idle: list[tuple[AsyncConnection, Any]] = []  # (connection, its driver's)
        self._slots = asyncio.Semaphore(self.parallel)
        self._connect_here = direct
        self._here: sqlite3.Connection | None = None  # made and used on the loop's thread
        self.written_here = 0
        """Batches written on the event loop itself so far (for tests)."""
        self.batch_rows = self.HERE_ROWS if direct is not None else None

    async def append(
        self, events: Sequence[StoredEvent], origin: str
    ) -> dict[tuple[str, str], Appended]:
        if not events:
            return {}
        async with self._slots:
            if self._pg:
                rows = await self._held(self._pg_append, _pg_batch(events), origin)
            else:
                chunks = _sqlite_chunks(events)
                here = (
                    len(chunks) == 1
                    and len(events) <= self.HERE_ROWS
                    and self._connect_here is not None
                )
                rows = self._append_here(*chunks[0]) if here else None
                if rows is None:  # (another writer holds the lock: the thread waits for it)
                    rows = await self._held(self._sqlite_append, chunks)
                elif self._wrote is not None:
                    self._wrote()
        return {(r[0], r[1]): Appended(bool(r[3]), r[4]) for r in rows}

    def _append_here(self, statement: str, values: list[Any]) -> list[Any] | None:
        """A batch's statement (`_sqlite_chunks`: one) on the loop's own connection; None when
        another connection holds the write lock (nothing is written then)."""
        assert self._connect_here is not None
        try:
            if self._here is None:
                self._here = self._connect_here()
            rows = self._here.execute(statement, values).fetchall()
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            self._close_here()  # the next batch connects afresh
            raise driver_error(exc, pg=False) from exc
        self.written_here += 1
        return rows

    def _close_here(self) -> None:
        here, self._here = self._here, None
        if here is not None:
            with contextlib.suppress(sqlite3.Error):
                here.close()

    async def _held(self, write: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """`write(its driver's connection, *args)` on a connection held for the event log
        (an idle one, else a new one), given up when anything fails on it."""
        held: tuple[AsyncConnection, Any] | None = self._idle.pop() if self._idle else None
        try:
            if held is None:
                conn = await self._engine.connect()
                held = (conn, (await conn.get_raw_connection()).driver_connection)
            rows = await write(held[1], *args)
            if self._wrote is not None:
                self._wrote()
        except BaseException as exc:
            if held is not None:
                await self._drop(held[0])
            if isinstance(exc, Exception):
                raise driver_error(exc, pg=self._pg) from exc
            raise
        self._idle.append(held)
        return rows

    @staticmethod
    async def _sqlite_append(driver: Any, chunks: list[tuple[str, list[Any]]]) -> Any:
        """A batch's statements (`_sqlite_chunks`) in aiosqlite's thread, in one transaction."""
        if len(chunks) == 1:
            return await driver.execute_fetchall(*chunks[0])
        rows: list[Any] = []
        await driver.execute_fetchall("BEGIN IMMEDIATE")
        try:
            for statement, values in chunks:
                rows += await driver.execute_fetchall(statement, values)
            await driver.execute_fetchall("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                await driver.rollback()
            raise
        return rows

    @staticmethod
    async def _pg_append(driver: Any, batch: str, origin: str) -> Any:
        return await driver.fetch(_PG_APPEND, batch, origin)

    @staticmethod
    async def _drop(conn: AsyncConnection) -> None:
        with contextlib.suppress(Exception):
            await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()

    async def close(self) -> None:
        """Give the held connections back (before the engine is disposed of), once the batches
        being written are."""
        taken = 0
        try:
            for _ in range(self.parallel):
                await self._slots.acquire()
                taken += 1
            while self._idle:
                conn, _ = self._idle.pop()
                with contextlib.suppress(Exception):
                    await conn.close()
            self._close_here()
        finally:
            for _ in range(taken):
                self._slots.release()
