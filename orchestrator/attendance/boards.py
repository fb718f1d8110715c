"""Live boards: each session watched on this instance kept in memory (`LiveMerge`), fed by what
this instance logs, by what other instances announce they logged (`domain.ports.ChangeFeed`) and
by reading the log, and streamed as server-sent events, whole or as the lines that changed; a
board's page reads it as it stands (`BoardSnapshot`): every site's state, the lines it shows.

About 840 lines, kept whole for now: the boards' registry, their feeding from the log and the
feed, the kept snapshot and the stream share one lock and one cache per session, and the memory
work of 3 and 5 December (the garbage collector held off during a cold read, a watched board's
merge settled out of its full collections, the C heap trimmed after each whole record) sits
across all of them. The next split is by concern, once the figures it was tuned against are
re-measured after it: the stream's framing (whole record, changed lines, `?sites=`) and the
heap housekeeping into modules of their own, beside the registry.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from orchestrator.attendance.eventlog import LOG_PAGE
from orchestrator.attendance.exports import (
    AttendanceOut,
    SiteRecordOut,
    UnmatchedOut,
    site_json,
    site_out,
    unmatched_out,
)
from orchestrator.attendance.logrows import SyncKeys, Taken, kept_events, kept_stored
from orchestrator.attendance.merge.live import Changed, LiveMerge
from orchestrator.attendance.merge.record import (
    AttendanceStatus,
    Connection,
    KeptEvent,
    SiteAttendance,
    Thresholds,
)
from orchestrator.domain.clock import Clock
from orchestrator.domain.collector import held_off, settled, unsettled
from orchestrator.domain.errors import SessionNotFound
from orchestrator.domain.models import Principal, Session
from orchestrator.domain.ports import LoggedEvents
from orchestrator.store.base import RetryableStoreError, Store, StoredEvent
from orchestrator.store.base.attendance import LoggedEvent

log = logging.getLogger(__name__)

MIN_BOARD_GAP = 0.05  # seconds: small sessions' boards update at once
CHANGES_GAP = 0.05  # seconds: at most twenty `changes` events a second per stream
# While a `changes` event is made, the webhooks run for this many times what each of its
# slices cost (`_Pace`); after it, the stream waits at least this many times what the whole
# event cost (its pauses left out). Under a flood a board thus takes at most a tenth of the
# loop. Three (a fourth) made the webhooks' rate with a national board open 0.6-0.75 of their
# rate without it (5 December, evening); nine, before the slices were paced and short, worsened
# their p99 (4 December).
CHANGES_WAIT = 9
WHOLE_EVERY = 60.0  # seconds: a whole record again (time moves figures on; a missed announcement)
SETTLE_AFTER = 10_000  # events a watched board takes in before its merge is settled again
WHOLE_SLICE = 250  # sites merged between two looks at the webhooks, for a whole record
# The same for `changes`: at most this many sites and about half a millisecond (a few sites at a
# time, `SLICE_STEP`), each slice followed by a pause (`CHANGES_WAIT`). Made in one burst, with
# one turn of the loop between slices of 64, an event held each webhook that came meanwhile for
# several slices, and their p99 under a flood doubled (5 December); slices of 16 sites held the
# loop about 2 ms while PostgreSQL's answers to the batches in flight waited (that evening).
CHANGES_SLICE = 16
CHANGES_SLICE_SECONDS = 0.0005
SLICE_STEP = 4
READ_RETRIES = (0.2, 0.5, 1.0)  # seconds between tries of a log read the database could not serve
# seconds a board stays in memory once nobody watches it: the page, its stream and a reload
# share one read of the log and one merge of every site
KEEP_WARM = 120.0
_NO_SITES = ',"sites":[]'
# The words of a site's state (`state_of`): its connection, then its verdict's flags.
STATE_WORDS = ("connected", "dropped", "waiting", "unknown", "absent", "late", "left_early")


def state_of(connection: str, status: str, late: bool, left_early: bool, overridden: bool) -> str:
    """A site's state as a board counts and filters it, in words: its connection (`connected`,
    `dropped`, `waiting`, `unknown`), then `absent` when its verdict is absent, `late` and
    `left_early` when flagged; the chair's verdict settles the flags, as in the summary."""
    words = [connection]
    if status == "absent":
        words.append("absent")
    if not overridden:
        if late:
            words.append("late")
        if left_early:
            words.append("left_early")
    return " ".join(words)


# every state, made once (`state_of` of each standing): 10,000 sites share a few strings
_STATES = {
    (c, st, late, early, over): state_of(c.value, st.value, late, early, over)
    for c in Connection
    for st in AttendanceStatus
    for late, early, over in itertools.product((False, True), repeat=3)
}


def line_state(line: SiteAttendance) -> str:
    return _STATES[
        line.connection, line.status, line.late, line.left_early, line.override is not None
    ]


def row_state(row: SiteRecordOut) -> str:
    return state_of(row.connection, row.status, row.late, row.left_early, row.override is not None)


# A whole record is written in ASCII (JSON's \u escapes): a single Vietnamese letter in it
# (the summary's "điểm cầu") made a 10,000-site record two bytes a character, 5.6 MB not 2.8.
def with_states(data: str, states: dict[str, str]) -> str:
    """The JSON object `data` with `states` added as its last member."""
    return "".join((data[:-1], ',"states":', json.dumps(states, separators=(",", ":")), "}"))


def give_back() -> None:
    """Return the C heap's free pages to the system (glibc's `malloc_trim`; nothing where the C
    library has none). A whole record of 10,000 lines frees megabytes in blocks too small for
    glibc to give back on its own (3 MB of a board's 5.5 at idle)."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL(None).malloc_trim
        except (AttributeError, OSError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None  # malloc_trim, once looked up (False: none)


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
    sites: frozenset[str] | None = None  # the sites whose lines it sends (None: every site)
    waited: float = 0.0  # seconds its last `changes` let the webhooks run between its slices


class _Pace:
    """The pauses between a `changes` event's slices: each lets the webhooks run for
    `CHANGES_WAIT` times what the slice before it cost (counted in the listener's `waited`).
    `time` and `sleep` are the loop's unless given."""

    def __init__(
        self,
        listener: _Listener,
        time: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._listener = listener
        self._time = time or asyncio.get_running_loop().time
        self._sleep = sleep
        self._began = self._time()

    async def pause(self) -> None:
        paused = self._time()
        await self._sleep(CHANGES_WAIT * (paused - self._began))
        self._began = self._time()
        self._listener.waited += self._began - paused


@dataclass(frozen=True)
class SiteLabel:
    """A site as a board names and groups it: its name and region in the directory (None when
    the directory no longer has it)."""

    name: str
    region: str | None


@dataclass(frozen=True)
class BoardLabels:
    """Who a board's sites are: each site's label, and the name of each region. They live as
    long as the board: `memo` keeps what a page derives from them (their order, say), so that
    it is derived once per board, not once per page."""

    sites: dict[str, SiteLabel]
    regions: dict[str, str]
    memo: dict[str, object] = field(default_factory=dict, compare=False)


@dataclass(eq=False)
class _Board:
    """A session watched live on this instance: its record kept in memory (`LiveMerge`, which
    holds the ids of its sites), fed by the events this instance logs and by reading the log;
    each site's state as its last line said it (`states`), and which sites changed since
    (`unstated`). `session` is read without its sites (`sites` empty): a national session's
    10,000 sites with their join links are not the board's."""

    session: Session
    live: LiveMerge
    taken: Taken = field(default_factory=Taken)  # the log rows given to `live` (each once)
    listeners: list[_Listener] = field(default_factory=list)
    read_to: int = 0  # the log has been read up to this id
    loaded: bool = False  # the log has been read once
    reading: asyncio.Lock = field(default_factory=asyncio.Lock)
    stale: bool = False  # announcements may have been missed: read the whole log again
    wanted: tuple[int, int] | None = None  # ids other instances announced, not read yet
    fetcher: asyncio.Task[None] | None = None  # reads `wanted`
    states: dict[str, str] = field(default_factory=dict)
    unstated: set[str] = field(default_factory=set)
    all_unstated: bool = True
    stated_before_start: bool | None = None  # the states were made before the start
    labels: BoardLabels | None = None
    expiry: asyncio.TimerHandle | None = None  # drops it, once nobody watches it
    settled_at: int | None = None  # its events when its merge was last settled (`settled`)

    def add(self, events: Sequence[KeptEvent], now: datetime) -> None:
        before = len(self.live)
        self.changed(self.live.add(events, now), news=len(self.live) > before)

    def changed(self, sites: Changed, *, news: bool = False) -> None:
        if sites is None:
            self.all_unstated = True
        else:
            self.unstated |= sites
        for listener in self.listeners:
            listener.news |= news
            if sites is None:
                listener.everything = True
            else:
                listener.changed |= sites

    def lines(self, sites: Sequence[str], now: datetime) -> list[SiteAttendance]:
        """The lines of `sites` at `now`, each kept as its site's state."""
        out = self.live.lines(sites, now)
        for line in out:
            self.states[line.site_id] = line_state(line)
            self.unstated.discard(line.site_id)
        return out

    def state(self, sites: Sequence[str], now: datetime) -> None:
        """Keep the state of `sites` at `now` (their lines not made)."""
        states, unstated = self.states, self.unstated
        for s in self.live.standings(sites, now):
            states[s.site_id] = _STATES[s.connection, s.status, s.late, s.left_early, s.overridden]
            unstated.discard(s.site_id)


@dataclass(frozen=True)
class BoardSnapshot:
    """A board as it stands, for its page: the record's head, every site's state (`state_of`,
    in the session's order), who the sites are, and `rows` to give the lines of the sites
    the page shows (as the record has them). `session` is without its sites (`sites` empty):
    `site_ids` are its sites, in their order."""

    session: Session
    site_ids: tuple[str, ...]
    summary: str
    summary_en: str
    frozen_at: datetime | None
    late_events: int
    states: dict[str, str]
    unmatched: list[UnmatchedOut]
    labels: BoardLabels
    rows: Callable[[Sequence[str]], list[SiteRecordOut]]


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


class Readable(Protocol):
    def __call__(
        self, session_id: str, principal: Principal, *, sites: bool = True
    ) -> Awaitable[Session]: ...


class Boards:
    """The live boards of this instance: one per session watched, dropped when the last stream
    of it closes.

    `readable` gives the session a principal may read the attendance of (else raises what
    refuses it; with `sites=False` without its sites); `record` the record as the use case
    answers it, for a session that has ended or is frozen. `frozen` holds the sessions known
    to have a frozen record, shared with the event log.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        thresholds: Thresholds,
        frozen: set[str],
        *,
        readable: Readable,
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

    async def stream(
        self, session_id: str, principal: Principal, sites: Sequence[str] | None = None
    ) -> AsyncIterator[BoardMessage]:
        """A live board (for server-sent events): the whole record now, then what changes.

        While the session runs the record is kept in memory for as long as a board watches it
        (`LiveMerge`), and `KEEP_WARM` after: a change sends only the lines of the sites it
        changed (`changes`), at most every `CHANGES_GAP` or `CHANGES_WAIT` times what the last
        one cost. A whole record (`attendance`) comes first, then again every `WHOLE_EVERY` (the
        log read again, for what other instances logged, and the minutes of sites that did
        not change moved on), after a room-wide event, at the session's start (every site's
        status leaves `not_started`), once the session has ended and when it is frozen.

        With `sites` (what a page shows), every event's `sites` holds only those sites' lines,
        and carries `states`: the state (`state_of`) of every site in a whole record, of each
        site that changed in `changes`; so a page of a 10,000-site board gets its counts and
        the few tiles it draws, not 10,000 lines.
        """
        board = await self._current(session_id, principal)
        session = board.session
        changes = self._broker.listen(session_id)
        loop = asyncio.get_running_loop()
        listener = _Listener(sites=None if sites is None else frozenset(sites))
        board.listeners.append(listener)
        if board.expiry is not None:
            board.expiry.cancel()
            board.expiry = None
        # Every site's status moves from `not_started` at the start, with no event: wake then.
        wait = (session.start - self._clock.now()).total_seconds()
        at_start = loop.call_later(wait, self._broker.publish, session_id) if wait > 0 else None
        try:
            yield await self._whole(board, listener, principal, reread=False)
            async for _ in changes:
                began, listener.waited = loop.time(), 0.0
                message = await self._next(board, listener, principal)
                if message is None:
                    continue
                whole = message.event == "attendance"
                yield message
                del message  # a whole record is megabytes: not kept while waiting
                # An event costs more the more sites it carries: a board waits a few times
                # what the last one cost (changes under a flood of webhooks take at most a
                # tenth of the loop, `CHANGES_WAIT`), so a 10,000-site board cannot starve
                # the webhooks; the changes that arrive meanwhile are all in the next event.
                cost = loop.time() - began - listener.waited
                gap = 2 * cost - MIN_BOARD_GAP if whole else max(CHANGES_GAP, CHANGES_WAIT * cost)
                await asyncio.sleep(max(0.0, gap))
        finally:
            if at_start is not None:
                at_start.cancel()
            board.listeners.remove(listener)
            if not board.listeners:
                self._keep_warm(board)
            await changes.aclose()

    async def snapshot(self, session_id: str, principal: Principal) -> BoardSnapshot:
        """The board of a session as it stands, for its page (see `BoardSnapshot`): from
        memory while the session runs (the board is read and merged once, then kept
        `KEEP_WARM` for the page's stream and the next reload), else from the record."""
        board = await self._current(session_id, principal)
        session = board.session
        if not board.listeners:
            self._keep_warm(board)
        now = self._clock.now()
        live = board.live
        frozen = session.id in self._frozen
        labels = await self._labels(board)
        if now < session.end and not frozen and (not board.loaded or board.stale):
            frozen = await self._read_log(board, now, reread=board.stale)
        if now < session.end and not frozen:
            board.changed(live.due(now))
            await self._fresh_states(board, now)
            unmatched = live.unmatched(now)

            def rows(sites: Sequence[str]) -> list[SiteRecordOut]:
                return [site_out(line) for line in board.lines(sites, now)]

            return BoardSnapshot(
                session=session,
                site_ids=live.sites,
                summary=live.summary("vi", len(unmatched), now),
                summary_en=live.summary("en", len(unmatched), now),
                frozen_at=None,
                late_events=0,
                states={s: board.states[s] for s in live.sites},
                unmatched=[unmatched_out(u) for u in unmatched],
                labels=labels,
                rows=rows,
            )
        out = await self._record(session.id, principal)
        by_site = {row.site_id: row for row in out.sites}

        def recorded(sites: Sequence[str]) -> list[SiteRecordOut]:
            return [by_site[s] for s in dict.fromkeys(sites) if s in by_site]

        return BoardSnapshot(
            session=session,
            site_ids=live.sites,
            summary=out.summary,
            summary_en=out.summary_en,
            frozen_at=out.frozen_at,
            late_events=out.late_events,
            states={row.site_id: row_state(row) for row in out.sites},
            unmatched=out.unmatched,
            labels=labels,
            rows=recorded,
        )

    async def _current(self, session_id: str, principal: Principal) -> _Board:
        """The session's board if `principal` may read its attendance (else raises what
        refuses it): the one this instance holds while it is of the session's current version
        (the session read without its sites, to decide), else one made of the session read
        again with the ids of its sites (never its whole sites: 10,000 join links)."""
        head = await self._readable(session_id, principal, sites=False)
        board = self._boards.get(session_id)
        if board is not None and board.session.version == head.version:
            return board
        async with self._store.read() as uow:  # the session and its sites of one version
            session = await uow.sessions.get(session_id, sites=False)
            sites = await uow.attendance.sites_of(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return self._board_of(session, sites)

    def _board_of(self, session: Session, sites: Sequence[str]) -> _Board:
        """The board of `session` (read without its sites; `sites` are its sites) on this
        instance, made if there is none (or if nobody watches one made of an earlier version
        of the session)."""
        board = self._boards.get(session.id)
        if board is None or (not board.listeners and board.session.version != session.version):
            replaced = board is not None
            if board is not None and board.expiry is not None:
                board.expiry.cancel()
            live = LiveMerge(
                sites=sites,
                session_start=session.start,
                session_end=session.end,
                thresholds=self._thresholds,
                unique=True,  # each row given once (`_Board.taken`)
                keying=SyncKeys(session.room) if session.room else None,
            )
            board = self._boards[session.id] = _Board(session, live)
            if replaced:
                unsettled()  # the earlier version's merge, if it was settled, collected
        return board

    def _keep_warm(self, board: _Board) -> None:
        """Nobody watches `board`: drop it `KEEP_WARM` from now unless someone does by then."""
        if board.expiry is not None:
            board.expiry.cancel()
        board.expiry = asyncio.get_running_loop().call_later(KEEP_WARM, self._drop, board)

    def _drop(self, board: _Board) -> None:
        board.expiry = None
        if not board.listeners and self._boards.get(board.session.id) is board:
            del self._boards[board.session.id]  # nobody watches: free the memory
            unsettled()  # its merge, with whatever else was settled, collected again

    async def _labels(self, board: _Board) -> BoardLabels:
        """Who the board's sites are, read from the directory once per board."""
        if board.labels is None:
            ids = board.live.sites
            async with self._store.read() as uow:
                found = await uow.directory.site_names(ids)
                regions = await uow.directory.list_regions()
            board.labels = BoardLabels(
                sites={s: SiteLabel(*found.get(s, (s, None))) for s in ids},
                regions={r.id: r.name for r in regions},
            )
        return board.labels

    async def _every_line(self, board: _Board, now: datetime, *, rows: bool) -> list[str]:
        """Every site's line, a slice at a time (webhooks are answered in between; no whole
        merge of the log, nor the whole record's objects, is ever held at once), each kept as
        its site's state; again if a room-wide event came meanwhile. With `rows`, the lines'
        JSON, comma-separated a slice at a time (10,000 small strings held at once left the
        process's memory fragmented), else only their states."""
        with held_off():
            return await self._each_line(board, now, rows=rows)

    async def _each_line(self, board: _Board, now: datetime, *, rows: bool) -> list[str]:
        live = board.live
        while True:
            mark = live.pass_begins()
            board.all_unstated = False
            out: list[str] = []  # a slice's lines at a time
            for first in range(0, len(live.sites), WHOLE_SLICE):
                if first:
                    await asyncio.sleep(0)
                some = live.sites[first : first + WHOLE_SLICE]
                if rows:
                    out.append(
                        ",".join(site_json(line, ascii=True) for line in board.lines(some, now))
                    )
                else:
                    board.state(some, now)
            if live.pass_ends(mark):
                board.stated_before_start = now < board.session.start
                return out

    async def _fresh_states(self, board: _Board, now: datetime) -> None:
        """Bring `board.states` up to date: the sites changed since (a slice at a time), or
        every site after a room-wide event or across the session's start."""
        if (
            board.all_unstated
            or not board.live.complete
            or board.stated_before_start is not (now < board.session.start)
        ):
            await self._every_line(board, now, rows=False)
        stale = sorted(board.unstated)
        for first in range(0, len(stale), WHOLE_SLICE):
            if first:
                await asyncio.sleep(0)
            board.state(stale[first : first + WHOLE_SLICE], now)

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
        live, shown = board.live, listener.sites
        rows: list[str] = []  # each slice's lines' JSON
        states: dict[str, str] = {}
        # A slice at a time, the webhooks answered in between: after a flood, an event of a
        # thousand sites would hold the loop for tens of milliseconds at once.
        pace = _Pace(listener)
        time = asyncio.get_running_loop().time
        first = 0
        while first < len(sites):
            if first:
                await pace.pause()
                # each slice as of when it is made (not behind another stream's lines of the
                # same sites), within the session: its end makes the next event a whole record
                if now < (later := self._clock.now()) < board.session.end:
                    now = later
            began, end = time(), min(len(sites), first + CHANGES_SLICE)
            lines: list[SiteAttendance] = []
            while True:  # a step at least
                step = sites[first : min(end, first + SLICE_STEP)]
                first += len(step)
                if shown is None:
                    lines += board.lines(step, now)
                else:  # a page's stream: the lines of the sites it shows, the others' states
                    board.state([s for s in step if s not in shown], now)
                    lines += board.lines([s for s in step if s in shown], now)
                    states.update((s, board.states[s]) for s in step)
                if first >= end or time() - began >= CHANGES_SLICE_SECONDS:
                    break
            rows.append(",".join(site_json(line) for line in lines))
        if not live.complete:  # a room-wide event came meanwhile: every line changed
            return await self._whole(board, listener, principal, reread=False)
        unmatched = live.unmatched(now)
        # The sites that changed while this event was made are in the next one: the summary
        # counts them as the lines the page holds have them (not merged again all at once here).
        head = AttendanceChangesOut(
            session_id=board.session.id,
            summary=live.summary("vi", len(unmatched), now, as_counted=True),
            summary_en=live.summary("en", len(unmatched), now, as_counted=True),
            sites=[],
            unmatched=[unmatched_out(u) for u in unmatched],
        ).model_dump_json()
        at = head.index(_NO_SITES)  # (as in `_whole`)
        chunks = ",".join(r for r in rows if r)
        data = "".join((head[:at], ',"sites":[', chunks, "]", head[at + len(_NO_SITES) :]))
        if shown is not None:
            data = with_states(data, states)
        return BoardMessage("changes", data)

    async def _whole(
        self, board: _Board, listener: _Listener, principal: Principal, *, reread: bool
    ) -> BoardMessage:
        """The whole record for a board: from memory while the session runs (after reading
        the log: all of it again with `reread`, what is new in it if the board may have
        missed some), else as `record` gives it; with the listener's `sites` only, and
        every site's state."""
        session = board.session
        listener.whole_at = asyncio.get_running_loop().time()
        now = self._clock.now()
        listener.before_start = now < session.start
        shown = listener.sites
        if now >= session.end or session.id in self._frozen:
            listener.everything, listener.changed, listener.news = False, set(), False
            out = await self._record(session.id, principal)
            if shown is None:
                return BoardMessage("attendance", out.model_dump_json(ensure_ascii=True))
            every = {row.site_id: row_state(row) for row in out.sites}
            out = out.model_copy(update={"sites": [r for r in out.sites if r.site_id in shown]})
            return BoardMessage("attendance", with_states(out.model_dump_json(), every))
        if (reread or not board.loaded or board.stale) and await self._read_log(
            board, now, reread=reread
        ):
            return await self._whole(board, listener, principal, reread=False)  # now frozen
        # what changes from here on is in the next `changes` event
        listener.everything, listener.changed, listener.news = False, set(), False
        live = board.live
        states: dict[str, str] | None = None
        if shown is None:
            rows = await self._every_line(board, now, rows=True)
        else:
            await self._fresh_states(board, now)
            wanted = [s for s in live.sites if s in shown]
            lines = board.lines(wanted, now)
            rows = [",".join(site_json(line, ascii=True) for line in lines)]
            states = {s: board.states[s] for s in live.sites}
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
        ).model_dump_json(ensure_ascii=True)
        # no string in the JSON can hold this (its quotes would be escaped): the sites go there
        at = head.index(_NO_SITES)
        # one copy of the record: its slices joined into it as they are
        parts = [head[:at], ',"sites":[']
        for n, chunk in enumerate(c for c in rows if c):
            parts += (",", chunk) if n else (chunk,)
        rows.clear()
        data = "".join((*parts, "]", head[at + len(_NO_SITES) :]))
        del parts
        give_back()  # what making every line freed
        # the board's merge lives on: out of the full collections' walks, once it is made and
        # again when it has grown by `SETTLE_AFTER` events (not at every viewer's whole record:
        # each settling is a full collection of what is not settled yet)
        if board.settled_at is None or len(board.live) - board.settled_at >= SETTLE_AFTER:
            settled()
            board.settled_at = len(board.live)
        return BoardMessage("attendance", data if states is None else with_states(data, states))

    async def _read_log(self, board: _Board, now: datetime, *, reread: bool) -> bool:
        """Add what the log holds that the board has not seen, a page at a time so webhooks
        are served in between: what was logged after the last read, or (`reread`) the whole
        log again, for what other instances logged meanwhile (ids are not given out in commit
        order). True when the session's record is frozen."""
        async with board.reading:
            with held_off():
                return await self._read_pages(board, now, reread=reread)

    async def _read_pages(self, board: _Board, now: datetime, *, reread: bool) -> bool:
        if reread:
            board.stale = False
        after = 0 if reread else board.read_to
        while True:
            rows = await self._page_of_log(board.session.id, after)
            if rows is None:
                self._frozen.add(board.session.id)
                return True
            board.add(kept_events(board.live, rows, board.taken), now)
            if rows:
                after = board.read_to = max(board.read_to, rows[-1].id or 0)
            if len(rows) < LOG_PAGE:
                board.loaded = True
                return False

    async def _page_of_log(self, session_id: str, after: int) -> Sequence[LoggedEvent] | None:
        """The session's next page of logged events after `after`, or None once its record is
        frozen. A read the database could not serve for a moment (a restart drops every
        connection of the pool) is tried again, so an open board outlives it."""
        for wait in (*READ_RETRIES, None):
            try:
                async with self._store.read() as uow:
                    if await uow.attendance.get_record(session_id) is not None:
                        return None
                    return await uow.attendance.read_log(session_id, after_id=after, limit=LOG_PAGE)
            except RetryableStoreError:
                if wait is None:
                    raise
                log.warning("reading the attendance log failed for a moment; again in %s s", wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def feed(self, logged: Sequence[tuple[StoredEvent, int]]) -> None:
        """Give the boards watching these rows' sessions the rows just logged (each with its
        id in the log)."""
        by_session: dict[str, list[tuple[StoredEvent, int]]] = {}
        for r in logged:
            session_id = r[0].session_id
            if session_id is not None and session_id in self._boards:
                by_session.setdefault(session_id, []).append(r)
        now = self._clock.now()
        for session_id, mine in by_session.items():
            board = self._boards[session_id]
            self._take(board, kept_stored(board.live, mine, board.taken), now)

    def _take(self, board: _Board, events: Sequence[KeptEvent], now: datetime) -> None:
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
                            rows = await uow.attendance.read_log(
                                session_id, after_id=after, upto_id=last, limit=LOG_PAGE
                            )
                        new = kept_events(board.live, rows, board.taken)
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
