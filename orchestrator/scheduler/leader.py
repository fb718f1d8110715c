"""Which instance runs the scheduler: the holder of a PostgreSQL advisory lock (DESIGN 8).

On PostgreSQL every instance campaigns for one session-level advisory lock on a dedicated
connection of its own (not from the pool). The holder leads. When the leader process dies or its
connection breaks, PostgreSQL ends the session and releases the lock, and another instance takes
it at its next attempt (every `retry_seconds`) and leads `settle_seconds` later. On SQLite there
is one instance by design: it leads at once.

Never two leaders at once. When PostgreSQL ends a leader's session (killed, timed out, the
server restarting), it releases the lock a little before the old leader's driver sees the
connection close, and an instance polling at that moment takes the lock in between (measured on
one host: up to ~10 ms; 17 takeovers in 30 with a 5 ms poll). So a new holder waits
`settle_seconds` before it leads; by then the old leader has heard from its driver and stopped
leading. A leader cut off from the server notices at its next health check (every
`retry_seconds`, timing out after as long, at least a second), long before the server gives up
on the connection and frees the lock (with PostgreSQL's default TCP keepalives: hours). Even so,
the work never relies on there being one leader at every instant: what is due and whether it
was done are decided in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# The two-int advisory-lock form: (namespace, key). Resource claims use namespace 0x4F52
# (orchestrator.store.sql.CLAIM_LOCK_NAMESPACE); the scheduler has its own.
SCHEDULER_LOCK_NAMESPACE = 0x4F53
SCHEDULER_LOCK_KEY = 1
APPLICATION_NAME = "orchestrator-scheduler-leader"  # shows in pg_stat_activity

# Keys of SQLAlchemy's asyncpg dialect that are not asyncpg.connect() arguments.
_SQLALCHEMY_ONLY = (
    "async_fallback",
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)

Callback = Callable[[], Awaitable[None]]


def _db_errors() -> tuple[type[BaseException], ...]:
    """What a lost or unreachable database raises; anything else is a bug and propagates.
    asyncpg (about 3 MB) is imported on PostgreSQL only: SQLite's instance is always the
    leader."""
    import asyncpg  # type: ignore[import-untyped]

    return (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Leadership:
    """Campaigns for the scheduler's leadership on the database of `engine` (PostgreSQL: an
    advisory lock on a dedicated asyncpg connection; SQLite: always the leader).

    `run(on_elected, on_lost)` campaigns until `stop()`. Errors raised by the callbacks end `run`
    (the lock released) and propagate. Connection failures never do: they are logged and retried
    every `retry_seconds`. A takeover takes at most `retry_seconds + settle_seconds` (plus a
    round trip). One campaign per object: after `stop()`, build a new one.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retry_seconds: float = 2.0,
        settle_seconds: float = 0.5,
        namespace: int = SCHEDULER_LOCK_NAMESPACE,
        key: int = SCHEDULER_LOCK_KEY,
    ) -> None:
        self._backend = engine.dialect.name
        if self._backend not in ("postgresql", "sqlite"):
            raise ValueError(f"no leadership on {self._backend!r}")
        if retry_seconds <= 0 or settle_seconds < 0:
            raise ValueError("retry_seconds must be positive and settle_seconds not negative")
        self._engine = engine
        self._retry = retry_seconds
        self._settle = settle_seconds
        self._io_timeout = max(retry_seconds, 1.0)  # connect, health check, close
        self._lock = (namespace, key)
        self._conn: Any = None  # asyncpg.Connection
        self._leader = False
        self._stopping = asyncio.Event()
        self._lost = asyncio.Event()
        self._running = False
        self._finished = asyncio.Event()

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def is_leader(self) -> bool:
        return self._leader

    async def run(self, on_elected: Callback, on_lost: Callback) -> None:
        """Campaign until `stop()`: call `on_elected()` on taking the lead, `on_lost()` when the
        lead is lost without `stop()` (the connection died), then campaign again after two
        retry periods (so that a healthy instance takes over first). On return the
        lock is released and the connection closed. Not reentrant."""
        if self._running:
            raise RuntimeError("Leadership.run is already running")
        self._running = True
        self._finished.clear()
        try:
            if self._backend == "sqlite":
                self._leader = True
                await on_elected()
                await self._stopping.wait()
                return
            while not self._stopping.is_set():
                if not await self._try_acquire():
                    await self._pause(self._retry)
                    continue
                await self._pause(self._settle)  # see the module's docstring
                if self._stopping.is_set():
                    break
                if self._lost.is_set():  # the new session died while settling
                    await self._close(release=False)
                    continue
                self._leader = True
                log.info("scheduler leadership taken (lock %s)", self._lock)
                await on_elected()
                await self._hold()
                if self._stopping.is_set():
                    break
                log.warning("scheduler leadership lost: campaigning again")
                await on_lost()
                # let a healthy instance, polling every retry_seconds, take over first
                await self._pause(2 * self._retry)
        finally:
            self._leader = False
            await self._close(release=True)
            self._running = False
            self._finished.set()

    async def stop(self) -> None:
        """Stop leading and campaigning: release the lock, close the connection, end `run`.
        Stop the scheduler first, so that no job starts after the lock is released."""
        self._stopping.set()
        self._leader = False
        if self._running:
            await self._finished.wait()
        else:
            await self._close(release=True)

    async def _try_acquire(self) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                await self._connect()
            got = bool(
                await self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *self._lock)
            )
        except _db_errors() as exc:
            log.warning("scheduler leadership: database unreachable (%s); retrying", exc)
            await self._close(release=False)
            return False
        if got:
            self._lost.clear()
        return got

    async def _connect(self) -> None:
        # The engine's own translation of its URL (host, port, ssl, ... from the query string).
        _, params = self._engine.dialect.create_connect_args(self._engine.url)
        for name in _SQLALCHEMY_ONLY:
            params.pop(name, None)
        settings = dict(params.pop("server_settings", None) or {})
        settings.setdefault("application_name", APPLICATION_NAME)
        import asyncpg

        conn = await asyncpg.connect(**params, server_settings=settings, timeout=self._io_timeout)

        def closed(_: Any) -> None:
            # the driver saw the connection end: our session, and so the lock, are gone
            if conn is self._conn:
                self._leader = False
                self._lost.set()

        conn.add_termination_listener(closed)
        self._conn = conn

    async def _hold(self) -> None:
        """Return when the lead is lost or `stop()` is called."""
        while self._leader and not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._wait_lost_or_stop(), self._retry)
            except TimeoutError:
                await self._check()
        self._leader = False
        if not self._stopping.is_set():
            await self._close(release=False)

    async def _check(self) -> None:
        try:
            # the session holds the lock for as long as it lives
            await self._conn.fetchval("SELECT 1", timeout=self._io_timeout)
        except _db_errors() as exc:
            log.warning("scheduler leadership: health check failed (%s)", exc)
            self._leader = False

    async def _wait_lost_or_stop(self) -> None:
        lost = asyncio.ensure_future(self._lost.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((lost, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            stopping.cancel()

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if `stop()` is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _close(self, *, release: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            if release:
                await conn.execute("SELECT pg_advisory_unlock($1, $2)", *self._lock)
            await conn.close(timeout=self._io_timeout)
        except Exception as exc:  # a broken connection: its session ends with it anyway
            log.debug("scheduler leadership: closing the connection failed (%s)", exc)
            conn.terminate()
