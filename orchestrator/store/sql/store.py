"""The store on SQLAlchemy: a unit of work is one transaction with every area's repository."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from orchestrator.store import migrate
from orchestrator.store.base.errors import StoreFailure
from orchestrator.store.base.unit import SchemaState, UnitOfWork
from orchestrator.store.sql.actions import SqlDoneActions
from orchestrator.store.sql.answers import SqlAnswers
from orchestrator.store.sql.appender import SqlEventAppender
from orchestrator.store.sql.attendance import SqlAttendanceLog
from orchestrator.store.sql.audit import SqlAuditLog
from orchestrator.store.sql.checkpoint import WalCheckpointer
from orchestrator.store.sql.claims import SqlClaims
from orchestrator.store.sql.directory import SqlDirectory
from orchestrator.store.sql.directory_cache import CachedDirectory, DirectoryCache
from orchestrator.store.sql.engine import Transaction, as_store_error, transaction
from orchestrator.store.sql.invites import SqlInvites
from orchestrator.store.sql.joins import SqlJoinLinks
from orchestrator.store.sql.outbox import SqlOutbox
from orchestrator.store.sql.preparation import SqlSubmissions
from orchestrator.store.sql.reports import SqlReportData
from orchestrator.store.sql.series import SqlSeries
from orchestrator.store.sql.sessions import SqlSessions
from orchestrator.store.sql.tokens import SqlTokens


class SqlUnitOfWork:
    """One transaction on one connection, one repository per area (see `UnitOfWork`)."""

    def __init__(self, tx: Transaction, directory: DirectoryCache | None = None) -> None:
        self.directory: SqlDirectory | CachedDirectory = (
            SqlDirectory(tx)
            if directory is None
            else CachedDirectory(SqlDirectory(tx), directory, tx)
        )
        self.claims = SqlClaims(tx)
        self.sessions = SqlSessions(tx)
        self.series = SqlSeries(tx, self.sessions)
        self.tokens = SqlTokens(tx)
        self.audit = SqlAuditLog(tx)
        self.outbox = SqlOutbox(tx)
        self.invites = SqlInvites(tx)
        self.joins = SqlJoinLinks(tx)
        self.attendance = SqlAttendanceLog(tx)
        self.actions = SqlDoneActions(tx)
        self.preparation = SqlSubmissions(tx)
        self.answers = SqlAnswers(tx)
        self.reports = SqlReportData(tx)


class SqlStore:
    """The store on an SQLAlchemy async engine (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: AsyncEngine, *, lock_key_space: int = 2048, cache_directory: bool = True
    ) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._key_space = lock_key_space
        self.checkpoints = WalCheckpointer.attach(engine)
        """SQLite's background checkpoints (see `checkpoint`); None on PostgreSQL."""
        self._events = (
            SqlEventAppender(engine)
            if self.checkpoints is None
            else SqlEventAppender(
                engine, wrote=self.checkpoints.wrote, direct=self.checkpoints.connect
            )
        )
        self.directory_cache = DirectoryCache() if cache_directory else None
        """The directory as its units last read it (see `directory_cache`); None reads the
        database every time."""
        pool = engine.pool
        self._peeks = asyncio.Semaphore(max(1, pool.size() if isinstance(pool, QueuePool) else 1))

    @property
    def backend(self) -> str:
        return self._dialect

    @asynccontextmanager
    async def _unit(self, readonly: bool) -> AsyncIterator[SqlUnitOfWork]:
        async with transaction(
            self.engine, readonly=readonly, lock_key_space=self._key_space
        ) as tx:
            yield SqlUnitOfWork(tx, self.directory_cache)

    def write(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._unit(readonly=False)

    def read(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._unit(readonly=True)

    def peek(self) -> AbstractAsyncContextManager[UnitOfWork]:
        if self._dialect != "postgresql":
            return self._unit(readonly=True)  # a deferred BEGIN costs SQLite no round trip
        return self._peek()

    @asynccontextmanager
    async def _peek(self) -> AsyncIterator[SqlUnitOfWork]:
        # AUTOCOMMIT: asyncpg sends each statement alone, without the BEGIN and ROLLBACK round
        # trips of a transaction; the pool puts the connection's isolation level back on return.
        # At most `pool_size` peeks at once: a burst of looks leaves the overflow connections to
        # the units that decide (a racing booking's winner never waits behind its losers' looks).
        try:
            async with self._peeks, self.engine.connect() as conn:
                await conn.execution_options(
                    orch_unit=True, orch_readonly=True, isolation_level="AUTOCOMMIT"
                )
                yield SqlUnitOfWork(
                    Transaction(conn, self._dialect, self._key_space), self.directory_cache
                )
        except DBAPIError as exc:
            raise as_store_error(exc) from exc

    @property
    def events(self) -> SqlEventAppender:
        return self._events

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execution_options(orch_readonly=True)
            await conn.execute(sa.text("SELECT 1"))

    async def schema(self) -> SchemaState:
        try:
            current = await migrate.current_revision(self.engine)
        except OSError as exc:  # refused or unreachable: the driver's own error, not a DBAPI one
            raise StoreFailure(f"cannot connect: {exc}") from exc
        return SchemaState(current, migrate.head_revision())

    async def close(self) -> None:
        await self._events.close()
        if self.checkpoints is not None:
            await self.checkpoints.close()
        await self.engine.dispose()
