"""Live boards: each session watched on this instance kept in memory (`LiveMerge`), fed by what
this instance logs, by what other instances announce they logged (`domain.ports.ChangeFeed`) and
by reading the log, and streamed as server-sent events, whole or as the lines that changed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from orchestrator.attendance.eventlog import LOG_PAGE, as_event, merged
from orchestrator.attendance.exports import (
    AttendanceOut,
    SiteRecordOut,
    UnmatchedOut,
    site_out,
    unmatched_out,
)
from orchestrator.attendance.merge.live import Changed, LiveMerge, live_session
from orchestrator.attendance.merge.record import AttendanceEvent, EventSource, Thresholds
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import Principal, Session
from orchestrator.domain.ports import LoggedEvents
from orchestrator.store.base import RetryableStoreError, Store, StoredEvent

log = logging.getLogger(__name__)

MIN_BOARD_GAP = 0.05  # seconds: small sessions' boards update at once
CHANGES_GAP = 0.05  # seconds: at most twenty `changes` events a second per stream
WHOLE_EVERY = 60.0  # seconds: a whole record again (time moves figures on; a missed announcement)
WHOLE_SLICE = 250  # sites merged between two looks at the webhooks, for a whole record
READ_RETRIES = (0.2, 0.5, 1.0)  # seconds between tries of a log read the database could not serve
_NO_SITES = ',"sites":[]'


class AttendanceChangesOut(BaseModel):
    """What changed on a live board since the stream's previous event: the lines of the sites
    that changed only (replace them by `site_id`), the whole `unmatched` list and summary."""

    session_id: str
    summary: str
    summary_en: str
    frozen_at: datetime | None = None
    late_events: int = 0
    sites: list[SiteRecordOut]
    unmatched: list[UnmatchedOut]


@dataclass(frozen=True)
class BoardMessage:
    """One server-sent event of a live board: `attendance` carries a whole `AttendanceOut`,
    `changes` an `AttendanceChangesOut`; `data` is its JSON."""

    event: Literal["attendance", "changes"]
    data: str


@dataclass(eq=False)
class _Listener:
    """One open stream: the sites changed since it last sent, or everything."""

    changed: set[str] = field(default_factory=set)
    news: bool = False  # new events (an unmatched occupant's change no site)
    everything: bool = True
    whole_at: float = 0.0  # loop time of its last whole record
    before_start: bool = False  # its last whole record was from before the session's start


@dataclass(eq=False)
class _Board:
    """A session watched live on this instance: its record kept in memory (`LiveMerge`), fed
    by the events this instance logs and by reading the log."""

    session: Session
    live: LiveMerge
    listeners: list[_Listener] = field(default_factory=list)
    read_to: int = 0  # the log has been read up to this id
    reading: asyncio.Lock = field(default_factory=asyncio.Lock)
    stale: bool = False  # announcements may have been missed: read the whole log again
    wanted: tuple[int, int] | None = None  # ids other instances announced, not read yet
    fetcher: asyncio.Task[None] | None = None  # reads `wanted`

    def add(self, events: Sequence[AttendanceEvent], now: datetime) -> None:
        before = len(self.live)
        self.changed(self.live.add(events, now), news=len(self.live) > before)

    def changed(self, sites: Changed, *, news: bool = False) -> None:
        for listener in self.listeners:
            listener.news |= news
            if sites is None:
                listener.everything = True
            else:
                listener.changed |= sites


class InProcessFeed:
    """The `ChangeFeed` of one instance (SQLite): nothing to hear, every board is fed directly."""

    def __init__(self) -> None:
        self._origin = uuid.uuid4().hex[:16]  # still names this instance (its poll leases)

    @property
    def origin(self) -> str:
        return self._origin

    async def follow(
        self, heard: Callable[[Sequence[LoggedEvents]], None], resync: Callable[[], None]
    ) -> None:
        await asyncio.Event().wait()  # until cancelled


@dataclass
class Broker:
    """In-process fan-out of "session X changed" to live-board streams of this instance."""

    _queues: dict[str, set[asyncio.Queue[None]]] = field(default_factory=dict)

    def publish(self, session_id: str) -> None:
        for queue in self._queues.get(session_id, ()):
            if queue.empty():  # a pending wake-up already covers this change
                queue.put_nowait(None)

    async def listen(self, session_id: str) -> AsyncGenerator[None, None]:
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._queues.setdefault(session_id, set()).add(queue)
        try:
            while True:
                await queue.get()
                yield None
        finally:
            self._queues[session_id].discard(queue)


class Boards:
    """The live boards of this instance: one per session watched, dropped when the last stream
    of it closes.

    `readable` gives the session a principal may read the attendance of (else raises what
    refuses it); `record` the record as the use case answers it, for a session that has ended
    or is frozen. `frozen` holds the sessions known to have a frozen record, shared with the
    event log.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        thresholds: Thresholds,
        frozen: set[str],
        *,
        readable: Callable[[str, Principal], Awaitable[Session]],
        record: Callable[[str, Principal], Awaitable[AttendanceOut]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._thresholds = thresholds
        self._frozen = frozen
        self._readable = readable
        self._record = record
        self._boards: dict[str, _Board] = {}
        self._broker = Broker()

    @property
    def watching(self) -> bool:
        """Whether any board is open."""
        return bool(self._boards)

    def publish(self, session_id: str) -> None:
        """Wake the streams of `session_id`: something of it changed."""
        self._broker.publish(session_id)

    async def stream(self, session_id: str, principal: Principal) -> AsyncIterator[BoardMessage]:
        """A live board (for server-sent events): the whole record now, then what changes.

        While the session runs the record is kept in memory for as long as a board watches it
        (`LiveMerge`): a change sends only the lines of the sites it changed (`changes`), at
        most every `CHANGES_GAP` or three times what the last one cost. A whole record
        (`attendance`) comes first, then again every `WHOLE_EVERY` (the log read again, for
        what other instances logged, and the minutes of sites that did not change moved on),
        after a room-wide event, at the session's start (every site's status leaves
        `not_started`), once the session has ended and when it is frozen.
        """
        session = await self._readable(session_id, principal)
        changes = self._broker.listen(session_id)
        loop = asyncio.get_running_loop()
        board = self._boards.get(session_id)
        if board is None:
            board = self._boards[session_id] = _Board(
                session, live_session(session, thresholds=self._thresholds)
            )
        listener = _Listener()
        board.listeners.append(listener)
        # Every site's status moves from `not_started` at the start, with no event: wake then.
        wait = (session.start - self._clock.now()).total_seconds()
        at_start = loop.call_later(wait, self._broker.publish, session_id) if wait > 0 else None
        try:
            yield await self._whole(board, listener, principal, reread=False)
            async for _ in changes:
                began = loop.time()
                message = await self._next(board, listener, principal)
                if message is None:
                    continue
                yield message
                # An event costs more the more sites it carries: a board waits a few times
                # what the last one cost (changes under a flood of webhooks take at most a
                # quarter of the loop), so a 10,000-site board cannot starve the webhooks;
                # the changes that arrive meanwhile are all in the next event.
                cost = loop.time() - began
                if message.event == "changes":
                    gap = max(CHANGES_GAP, 3 * cost)
                else:
                    gap = 2 * cost - MIN_BOARD_GAP
                await asyncio.sleep(max(0.0, gap))
        finally:
            if at_start is not None:
                at_start.cancel()
            board.listeners.remove(listener)
            if not board.listeners and self._boards.get(session_id) is board:
                del self._boards[session_id]  # nobody watches: free the memory
            await changes.aclose()

    async def _next(
        self, board: _Board, listener: _Listener, principal: Principal
    ) -> BoardMessage | None:
        """The stream's next event: its changes, a whole record, or None (nothing changed)."""
        now = self._clock.now()
        board.changed(board.live.due(now))
        due = asyncio.get_running_loop().time() - listener.whole_at >= WHOLE_EVERY or board.stale
        if (
            due
            or listener.everything
            or (listener.before_start and now >= board.session.start)
            or not board.live.complete
            or now >= board.session.end
            or board.session.id in self._frozen
        ):
            return await self._whole(board, listener, principal, reread=due)
        if not listener.changed and not listener.news:
            return None
        sites, listener.changed, listener.news = sorted(listener.changed), set(), False
        live = board.live
        lines = live.lines(sites, now)
        unmatched = live.unmatched(now)
        out = AttendanceChangesOut(
            session_id=board.session.id,
            summary=live.summary("vi", len(unmatched), now),
            summary_en=live.summary("en", len(unmatched), now),
            sites=[site_out(s) for s in lines],
            unmatched=[unmatched_out(u) for u in unmatched],
        )
        return BoardMessage("changes", out.model_dump_json())

    async def _whole(
        self, board: _Board, listener: _Listener, principal: Principal, *, reread: bool
    ) -> BoardMessage:
        """The whole record for a board: from memory while the session runs (after reading
        the log: what is new in it, or all of it again with `reread`), else as `record`
        gives it."""
        session = board.session
        listener.whole_at = asyncio.get_running_loop().time()
        now = self._clock.now()
        listener.before_start = now < session.start
        if now >= session.end or session.id in self._frozen:
            listener.everything, listener.changed, listener.news = False, set(), False
            out = await self._record(session.id, principal)
            return BoardMessage("attendance", out.model_dump_json())
        if await self._read_log(board, now, reread=reread):
            return await self._whole(board, listener, principal, reread=False)  # now frozen
        # what changes from here on is in the next `changes` event
        listener.everything, listener.changed, listener.news = False, set(), False
        live = board.live
        while True:
            # Every site's line, a slice at a time: webhooks are answered in between, and no
            # whole merge of the log (nor the whole record's objects) is ever held at once.
            mark = live.pass_begins()
            rows: list[str] = []
            for first in range(0, len(live.sites), WHOLE_SLICE):
                if first:
                    await asyncio.sleep(0)
                lines = live.lines(live.sites[first : first + WHOLE_SLICE], now)
                rows.extend(site_out(line).model_dump_json() for line in lines)
            if live.pass_ends(mark):
                break
        unmatched = live.unmatched(now)
        head = AttendanceOut(
            session_id=session.id,
            title=session.title,
            start=session.start,
            end=session.end,
            summary=live.summary("vi", len(unmatched), now),
            summary_en=live.summary("en", len(unmatched), now),
            sites=[],
            unmatched=[unmatched_out(u) for u in unmatched],
        ).model_dump_json()
        # no string in the JSON can hold this (its quotes would be escaped): the sites go there
        at = head.index(_NO_SITES)
        data = "".join((head[:at], ',"sites":[', ",".join(rows), "]", head[at + len(_NO_SITES) :]))
        return BoardMessage("attendance", data)

    async def _read_log(self, board: _Board, now: datetime, *, reread: bool) -> bool:
        """Add what the log holds that the board has not seen, a page at a time so webhooks
        are served in between: what was logged after the last read, or (`reread`) the whole
        log again, for what other instances logged meanwhile (ids are not given out in commit
        order). True when the session's record is frozen."""
        async with board.reading:
            if reread:
                board.stale = False
            after = 0 if reread else board.read_to
            while True:
                page = await self._page_of_log(board.session.id, after)
                if page is None:
                    self._frozen.add(board.session.id)
                    return True
                rows = page
                live = board.live
                new = [
                    as_event(r)
                    for r in rows
                    if merged(r) and not live.has(EventSource(r.source), r.dedupe_key)
                ]
                board.add(new, now)
                if rows:
                    after = board.read_to = max(board.read_to, rows[-1].id or 0)
                if len(rows) < LOG_PAGE:
                    return False

    async def _page_of_log(self, session_id: str, after: int) -> Sequence[StoredEvent] | None:
        """The session's next page of logged events after `after`, or None once its record is
        frozen. A read the database could not serve for a moment (a restart drops every
        connection of the pool) is tried again, so an open board outlives it."""
        for wait in (*READ_RETRIES, None):
            try:
                async with self._store.read() as uow:
                    if await uow.attendance.get_record(session_id) is not None:
                        return None
                    return await uow.attendance.list_events(
                        session_id, after_id=after, limit=LOG_PAGE
                    )
            except RetryableStoreError:
                if wait is None:
                    raise
                log.warning("reading the attendance log failed for a moment; again in %s s", wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def feed(self, rows: Sequence[StoredEvent]) -> None:
        """Give the boards watching these rows' sessions the rows just logged."""
        by_session: dict[str, list[AttendanceEvent]] = {}
        for r in rows:
            if r.session_id in self._boards and merged(r):
                by_session.setdefault(r.session_id, []).append(as_event(r))
        now = self._clock.now()
        for session_id, events in by_session.items():
            self._take(self._boards[session_id], events, now)

    def _take(self, board: _Board, events: Sequence[AttendanceEvent], now: datetime) -> None:
        board.add(events, now)
        due = board.live.next_due()
        if due is not None:  # an event ahead of our clock: wake the boards when it is due
            asyncio.get_running_loop().call_later(
                max(0.0, (due - now).total_seconds()), self._broker.publish, board.session.id
            )

    def heard(self, news: Sequence[LoggedEvents]) -> None:
        """Another instance logged events of these sessions (`ChangeFeed`): the boards watching
        them read those rows from the log, and their streams are woken."""
        for n in news:
            board = self._boards.get(n.session_id)
            if board is None:
                continue  # nobody watches it here
            if board.wanted is not None:  # not read yet: one read covers both
                n = LoggedEvents(
                    n.session_id, min(n.first, board.wanted[0]), max(n.last, board.wanted[1])
                )
            board.wanted = (n.first, n.last)
            if board.fetcher is None or board.fetcher.done():
                board.fetcher = asyncio.get_running_loop().create_task(self._fetch(board))

    def resync(self) -> None:
        """Announcements may have been missed (the feed was cut off): every board reads its
        whole log again at its next event, and sends a whole record."""
        for session_id, board in self._boards.items():
            board.stale = True
            board.changed(None)
            self._broker.publish(session_id)

    async def _fetch(self, board: _Board) -> None:
        """Read the rows other instances announced for `board` (ids in `wanted`), then wake its
        streams; a failed read leaves it to the next whole record (`stale`)."""
        session_id = board.session.id
        while board.wanted is not None:
            (first, last), board.wanted = board.wanted, None
            try:
                async with board.reading:
                    after = first - 1
                    while True:
                        async with self._store.read() as uow:
                            rows = await uow.attendance.list_events(
                                session_id, after_id=after, upto_id=last, limit=LOG_PAGE
                            )
                        live = board.live
                        new = [
                            as_event(r)
                            for r in rows
                            if merged(r) and not live.has(EventSource(r.source), r.dedupe_key)
                        ]
                        if new:
                            self._take(board, new, self._clock.now())
                        if len(rows) < LOG_PAGE:
                            break
                        after = rows[-1].id or 0
            except Exception as exc:
                log.warning("board of %s: reading announced events failed (%s)", session_id, exc)
                board.stale = True
                board.changed(None)
            self._broker.publish(session_id)
