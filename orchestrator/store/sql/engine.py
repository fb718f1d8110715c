"""The SQL store's shared machinery: engines set up for the product's transaction rules, one
unit's transaction and what its dialect allows (BEGIN IMMEDIATE on SQLite, advisory locks and
COPY on PostgreSQL, chunked `IN` lists), and the translation of database errors into the store's.

Rule 1 is kept by the database. On PostgreSQL an exclusion constraint on (resource_key, a 64-bit
digest of the resource name; tstzrange) refuses overlapping active claims, and advisory locks on
hashed resource keys serialise competing bookings first (so racing inserts wait instead of
deadlocking). On SQLite every write unit begins with `BEGIN IMMEDIATE` (one writer at a time) and
triggers refuse overlaps.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from orchestrator.store.base.errors import (
    ClaimOverlap,
    RetryableStoreError,
    StoreError,
    StoreFailure,
)

T = TypeVar("T")

# Advisory-lock namespace (first key of the two-int form) for resource claims.
CLAIM_LOCK_NAMESPACE = 0x4F52
CHUNK = 2000
COPY_THRESHOLD = 200  # rows from which PostgreSQL inserts go through COPY

_OVERLAP_MARK = "claim_overlap"
_PG_EXCLUSION = "23P01"
_PG_RETRYABLE = {"40P01", "40001", "55P03"}


def resource_key(resource: str) -> int:
    """A signed 64-bit digest of a resource name: PostgreSQL's exclusion constraint compares these
    (far cheaper than text). Two names sharing a key would only ever be refused as a conflict,
    never double-booked."""
    digest = hashlib.blake2b(resource.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(resources: Iterable[str], key_space: int) -> list[int]:
    """Resource names hashed into `key_space` keys, deduplicated, sorted (a deadlock-free order)."""
    return sorted({zlib.crc32(r.encode()) % key_space for r in resources})


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    """`items` in slices of at most `size` (SQLite's bound-parameter limit)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


# errors ------------------------------------------------------------------------------------
def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for attr in ("sqlstate", "pgcode"):
        code = getattr(orig, attr, None)
        if isinstance(code, str):
            return code
    cause = getattr(orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


def is_overlap_error(exc: DBAPIError) -> bool:
    return _sqlstate(exc) == _PG_EXCLUSION or _OVERLAP_MARK in str(exc.orig)


def is_retryable_error(exc: DBAPIError) -> bool:
    if _sqlstate(exc) in _PG_RETRYABLE:
        return True
    if exc.connection_invalidated:
        # the server went away (a restart, a killed backend): SQLAlchemy has dropped the pool's
        # connections with it, so the next attempt connects afresh
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def as_store_error(exc: DBAPIError) -> StoreError:
    """The store's own error for a database error nobody closer knew what to do with."""
    if is_retryable_error(exc):
        return RetryableStoreError(str(exc.orig))
    return StoreFailure(str(exc.orig))


def driver_error(exc: BaseException, *, pg: bool) -> StoreError:
    """The store's own error for an error the driver raised itself (asyncpg, sqlite3), for the
    few statements that bypass SQLAlchemy: a lost connection or a busy database is retryable."""
    state = getattr(exc, "sqlstate", None)
    if pg:
        if not isinstance(state, str):  # no answer from the server: the connection failed
            return RetryableStoreError(f"the database connection failed: {exc!r}")
        if state in _PG_RETRYABLE or state[:2] in ("08", "57"):  # connection, shutdown
            return RetryableStoreError(str(exc))
        return StoreFailure(str(exc))
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return RetryableStoreError(str(exc))
    return StoreFailure(str(exc))


def _translate_outside_units(context: sa.engine.ExceptionContext) -> StoreError | None:
    # Errors while connecting, migrating or pinging leave the engine as the store's own; inside a
    # unit of work the statements may expect some (ClaimOverlap, DuplicateAnswer), so the unit
    # translates the rest when it ends.
    error = context.sqlalchemy_exception
    if not isinstance(error, DBAPIError):
        return None
    if context.connection is not None and context.connection.get_execution_options().get(
        "orch_unit"
    ):
        return None
    return as_store_error(error)


# one unit's transaction ---------------------------------------------------------------------
class Transaction:
    """One unit of work's connection, inside its transaction, and what its dialect allows. Every
    area's repository of the unit shares it."""

    def __init__(self, conn: AsyncConnection, dialect: str, lock_key_space: int) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"
        self._key_space = lock_key_space

    def in_(self, col: sa.ColumnElement[str], values: Sequence[str]) -> Iterable[Any]:
        """`col IN values` as few statements as the backend allows: one array on PostgreSQL,
        chunks of bound parameters on SQLite."""
        if not values:
            return
        if self.pg:
            yield col == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.String)))
            return
        for part in chunks(values):
            yield col.in_(part)

    def in_one(self, col: sa.ColumnElement[str], values: Sequence[str]) -> sa.ColumnElement[bool]:
        """`col IN values` as one condition with one bound parameter, however many the values: a
        JSON array, read by `json_each` on SQLite (thousands of bound parameters cost SQLAlchemy
        more to expand than the query costs SQLite) and made an array on PostgreSQL."""
        listed = self.listed(values).c.value
        if self.pg:
            # `= ANY(array)`, the array read from JSON by the server (the driver encodes a
            # 10,000-value array parameter a value at a time).
            return col == sa.any_(sa.func.array(sa.select(listed).scalar_subquery()))
        return col.in_(sa.select(listed))

    def listed(self, values: Sequence[str]) -> Any:
        """`values` as a table of one column, `value`, to join (one bound parameter, a JSON
        array): a join reads the rows of 10,000 ids in half the time `in_one`'s `IN` takes on
        SQLite."""
        listed: sa.BindParameter[str] = sa.bindparam(None, json.dumps(list(values)))
        if self.pg:
            return sa.func.json_array_elements_text(sa.cast(listed, JSON)).table_valued("value")
        return sa.func.json_each(listed).table_valued("value")

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (it knows ON CONFLICT)."""
        return (pg_insert if self.pg else sqlite_insert)(table)

    async def upsert_row(self, table: sa.Table, values: dict[str, Any], keys: list[str]) -> None:
        """Insert `values`, or update the row with the same `keys` (one statement, any backend)."""
        stmt = self.insert(table).values(values)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=keys,
                set_={k: v for k, v in values.items() if k not in keys},
            )
        )

    async def lock(self, resources: Sequence[str]) -> None:
        """Advisory locks on the resources' hashed keys until the transaction ends (PostgreSQL;
        SQLite's BEGIN IMMEDIATE already serialises every writer)."""
        if not self.pg or not resources:
            return
        keys = lock_keys(resources, self._key_space)
        # unnest keeps the array's (sorted) order, so every locker takes keys in one order.
        await self.conn.execute(
            sa.text(
                "SELECT count(pg_advisory_xact_lock(:ns, k)) "
                "FROM unnest(CAST(:keys AS integer[])) AS k"
            ),
            {"ns": CLAIM_LOCK_NAMESPACE, "keys": keys},
        )

    async def guard_overlap(self, statement: Awaitable[T]) -> T:
        """Await `statement`, raising `ClaimOverlap` when the database refuses an overlap."""
        try:
            return await statement
        except IntegrityError as exc:
            if is_overlap_error(exc):
                raise ClaimOverlap(str(exc.orig)) from exc
            raise

    async def copy(
        self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
    ) -> None:
        """PostgreSQL's COPY on this unit's own connection (so inside its transaction). Raises
        `ClaimOverlap`, `RetryableStoreError`."""
        raw = await self.conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        try:
            await driver.copy_records_to_table(table, records=records, columns=list(columns))
        except Exception as exc:
            state = getattr(exc, "sqlstate", None)
            if state == _PG_EXCLUSION:
                raise ClaimOverlap(str(exc)) from exc
            if state in _PG_RETRYABLE:
                raise RetryableStoreError(str(exc)) from exc
            raise


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, readonly: bool, lock_key_space: int
) -> AsyncIterator[Transaction]:
    """A connection in a transaction that commits when the block ends without an error. Database
    errors the block let through leave as `RetryableStoreError` or `StoreFailure`."""
    try:
        async with engine.connect() as conn:
            await conn.execution_options(orch_unit=True, orch_readonly=readonly)
            async with conn.begin():
                yield Transaction(conn, engine.dialect.name, lock_key_space)
    except DBAPIError as exc:
        raise as_store_error(exc) from exc


# engines ------------------------------------------------------------------------------------
def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 512 KiB of page cache per connection, not SQLite's 2 MiB: a pool's connections each
    # filled theirs as the attendance log grew (about 28 MB of a service's growth per 100,000
    # logged events), and the operating system caches the file anyway (no slower here).
    cur.execute("PRAGMA cache_size=-512")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A deferred BEGIN lets two check-then-insert units interleave and double-book; IMMEDIATE
    # takes the write lock up front. Read-only units keep a deferred BEGIN so they never block.
    if conn.get_execution_options().get("orch_readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """An async engine set up for the product's transaction rules on either backend."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        engine = create_async_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2
        )
    event.listen(engine.sync_engine, "handle_error", _translate_outside_units)
    return engine
