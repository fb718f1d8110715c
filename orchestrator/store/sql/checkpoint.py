"""SQLite's write-ahead log copied back into the database in the background, not inside a commit.

SQLite checkpoints its WAL in whichever commit takes the log past `wal_autocheckpoint` pages
(1,000 by default), and that commit returns only once the pages are copied and synced: a booking
of 10,000 sites writes 1,300-1,700 pages, so every large booking paid 20-25 ms (more on a busy
disk) in its own commit. Here each engine's connections raise that threshold to a backstop
(`BACKSTOP_PAGES`, reached only if the background falls far behind) and, after a write commits,
a passive checkpoint runs on a connection of its own in a worker thread: at once if the last
one is older than `GAP_S`, else when it is. A passive checkpoint never waits for a lock and
never blocks readers or writers; it copies what no reader still needs, and the next writer then
starts the log again from its beginning. At most one runs at a time, and one more follows if a
write committed while it ran. The last connection to close checkpoints what is left, as SQLite
always does.

PostgreSQL needs none of this (its checkpoints are the server's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.store.sql.engine import sqlite_pragmas

BACKSTOP_PAGES = 16_000  # 64 MB of log with 4 KiB pages: a commit checkpoints past this itself
GAP_S = 0.25  # at most four background checkpoints a second


class WalCheckpointer:
    """Background checkpoints for one SQLite engine's database file (see the module's doc).

    `wrote()` is called after a write commits: SQLAlchemy's are heard through the engine's and
    the pool's events (a connection that committed a write, back in the pool), the event
    appender calls it itself after each batch (its connection stays out of the pool)."""

    def __init__(self, engine: AsyncEngine, path: str) -> None:
        self._path = path
        self._timer: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None
        self._again = False
        self._last = float("-inf")
        self._closed = False
        self.done = 0
        """Checkpoints run so far (for tests)."""
        event.listen(engine.sync_engine, "connect", _raise_threshold)
        # A commit is heard before it is sent: the connection is marked, and its return to the
        # pool (after the commit) asks for the checkpoint.
        event.listen(engine.sync_engine, "commit", _mark_written)
        event.listen(engine.sync_engine.pool, "checkin", self._checked_in)

    @classmethod
    def attach(cls, engine: AsyncEngine) -> WalCheckpointer | None:
        """A checkpointer for `engine`, or None when it is not SQLite over a file."""
        if engine.dialect.name != "sqlite":
            return None
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return cls(engine, path)

    def connect(self) -> sqlite3.Connection:
        """A plain connection to the database, for statements run on the event loop itself:
        set up as the engine's are, but its commits never checkpoint (`wal_autocheckpoint` 0:
        not even past the backstop, which the engine's connections keep, as a checkpoint of
        tens of megabytes would hold the loop) and it never waits for a lock (`busy_timeout`
        0: a busy database is the caller's to wait for elsewhere). Used by one thread at a
        time (the event loop's)."""
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            sqlite_pragmas(conn, None)
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("PRAGMA busy_timeout=0")
        except BaseException:
            conn.close()
            raise
        return conn

    def _checked_in(self, _dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.pop(_WROTE, False):
            self.wrote()

    def wrote(self) -> None:
        """A write committed: checkpoint soon."""
        if self._closed:
            return
        if self._running is not None:
            self._again = True
            return
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous tool): SQLite's backstop will do
            return
        delay = max(0.0, self._last + GAP_S - loop.time())
        self._timer = loop.call_later(delay, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._closed:
            return
        self._again = False
        self._running = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await asyncio.to_thread(self._checkpoint)
        except (sqlite3.Error, OSError):
            pass  # the next write tries again; SQLite's backstop stays in any case
        finally:
            self._last = asyncio.get_running_loop().time()
            self._running = None
            self.done += 1
        if self._again:
            self.wrote()

    def _checkpoint(self) -> None:
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    async def close(self) -> None:
        """No checkpoint after this one; waits for one that is running."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        running = self._running
        if running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(running)


_WROTE = "orch_wrote"  # in a pooled connection's info: it committed a write since its checkout


def _mark_written(conn: Any) -> None:
    if not conn.get_execution_options().get("orch_readonly"):
        conn.info[_WROTE] = True


def _raise_threshold(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    cur.close()
