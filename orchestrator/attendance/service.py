"""Attendance use cases: log what the sources say, check sites in, let the chair override, and
answer the record (live, or frozen once the session has ended).

Every event is appended to the log with its source before the webhook is answered (rule 8);
the record is always recomputed from the whole log by `merge`, so late, repeated or reordered
events give the same answer as a clean, ordered stream.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import ConnectorError, RoomPresence
from orchestrator.attendance.merge import (
    AttendanceEvent,
    AttendanceRecord,
    Changed,
    EventKind,
    EventSource,
    LiveMerge,
    SiteAttendance,
    Thresholds,
    UnmatchedOccupant,
    Verdict,
    merge_session,
)
from orchestrator.attendance.sources import Observation, read_poll
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
    SessionNotFound,
)
from orchestrator.domain.models import (
    AuditEntry,
    Principal,
    Role,
    Session,
    SessionStatus,
    Site,
    may_see,
)
from orchestrator.store.base import SessionQuery, Store, StoredEvent

log = logging.getLogger(__name__)
_T = TypeVar("_T")


RECORD = "attendance-record"  # the outbox kind of a frozen record to mail to the chair


class CheckinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headcount: int = Field(ge=0, le=100_000)
    names: list[str] = Field(default_factory=list, max_length=500)


class CheckinOut(BaseModel):
    session_id: str
    site_id: str
    headcount: int
    names: list[str]
    at: datetime


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["present", "absent"]
    reason: str = Field(min_length=1, max_length=2000)


class SiteRecordOut(BaseModel):
    site_id: str
    connection: str
    status: str
    measured_status: str
    late: bool
    left_early: bool
    first_join: datetime | None
    last_leave: datetime | None
    connected_minutes: float
    reconnects: int
    headcount: int | None
    names: list[str]
    override: dict[str, str] | None = None
    intervals: list[tuple[datetime, datetime]]


class UnmatchedOut(BaseModel):
    source: str
    occupant: str
    site_id: str | None
    name: str | None
    email: str | None
    connected_now: bool
    connected_minutes: float


class AttendanceOut(BaseModel):
    session_id: str
    title: str
    start: datetime
    end: datetime
    summary: str
    summary_en: str
    frozen_at: datetime | None = None
    late_events: int = Field(default=0, description="Events logged after the record was frozen")
    sites: list[SiteRecordOut]
    unmatched: list[UnmatchedOut]


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


@dataclass
class _Room:
    session_id: str
    sites: frozenset[str]


@dataclass(eq=False)
class _Listener:
    """One open stream: the sites changed since it last sent, or everything."""

    changed: set[str] = field(default_factory=set)
    news: bool = False  # new events (an unmatched occupant's change no site)
    everything: bool = True
    whole_at: float = 0.0  # loop time of its last whole record


@dataclass(eq=False)
class _Board:
    """A session watched live on this instance: its record kept in memory (`LiveMerge`), fed
    by the events this instance logs and by reading the log."""

    session: Session
    live: LiveMerge
    listeners: list[_Listener] = field(default_factory=list)
    read_to: int = 0  # the log has been read up to this id
    reading: asyncio.Lock = field(default_factory=asyncio.Lock)

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


FREEZE_MARGIN = timedelta(minutes=10)
FROZEN_RECHECK = timedelta(seconds=30)
# How long a site id that a room's session lacks is believed missing before the session is read
# again (a site added to the session since is then found).
STRANGER_RECHECK = timedelta(seconds=30)
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
MIN_BOARD_GAP = 0.05  # seconds: small sessions' boards update at once
CHANGES_GAP = 0.05  # seconds: at most twenty `changes` events a second per stream
WHOLE_EVERY = 60.0  # seconds: a whole record again (time moves figures on; other instances)
LOG_PAGE = 5000  # events read per query when a board reads the log
WHOLE_SLICE = 250  # sites merged between two looks at the webhooks, for a whole record
_NO_SITES = ',"sites":[]'


CheckinState = Literal["open", "early", "closed", "cancelled"]


def checkin_state(
    cancelled: bool, opens: datetime, closes: datetime, now: datetime
) -> CheckinState:
    """Whether a site may check in now. The window opens with the connection test (the start of
    the session's claimed range) and closes at the end: the record is frozen then, and a later
    headcount would change nothing."""
    if cancelled:
        return "cancelled"
    if now < opens:
        return "early"
    return "open" if now < closes else "closed"


class Attendance:
    """The attendance use cases."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        thresholds: Thresholds | None = None,
        presence: RoomPresence | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._presence = presence
        self._thresholds = thresholds or Thresholds()
        self._rooms: dict[str, _Room] = {}
        self._strangers: dict[str, dict[str, datetime]] = {}  # room: site id: found missing at
        self._waiting: list[tuple[list[StoredEvent], asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._frozen_ids: set[str] = set()
        self._ends: dict[str, datetime] = {}  # the sessions' ends, as their rooms were read
        self._checked: dict[str, datetime] = {}  # when each was last looked up as not frozen
        self._boards: dict[str, _Board] = {}
        self.broker = Broker()

    # ingest ----------------------------------------------------------------------------
    async def _sessions_of(self, observations: Sequence[Observation]) -> dict[str, _Room | None]:
        """The session of each room the observations name (None: no session owns it).

        Cached; a room is read again, once per call, only when a site its observations claim
        is not among the cached session's sites (sites may be added after the first webhook)
        and was not found missing within `STRANGER_RECHECK` (a token naming no site of the
        session would otherwise reload a 10,000-site session for every one of its events)."""
        now = self._clock.now()
        claimed: dict[str, set[str]] = {}
        for ob in observations:
            sites = claimed.setdefault(ob.room, set())
            if ob.site_id is not None:
                sites.add(ob.site_id)
        found: dict[str, _Room | None] = {}
        for room, sites in claimed.items():
            cached = self._rooms.get(room)
            strangers = self._strangers.setdefault(room, {})
            unknown = set() if cached is None else sites - cached.sites
            fresh = {s for s in unknown if now - strangers.get(s, _LONG_AGO) < STRANGER_RECHECK}
            if cached is not None and unknown <= fresh:
                found[room] = cached
                continue
            async with self._store.read() as uow:
                session = await uow.get_session_by_room(room)
            if session is None:  # unknown rooms are not cached: a booking may come later
                found[room] = None
                continue
            known = self._rooms[room] = found[room] = _Room(session.id, frozenset(session.site_ids))
            self._ends[session.id] = session.end
            for site in sites - known.sites:
                strangers[site] = now
        return found

    async def ingest(self, observations: Sequence[Observation]) -> int:
        """Log the observations (duplicates dropped); the number that were new.

        An observation for a room no session owns is logged apart (no session) so nothing is
        lost, and acknowledged like any other.
        """
        if not observations:
            return 0
        now = self._clock.now()
        rooms = await self._sessions_of(observations)
        rows: list[StoredEvent] = []
        sessions: set[str] = set()
        for ob in observations:
            room = rooms[ob.room]
            site = ob.site_id
            if room is not None:
                sessions.add(room.session_id)
                if site is not None and site not in room.sites:
                    site = None  # a token naming no site of this session: unmatched
            data = {k: v for k, v in ob.data.items() if v is not None}
            if ob.site_id and site is None:
                data["claimed_site"] = ob.site_id
            rows.append(
                StoredEvent(
                    source=ob.source,
                    kind=ob.kind,
                    at=ob.at,
                    dedupe_key=ob.dedupe_key,
                    received_at=now,
                    session_id=room.session_id if room else None,
                    room=ob.room,
                    site_id=site,
                    occupant=ob.occupant,
                    data=data,
                )
            )
        added = await self._write(rows)
        for session_id in sessions:
            self.broker.publish(session_id)
        if any(r.session_id is None for r in rows):
            log.warning("attendance events for unknown room(s): %s", {r.room for r in rows})
        return added

    async def _write(self, rows: list[StoredEvent]) -> int:
        """Log `rows` with whatever else is waiting, in one transaction (a group commit); the
        number of them that were new. Returns only once they are committed (rule 8)."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                added = await self._commit([r for rows, _ in batch for r in rows])
            except Exception as exc:
                if len(batch) == 1:  # the request learns it failed: nothing acked
                    self._settle(batch, exc)
                    continue
                # One bad member must not fail the others: each is written on its own merits.
                log.warning(
                    "a batch of %d webhooks failed (%s); writing them one by one", len(batch), exc
                )
                for member in batch:
                    try:
                        self._settle([member], await self._commit(member[0]))
                    except Exception as one:
                        self._settle([member], one)
                continue
            self._settle(batch, added)

    async def _commit(self, every: list[StoredEvent]) -> set[tuple[str, str]]:
        """Log `every` in one transaction; the (source, key) of those that were new. Boards
        hear of the new ones once they are committed."""
        now = self._clock.now()
        async with self._store.write() as uow:
            for session_id in {r.session_id for r in every if r.session_id}:
                if not self._may_be_frozen(session_id, now):
                    continue
                if await uow.get_record(session_id) is not None:
                    self._frozen_ids.add(session_id)  # a session freezes once
                else:
                    self._checked[session_id] = now
            frozen = self._frozen_ids
            if frozen and any(r.session_id in frozen for r in every):
                every = [
                    replace(r, after_freeze=True) if r.session_id in frozen else r for r in every
                ]
            added = await uow.add_events(every)
        if self._boards:
            # boards merge after the webhooks are answered: their cost is not the platform's
            fresh = [r for r in every if (r.source, r.dedupe_key) in added]
            asyncio.get_running_loop().call_soon(self._feed, fresh)
        return added

    @staticmethod
    def _settle(
        batch: list[tuple[list[StoredEvent], asyncio.Future[int]]],
        outcome: set[tuple[str, str]] | BaseException,
    ) -> None:
        """Answer each waiting request: how many of its rows were new, or the failure."""
        for rows, done in batch:
            if done.done():
                continue
            if isinstance(outcome, BaseException):
                done.set_exception(outcome)
                continue
            mine = {(r.source, r.dedupe_key) for r in rows} & outcome
            outcome -= mine
            done.set_result(len(mine))

    def _may_be_frozen(self, session_id: str, now: datetime) -> bool:
        """Whether a batch must look the session's record up. A record is frozen only once the
        session has ended, so long before its end (as read with its room: another instance's
        clock may run ahead, and the end may have been moved since) a look every
        `FROZEN_RECHECK` is enough; near and after the end, every batch looks."""
        if session_id in self._frozen_ids:
            return False
        end, checked = self._ends.get(session_id), self._checked.get(session_id)
        if end is None or checked is None or now >= end - FREEZE_MARGIN:
            return True
        return now - checked >= FROZEN_RECHECK

    async def close(self) -> None:
        """Release the presence poller's connections."""
        if self._presence is not None:
            await self._presence.aclose()

    # polls -----------------------------------------------------------------------------
    async def poll_live(self) -> int:
        """Ask the video server who is in the room of every live Jitsi session; the number of
        rooms polled. A failed poll is logged as `unknown`, never as absent."""
        if self._presence is None:
            return 0
        now = self._clock.now()
        async with self._store.read() as uow:
            live = await uow.list_sessions(
                SessionQuery(status=SessionStatus.LIVE, now=now, limit=1000)
            )
            jitsi = [s for s in live if s.provider == "jitsi" and s.room]
            sites = await uow.get_sites([i for s in jitsi for i in s.site_ids])
        for session in jitsi:
            await self.poll(session, sites, now)
        return len(jitsi)

    async def poll(self, session: Session, sites: Mapping[str, Site], now: datetime) -> None:
        assert self._presence is not None
        assert session.room
        emails: dict[str, list[str]] = {}
        for site_id in session.site_ids:
            site = sites.get(site_id)
            if site and site.coordinator.email:
                emails.setdefault(site.coordinator.email.lower(), []).append(site_id)
        try:
            found = await self._presence.occupants(session.room)
        except ConnectorError as exc:
            log.warning("presence poll of %s failed: %s", session.room, exc)
            await self.ingest(read_poll(session.room, now, None, emails, failed=True))
            return
        listed = None if found is None else [(o.jid, o.email, o.display_name) for o in found]
        await self.ingest(read_poll(session.room, now, listed, emails))

    async def _session(self, session_id: str) -> Session:
        async with self._store.read() as uow:
            session = await uow.get_session(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def checkin(
        self, session_id: str, site_id: str, req: CheckinRequest, principal: Principal
    ) -> CheckinOut:
        """The site's coordinator reports who is in the room, around the session's window."""
        if principal.role is not Role.COORDINATOR or principal.site_id != site_id:
            raise PermissionDenied("only the site's coordinator checks the site in")
        session = await self._session(session_id)
        if site_id not in session.site_ids:
            raise NotFound("site of this session", site_id)
        opens, closes = session.claimed_range.start, session.end
        state = checkin_state(
            session.status is SessionStatus.CANCELLED, opens, closes, self._clock.now()
        )
        if state == "cancelled":
            raise InvalidState("the session is cancelled")
        if state != "open":
            raise InvalidState(f"check-in is open from {opens.isoformat()} to {closes.isoformat()}")
        await self._log_own(
            session,
            EventSource.CHECKIN,
            site_id,
            {"headcount": req.headcount, "names": req.names},
            principal,
        )
        return CheckinOut(
            session_id=session_id,
            site_id=site_id,
            headcount=req.headcount,
            names=req.names,
            at=self._clock.now(),
        )

    async def override(
        self, session_id: str, site_id: str, req: OverrideRequest, principal: Principal
    ) -> AttendanceOut:
        """The chair (or the office) marks a site present or absent, with a reason (audited)."""
        session = await self._session(session_id)
        self._may_read(session, principal)
        if principal.role is Role.COORDINATOR:
            raise PermissionDenied("only the chair or the office overrides attendance")
        if site_id not in session.site_ids:
            raise NotFound("site of this session", site_id)
        async with self._store.read() as uow:
            if await uow.get_record(session_id) is not None:
                raise InvalidState("the record is frozen; it was sent to the chair as it stands")
        await self._log_own(
            session,
            EventSource.OVERRIDE,
            site_id,
            {"verdict": req.verdict, "reason": req.reason},
            principal,
        )
        return await self.record(session_id, principal)

    async def _log_own(
        self,
        session: Session,
        source: EventSource,
        site_id: str,
        data: dict[str, object],
        principal: Principal,
    ) -> None:
        now = self._clock.now()
        kind = EventKind.CHECKIN if source is EventSource.CHECKIN else EventKind.OVERRIDE
        async with self._store.write() as uow:
            frozen = await uow.get_record(session.id) is not None
            event = StoredEvent(
                source=source.value,
                kind=kind.value,
                at=now,
                dedupe_key=f"{session.id}|{site_id}|{now.isoformat()}|{principal.actor}",
                received_at=now,
                session_id=session.id,
                site_id=site_id,
                data={**data, "actor": principal.actor},
                after_freeze=frozen,
            )
            added = await uow.add_events([event])
            await uow.audit(
                AuditEntry(
                    at=now,
                    actor=principal.actor,
                    action=f"attendance.{kind.value}",
                    target=f"session:{session.id}",
                    reason=str(data.get("reason")) if data.get("reason") else None,
                    detail={"site_id": site_id, **data},
                )
            )
        self._feed([event] if added else [])
        self.broker.publish(session.id)

    # the record ------------------------------------------------------------------------
    def _may_read(self, session: Session, principal: Principal) -> None:
        """Only the office and the session's chair read its attendance (issue 4, item 7)."""
        if not may_see(principal, session):
            raise SessionNotFound(session.id)
        if principal.role is Role.COORDINATOR:
            raise PermissionDenied("only the office and the chair read a session's attendance")

    async def record(self, session_id: str, principal: Principal) -> AttendanceOut:
        """The attendance record: the frozen one once the session has ended, else live."""
        session = await self._session(session_id)
        self._may_read(session, principal)
        now = self._clock.now()
        live = self._live(session)
        late = 0
        async with self._store.read() as uow:
            stored = await uow.get_record(session_id)
            after = 0
            while True:  # a page at a time: a long log is never held whole, as rows or events
                rows = await uow.list_events(session_id, after_id=after, limit=LOG_PAGE)
                late += sum(1 for r in rows if r.after_freeze)
                if stored is None:
                    live.add([_event(r) for r in rows if _merged(r)], now)
                if len(rows) < LOG_PAGE:
                    break
                after = rows[-1].id or 0
        if stored is not None:
            out = AttendanceOut.model_validate_json(stored[1])
            return out.model_copy(update={"late_events": late})
        # a big session's merge takes a while: off the event loop, so webhooks keep flowing
        return await _off_loop(len(live), lambda: _out(session, live.record(now), frozen_at=None))

    def _live(self, session: Session) -> LiveMerge:
        return LiveMerge(
            sites=session.site_ids,
            session_start=session.start,
            session_end=session.end,
            thresholds=self._thresholds,
        )

    def _merge(
        self, session: Session, events: Sequence[StoredEvent], now: datetime | None = None
    ) -> AttendanceRecord:
        return merge_session(
            session,
            [_event(e) for e in events if _merged(e)],
            now=now or self._clock.now(),
            thresholds=self._thresholds,
        )

    async def freeze(self, session_id: str, actor: str = "scheduler") -> AttendanceOut:
        """Save the record of an ended session; later events are kept and flagged, not merged.

        Raises InvalidState before the session has ended.
        """
        session = await self._session(session_id)
        now = self._clock.now()
        if now < session.end:
            raise InvalidState("a session's record is frozen once it has ended")
        async with self._store.write() as uow:
            # two freezes at once (two instances, a click and the clock) queue one mail only
            await uow.lock_resources([f"freeze:{session_id}"])
            stored = await uow.get_record(session_id)
            if stored is not None:
                return AttendanceOut.model_validate_json(stored[1])
            events = await uow.list_events(session_id)
            out = _out(session, self._merge(session, events), frozen_at=now)
            await uow.save_record(session_id, now, out.model_dump_json())
            # The chair gets the record by email, through the outbox (rule 8).
            await uow.add_outbox(RECORD, session_id, session.version, {}, now)
            await uow.audit(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action="attendance.freeze",
                    target=f"session:{session_id}",
                    detail={"summary": out.summary},
                )
            )
        self.broker.publish(session_id)
        return out

    async def stream(self, session_id: str, principal: Principal) -> AsyncIterator[BoardMessage]:
        """A live board (for server-sent events): the whole record now, then what changes.

        While the session runs the record is kept in memory for as long as a board watches it
        (`LiveMerge`): a change sends only the lines of the sites it changed (`changes`), at
        most every `CHANGES_GAP` or three times what the last one cost. A whole record
        (`attendance`) comes first, then again every `WHOLE_EVERY` (the log read again, for
        what other instances logged, and the minutes of sites that did not change moved on),
        after a room-wide event, once the session has ended and when it is frozen.
        """
        session = await self._session(session_id)
        self._may_read(session, principal)
        changes = self.broker.listen(session_id)
        loop = asyncio.get_running_loop()
        board = self._boards.get(session_id)
        if board is None:
            board = self._boards[session_id] = _Board(session, self._live(session))
        listener = _Listener()
        board.listeners.append(listener)
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
        due = asyncio.get_running_loop().time() - listener.whole_at >= WHOLE_EVERY
        if (
            due
            or listener.everything
            or not board.live.complete
            or now >= board.session.end
            or board.session.id in self._frozen_ids
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
            sites=[_site_out(s) for s in lines],
            unmatched=[_unmatched_out(u) for u in unmatched],
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
        if now >= session.end or session.id in self._frozen_ids:
            listener.everything, listener.changed, listener.news = False, set(), False
            out = await self.record(session.id, principal)
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
                rows.extend(_site_out(line).model_dump_json() for line in lines)
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
            unmatched=[_unmatched_out(u) for u in unmatched],
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
            after = 0 if reread else board.read_to
            while True:
                async with self._store.read() as uow:
                    if await uow.get_record(board.session.id) is not None:
                        self._frozen_ids.add(board.session.id)
                        return True
                    rows = await uow.list_events(board.session.id, after_id=after, limit=LOG_PAGE)
                live = board.live
                new = [
                    _event(r)
                    for r in rows
                    if _merged(r) and not live.has(EventSource(r.source), r.dedupe_key)
                ]
                board.add(new, now)
                if rows:
                    after = board.read_to = max(board.read_to, rows[-1].id or 0)
                if len(rows) < LOG_PAGE:
                    return False

    def _feed(self, rows: Sequence[StoredEvent]) -> None:
        """Give the boards watching these rows' sessions the rows just logged."""
        by_session: dict[str, list[AttendanceEvent]] = {}
        for r in rows:
            if r.session_id in self._boards and _merged(r):
                by_session.setdefault(r.session_id, []).append(_event(r))
        now = self._clock.now()
        for session_id, events in by_session.items():
            board = self._boards[session_id]
            board.add(events, now)
            due = board.live.next_due()
            if due is not None:  # an event ahead of our clock: wake the boards when it is due
                asyncio.get_running_loop().call_later(
                    max(0.0, (due - now).total_seconds()), self.broker.publish, session_id
                )


def _merged(e: StoredEvent) -> bool:
    """Whether the live record reads `e`: not after the freeze, and of a kind it merges."""
    return not e.after_freeze and e.kind in _MERGED_KINDS


async def _off_loop(size: int, work: Callable[[], _T]) -> _T:
    """`work()`, in a worker thread when `size` (events) makes it long enough to matter."""
    if size < OFF_LOOP_EVENTS:
        return work()
    return await asyncio.to_thread(work)


OFF_LOOP_EVENTS = 2000


# Logged but not merged: a room's creation says nothing about any site.
_MERGED_KINDS = frozenset(k.value for k in EventKind)


def _event(e: StoredEvent) -> AttendanceEvent:
    d = e.data
    return AttendanceEvent(
        source=EventSource(e.source),
        kind=EventKind(e.kind),
        at=e.at,
        dedupe_key=e.dedupe_key,
        site_id=e.site_id,
        occupant=e.occupant or "",
        name=d.get("name"),
        email=d.get("email"),
        disconnect_reason=d.get("disconnect_reason"),
        headcount=d.get("headcount"),
        names=tuple(d.get("names") or ()),
        verdict=Verdict(d["verdict"]) if d.get("verdict") else None,
        reason=d.get("reason"),
    )


def _out(session: Session, rec: AttendanceRecord, *, frozen_at: datetime | None) -> AttendanceOut:
    return AttendanceOut(
        session_id=session.id,
        title=session.title,
        start=session.start,
        end=session.end,
        summary=rec.summary("vi"),
        summary_en=rec.summary("en"),
        frozen_at=frozen_at,
        sites=[_site_out(s) for s in rec.sites],
        unmatched=[_unmatched_out(u) for u in rec.unmatched],
    )


def _site_out(s: SiteAttendance) -> SiteRecordOut:
    return SiteRecordOut(
        site_id=s.site_id,
        connection=s.connection.value,
        status=s.status.value,
        measured_status=s.measured_status.value,
        late=s.late,
        left_early=s.left_early,
        first_join=s.first_join,
        last_leave=s.last_leave,
        connected_minutes=round(s.connected_minutes, 1),
        reconnects=s.reconnects,
        headcount=s.headcount,
        names=list(s.names),
        override=(
            {"verdict": s.override.verdict.value, "reason": s.override.reason}
            if s.override
            else None
        ),
        intervals=[(i.start, i.end) for i in s.intervals],
    )


def _unmatched_out(u: UnmatchedOccupant) -> UnmatchedOut:
    return UnmatchedOut(
        source=u.source.value,
        occupant=u.occupant,
        site_id=u.site_id,
        name=u.name,
        email=u.email,
        connected_now=u.connected_now,
        connected_minutes=round(u.connected_minutes, 1),
    )


CSV_HEADERS = {
    "vi": [
        "Điểm cầu",
        "Kết nối",
        "Đánh giá",
        "Muộn",
        "Về sớm",
        "Vào lúc",
        "Rời lúc",
        "Số phút kết nối",
        "Số lần kết nối lại",
        "Số người",
        "Đại biểu",
    ],
    "en": [
        "Site",
        "Connection",
        "Status",
        "Late",
        "Left early",
        "First join",
        "Last leave",
        "Connected minutes",
        "Reconnects",
        "Headcount",
        "Names",
    ],
}


def rows(out: AttendanceOut) -> list[list[object]]:
    """The record as table rows (CSV, XLSX, the command line)."""
    return [
        [
            s.site_id,
            s.connection,
            s.status,
            s.late,
            s.left_early,
            s.first_join.isoformat() if s.first_join else "",
            s.last_leave.isoformat() if s.last_leave else "",
            s.connected_minutes,
            s.reconnects,
            "" if s.headcount is None else s.headcount,
            "; ".join(s.names),
        ]
        for s in out.sites
    ]


def to_csv(out: AttendanceOut, language: str = "vi") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADERS.get(language, CSV_HEADERS["vi"]))
    writer.writerows(rows(out))
    return ("\ufeff" + buffer.getvalue()).encode()  # the BOM lets spreadsheet apps see UTF-8


def to_xlsx(out: AttendanceOut, language: str = "vi") -> bytes:
    from openpyxl import Workbook  # imported when asked for: it is slow to import

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Điểm danh" if language == "vi" else "Attendance"
    sheet.append([out.title])
    sheet.append([out.summary if language == "vi" else out.summary_en])
    sheet.append([])
    sheet.append(CSV_HEADERS.get(language, CSV_HEADERS["vi"]))
    for row in rows(out):
        sheet.append([str(v) if isinstance(v, bool) else v for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


__all__ = [
    "Attendance",
    "AttendanceChangesOut",
    "AttendanceOut",
    "BoardMessage",
    "CheckinRequest",
    "InvalidRequest",
    "OverrideRequest",
    "rows",
    "to_csv",
]
