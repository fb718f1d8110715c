"""Attendance use cases: log what the sources say, check sites in, let the chair override, and
answer the record (live, or frozen once the session has ended).

Every event is appended to the log with its source before the webhook is answered (rule 8);
the record is always recomputed from the whole log by `merge`, so late, repeated or reordered
events give the same answer as a clean, ordered stream. `Attendance` is the one entrance: it is
the event log (`eventlog`) and holds the live boards (`boards`); the record leaves as `exports`
makes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import RoomPresence
from orchestrator.attendance.boards import (
    STATE_WORDS,
    AttendanceChangesOut,
    BoardMessage,
    Boards,
    BoardSnapshot,
    InProcessFeed,
)
from orchestrator.attendance.eventlog import LOG_PAGE, POLL_LEASE, EventLog
from orchestrator.attendance.exports import (
    AttendanceOut,
    first_openings,
    record_out,
    rows,
    site_results,
    to_csv,
    to_xlsx,
    with_link_openings,
    with_openings,
)
from orchestrator.attendance.logrows import kept_events
from orchestrator.attendance.merge.live import live_session
from orchestrator.attendance.merge.record import (
    AttendanceRecord,
    EventKind,
    EventSource,
    Thresholds,
)
from orchestrator.attendance.merge.wording import CSV_HEADERS
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
    SessionNotFound,
)
from orchestrator.domain.models import (
    Principal,
    Role,
    Session,
    SessionStatus,
    may_see,
    require_office,
)
from orchestrator.domain.outbox import OutboxKind
from orchestrator.domain.ports import ChangeFeed
from orchestrator.domain.timewords import local_range
from orchestrator.store.base import Store, StoredEvent
from orchestrator.store.base.attendance import LoggedEvent

_T = TypeVar("_T")


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


class Attendance(EventLog):
    """The attendance use cases: the event log it is (`ingest`, `poll_live`), check-ins,
    overrides, the record, its freezing, and the live boards (`stream`), which also show what
    other instances log as `feed` tells (`follow`; in-process by default: one instance)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        thresholds: Thresholds | None = None,
        presence: RoomPresence | None = None,
        *,
        feed: ChangeFeed | None = None,
        poll_lease: timedelta = POLL_LEASE,
    ) -> None:
        self._thresholds = thresholds or Thresholds()
        frozen: set[str] = set()  # the sessions this instance knows have a frozen record
        self._boards = Boards(
            store,
            clock,
            self._thresholds,
            frozen,
            readable=self._readable,
            record=self.record,
        )
        self._feed: ChangeFeed = feed or InProcessFeed()
        super().__init__(
            store,
            clock,
            self._boards,
            frozen,
            presence,
            origin=self._feed.origin,
            poll_lease=poll_lease,
        )

    async def follow(self) -> None:
        """Show on this instance's boards what other instances log, until cancelled (the
        app runs it beside the HTTP service)."""
        await self._feed.follow(self._boards.heard, self._boards.resync)

    def stream(
        self, session_id: str, principal: Principal, sites: Sequence[str] | None = None
    ) -> AsyncIterator[BoardMessage]:
        """A live board of the session, for server-sent events (`Boards.stream`): the whole
        record, then what changes; with `sites`, only their lines and every site's state.
        Nothing is read until the first message is asked for."""
        return self._boards.stream(session_id, principal, sites)

    async def board(self, session_id: str, principal: Principal) -> BoardSnapshot:
        """The session's board as it stands, for its page (`Boards.snapshot`): every site's
        state, who the sites are, and the lines of the sites the page shows."""
        snapshot = await self._boards.snapshot(session_id, principal)
        async with self._store.read() as uow:
            first = first_openings(session_id, await uow.joins.openings(session_id))
        if not first:
            return snapshot
        rows = snapshot.rows
        # "opened the link at 07:58" on the tiles the page shows (DESIGN 10)
        return dataclasses.replace(snapshot, rows=lambda sites: with_openings(rows(sites), first))

    async def _session(self, session_id: str, *, sites: bool = True) -> Session:
        async with self._store.read() as uow:
            session = await uow.sessions.get(session_id, sites=sites)
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
            raise InvalidState("the session is cancelled", reason="cancelled")
        if state != "open":
            window = local_range(opens, closes, session.timezone)
            raise InvalidState(f"check-in is open {window}, from the connection test to the end")
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

    async def last_checkin(self, session_id: str, principal: Principal) -> CheckinOut | None:
        """The coordinator's own site's latest check-in of the session, or None (none yet), so
        their page shows what they reported. Raises PermissionDenied for anyone else."""
        site_id = principal.site_id
        if principal.role is not Role.COORDINATOR or site_id is None:
            raise PermissionDenied("only a site's coordinator reads its own check-in")
        async with self._store.read() as uow:
            events = await uow.attendance.list_events(session_id)
        mine = [e for e in events if e.source == EventSource.CHECKIN.value and e.site_id == site_id]
        if not mine:
            return None
        last = mine[-1]
        names = last.data.get("names") or []
        return CheckinOut(
            session_id=session_id,
            site_id=site_id,
            headcount=int(last.data.get("headcount", 0)),
            names=[str(n) for n in names],
            at=last.at,
        )

    async def override(
        self, session_id: str, site_id: str, req: OverrideRequest, principal: Principal
    ) -> AttendanceOut:
        """The chair (or the office) marks a site present or absent, with a reason (audited)."""
        session = await self._readable(session_id, principal)
        if principal.role is Role.COORDINATOR:
            raise PermissionDenied("only the chair or the office overrides attendance")
        if site_id not in session.site_ids:
            raise NotFound("site of this session", site_id)
        async with self._store.read() as uow:
            if await uow.attendance.get_record(session_id) is not None:
                raise InvalidState(
                    "the record is frozen; it was sent to the chair as it stands", reason="frozen"
                )
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
            frozen = await uow.attendance.get_record(session.id) is not None
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
            added = await uow.attendance.add_events([event])
            event = dataclasses.replace(event, id=added.get((event.source, event.dedupe_key)))
            await uow.attendance.announce(self._origin)
            await uow.audit.record(
                at=now,
                actor=principal.actor,
                action=f"attendance.{kind.value}",
                target=f"session:{session.id}",
                reason=str(data.get("reason")) if data.get("reason") else None,
                detail={"site_id": site_id, **data},
            )
        self._boards.feed([(event, event.id)] if event.id is not None else [])
        self._boards.publish(session.id)

    async def _readable(
        self, session_id: str, principal: Principal, *, sites: bool = True
    ) -> Session:
        """The session, if `principal` may read its attendance: only the office and the
        session's chair (issue 4, item 7); with `sites=False` without its sites (a
        coordinator's is read whole: whether it is one of the session's decides 404 or 403).
        Raises SessionNotFound, PermissionDenied."""
        whole = sites or principal.role is Role.COORDINATOR
        session = await self._session(session_id, sites=whole)
        if not may_see(principal, session):
            raise SessionNotFound(session.id)
        if principal.role is Role.COORDINATOR:
            raise PermissionDenied("only the office and the chair read a session's attendance")
        return session

    async def record(self, session_id: str, principal: Principal) -> AttendanceOut:
        """The attendance record: the frozen one once the session has ended, else live."""
        session = await self._readable(session_id, principal)
        now = self._clock.now()
        live = live_session(session, thresholds=self._thresholds, unique=True)  # rows: once each
        late = 0
        async with self._store.read() as uow:
            stored = await uow.attendance.get_record(session_id)
            openings = await uow.joins.openings(session_id)
            after = 0
            while True:  # a page at a time: a long log is never held whole, as rows or events
                rows = await uow.attendance.read_log(session_id, after_id=after, limit=LOG_PAGE)
                late += sum(1 for r in rows if r.after_freeze)
                if stored is None:
                    live.add(kept_events(live, rows), now)
                if len(rows) < LOG_PAGE:
                    break
                after = rows[-1].id or 0
        if stored is not None:
            out = AttendanceOut.model_validate_json(stored[1])
            return with_link_openings(out.model_copy(update={"late_events": late}), openings)
        # a big session's merge takes a while: off the event loop, so webhooks keep flowing
        out = await _off_loop(
            len(live), lambda: record_out(session, live.record(now), frozen_at=None)
        )
        return with_link_openings(out, openings)

    def _merge(self, session: Session, events: Sequence[LoggedEvent]) -> AttendanceRecord:
        """`merge_session` of the logged `events` (read as `LiveMerge` reads them: each a
        `KeptEvent`, not checked again; its `record` is the merge's) at the clock's now."""
        live = live_session(session, thresholds=self._thresholds, unique=True)
        now = self._clock.now()
        live.add(kept_events(live, events), now)
        return live.record(now)

    async def freeze(self, session_id: str, principal: Principal | None = None) -> AttendanceOut:
        """Save the record of an ended session; later events are kept and flagged, not merged.

        Without `principal` the scheduler freezes it, on time (the `RecordFreezer` port); a person
        freezing it early must be the office. Raises PermissionDenied for anyone else, and
        InvalidState before the session has ended.
        """
        if principal is not None:
            require_office(principal)
        actor = principal.actor if principal is not None else "scheduler"
        session = await self._session(session_id)
        now = self._clock.now()
        if now < session.end:
            raise InvalidState(
                "a session's record is frozen once it has ended", reason="freeze_early"
            )
        async with self._store.write() as uow:
            # two freezes at once (two instances, a click and the clock) queue one mail only
            await uow.claims.lock([f"freeze:{session_id}"])
            stored = await uow.attendance.get_record(session_id)
            if stored is not None:
                return AttendanceOut.model_validate_json(stored[1])
            events = await uow.attendance.read_log(session_id)
            out = record_out(session, self._merge(session, events), frozen_at=now)
            await uow.attendance.save_record(session_id, now, out.model_dump_json())
            # the reports sum these rows (DESIGN 11): written with the record, never apart
            await uow.reports.save_results(session_id, site_results(out))
            # The chair gets the record by email, through the outbox (rule 8).
            await uow.outbox.add(OutboxKind.ATTENDANCE_RECORD, session_id, session.version, {}, now)
            await uow.audit.record(
                at=now,
                actor=actor,
                action="attendance.freeze",
                target=f"session:{session_id}",
                detail={"summary": out.summary},
            )
        self._boards.publish(session_id)
        return out


async def _off_loop(size: int, work: Callable[[], _T]) -> _T:
    """`work()`, in a worker thread when `size` (events) makes it long enough to matter."""
    if size < OFF_LOOP_EVENTS:
        return work()
    return await asyncio.to_thread(work)


OFF_LOOP_EVENTS = 2000


# What the web layer and the command line import from here.
__all__ = [
    "CSV_HEADERS",
    "STATE_WORDS",
    "Attendance",
    "AttendanceChangesOut",
    "AttendanceOut",
    "BoardMessage",
    "BoardSnapshot",
    "CheckinOut",
    "CheckinRequest",
    "InvalidRequest",
    "OverrideRequest",
    "checkin_state",
    "rows",
    "to_csv",
    "to_xlsx",
]
