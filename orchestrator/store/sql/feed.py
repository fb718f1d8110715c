"""The `ChangeFeed` on PostgreSQL: LISTEN for the attendance other instances announce (`NOTIFY` on
`CHANNEL`, sent by `SqlAttendanceLog.announce` in the transaction that logs the events).

It listens on a dedicated asyncpg connection of its own, not one of the pool's: a listening
connection must stay open, and the pool hands its connections out and resets them. When that
connection is lost (the server restarted, the backend was terminated), notifications sent
meanwhile are lost for good, so after reconnecting it asks the boards to read their whole log
again (`resync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.domain.ports import LoggedEvents
from orchestrator.store.sql.attendance import CHANNEL

log = logging.getLogger(__name__)

APPLICATION_NAME = "orchestrator-board-feed"  # shows in pg_stat_activity
# Keys of SQLAlchemy's asyncpg dialect that are not asyncpg.connect() arguments.
_SQLALCHEMY_ONLY = (
    "async_fallback",
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)
# what a lost or unreachable database raises; anything else is a bug and propagates
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PgChangeFeed:
    """Hears other instances' attendance announcements through PostgreSQL's LISTEN.

    Reconnects after a lost connection with backoff (`first_retry` seconds, doubling up to
    `max_retry`), logging each attempt; a silent loss (no packet from a dead server) is found by a
    health check every `check_seconds`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        origin: str | None = None,
        first_retry: float = 0.2,
        max_retry: float = 10.0,
        check_seconds: float = 5.0,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("LISTEN/NOTIFY needs PostgreSQL")
        self._engine = engine
        self._origin = origin or uuid.uuid4().hex[:16]
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._check = check_seconds
        self.connected = asyncio.Event()  # set while listening (tests wait on it)
        self.backend_pid: int | None = None  # the listening connection's server process

    @property
    def origin(self) -> str:
        return self._origin

    async def follow(
        self, heard: Callable[[Sequence[LoggedEvents]], None], resync: Callable[[], None]
    ) -> None:
        delay, attempt, lost_before = self._first_retry, 0, False
        while True:
            attempt += 1
            try:
                conn = await self._connect(heard)
            except _DB_ERRORS as exc:
                log.warning(
                    "board feed: connecting to the database failed (attempt %d: %s); "
                    "next attempt in %.2f s",
                    attempt,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(2 * delay, self._max_retry)
                continue
            if lost_before:
                log.info("board feed: listening again (attempt %d); boards read anew", attempt)
                resync()  # what was announced while we were away is lost
            delay, attempt = self._first_retry, 0
            try:
                await self._hold(conn)
            finally:
                self.connected.clear()
                self.backend_pid = None
                await _close(conn)
            lost_before = True
            log.warning("board feed: the listening connection was lost; reconnecting")

    async def _connect(self, heard: Callable[[Sequence[LoggedEvents]], None]) -> Any:
        # The engine's own translation of its URL (host, port, ssl, ... from the query string).
        _, params = self._engine.dialect.create_connect_args(self._engine.url)
        for name in _SQLALCHEMY_ONLY:
            params.pop(name, None)
        settings = dict(params.pop("server_settings", None) or {})
        settings.setdefault("application_name", APPLICATION_NAME)
        timeout = max(self._check, 1.0)
        conn = await asyncpg.connect(**params, server_settings=settings, timeout=timeout)
        try:
            await conn.add_listener(CHANNEL, self._listener(heard))
            self.backend_pid = conn.get_server_pid()
        except BaseException:
            await _close(conn)
            raise
        return conn

    def _listener(self, heard: Callable[[Sequence[LoggedEvents]], None]) -> Any:
        origin = self._origin

        def hear(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                body = json.loads(payload)
                if body["o"] == origin:
                    return  # ours: this instance's boards were fed directly
                news = LoggedEvents(str(body["s"]), int(body["f"]), int(body["l"]))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("board feed: an announcement it cannot read (%s): %r", exc, payload)
                return
            heard([news])

        return hear

    async def _hold(self, conn: Any) -> None:
        """Return when the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        self.connected.set()
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._check)
                return
            try:
                await conn.fetchval("SELECT 1", timeout=max(self._check, 1.0))
            except _DB_ERRORS as exc:
                log.warning("board feed: health check failed (%s)", exc)
                return


async def _close(conn: Any) -> None:
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.close(), 2.0)
    except Exception as exc:  # a broken connection: its session ends with it anyway
        log.debug("board feed: closing the connection failed (%s)", exc)
        conn.terminate()
