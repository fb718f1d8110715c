"""The attendance event log: what the sources say, written with group commits before the
webhook is answered (rule 8), announced to the other instances in the same transaction, and
flagged when it comes after the record was frozen; and the presence polls of live rooms, each
room polled by one instance at a time (a lease). Its rows as the boards read them: `logrows`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from connectors.base import ConnectorError, RoomPresence
from orchestrator.attendance.sources import Observation, read_poll
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import Session, SessionStatus, Site
from orchestrator.store.base import SessionQuery, Store, StoredEvent

log = logging.getLogger(__name__)

# How long a site id that a room's session lacks is believed missing before the session is read
# again (a site added to the session since is then found).
STRANGER_RECHECK = timedelta(seconds=30)
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
LOG_PAGE = 5000  # events read per query when the log is read back
POLL_LEASE = timedelta(seconds=90)  # a room's poller renews its lease every round, within this
PIPELINE_BATCH = 8  # webhooks waiting that are worth another batch while one commits
# A writer waits for the webhooks still being read before it takes its batch (`_gather`): a
# turn of the event loop at a time, while each turn brings more, at most this many turns and
# until this many rows wait (or the store's `batch_rows`, if fewer).
GATHER_TURNS = 4
GATHER_ROWS = 40


class Watchers(Protocol):
    """The live boards of this instance, as the log tells them what it wrote."""

    @property
    def watching(self) -> bool:
        """Whether any board is open: only then are the rows just written worth handing on."""
        ...

    def feed(self, logged: Sequence[tuple[StoredEvent, int]]) -> None:
        """Take rows just committed, each with its id in the log, into the boards of their
        sessions (rows of sessions nobody watches are ignored). Raises nothing."""
        ...

    def publish(self, session_id: str) -> None:
        """Wake the boards of `session_id`: something of it changed. Raises nothing."""
        ...


@dataclass
class _Room:
    session_id: str
    sites: frozenset[str]


class EventLog:
    """Logs what the sources say (webhooks, presence polls), each event once, and tells the
    boards.

    `frozen` holds the sessions known to have a frozen record; it is shared with whoever else
    learns of one (a session freezes once, so it only grows). `origin` names this instance: in
    the announcements of what it logs (`uow.attendance.announce`) and as the holder of the
    rooms it polls, each for `poll_lease` after its last round (then another instance takes it).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        watchers: Watchers,
        frozen: set[str],
        presence: RoomPresence | None = None,
        *,
        origin: str = "",
        poll_lease: timedelta = POLL_LEASE,
    ) -> None:
        self._store = store
        self._clock = clock
        self._watchers = watchers
        self._frozen = frozen
        self._presence = presence
        self._origin = origin
        self._poll_lease = poll_lease
        self._leased = False  # whether this instance may hold a room's lease
        self._rooms: dict[str, _Room] = {}
        self._reading: dict[str, asyncio.Future[_Room | None]] = {}  # rooms being read
        self._strangers: dict[str, dict[str, datetime]] = {}  # room: site id: found missing at
        self._waiting: list[tuple[list[StoredEvent], asyncio.Future[int]]] = []
        self._writers: set[asyncio.Task[None]] = set()  # at most `events.parallel` at once
        # Writers yet to take their next batch (new, or gathering): they will take what waits.
        self._taking: set[asyncio.Task[None]] = set()

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
            known = found[room] = await self._read_room(room)
            if known is None:  # unknown rooms are not cached: a booking may come later
                continue
            for site in sites - known.sites:
                strangers[site] = now
        return found

    async def _read_room(self, room: str) -> _Room | None:
        """The room's session read afresh, once at a time: who asks meanwhile (the first
        webhooks of a room come together) waits for that read, not for a read of its own."""
        reading = self._reading.get(room)
        if reading is None:
            reading = self._reading[room] = asyncio.ensure_future(self._room_of(room))
            reading.add_done_callback(lambda done: self._reading.pop(room, None))
        return await asyncio.shield(reading)

    async def _room_of(self, room: str) -> _Room | None:
        async with self._store.read() as uow:
            found = await uow.attendance.room_sites(room)
        if found is None:
            return None
        session_id, sites = found
        known = self._rooms[room] = _Room(session_id, frozenset(sites))
        return known

    async def ingest(self, observations: Sequence[Observation]) -> int:
        """Log the observations (duplicates dropped); the number that were new.

        An observation for a room no session owns is logged apart (no session) so nothing is
        lost, and acknowledged like any other.
        """
        if not observations:
            return 0
        now = self._clock.now()
        room = observations[0].room
        known = self._rooms.get(room)
        if known is None or not all(
            ob.room == room and (ob.site_id is None or ob.site_id in known.sites)
            for ob in observations
        ):
            return await self._ingest_rooms(observations, await self._sessions_of(observations))
        # A webhook's usual case: one known room, its own sites.
        sid = known.session_id
        rows = [
            StoredEvent(
                ob.source,
                ob.kind,
                ob.at,
                ob.dedupe_key,
                now,
                sid,
                room,
                ob.site_id,
                ob.occupant,
                ob.data,  # (no null in `data`: as `Observation` says)
            )
            for ob in observations
        ]
        added = await self._write(rows)
        self._watchers.publish(sid)
        return added

    async def _ingest_rooms(
        self, observations: Sequence[Observation], rooms: Mapping[str, _Room | None]
    ) -> int:
        """`ingest` in general: the observations' rooms (`_sessions_of`) each with its
        session, or none."""
        now = self._clock.now()
        rows: list[StoredEvent] = []
        sessions: set[str] = set()
        for ob in observations:
            room = rooms[ob.room]
            site = ob.site_id
            if room is not None:
                sessions.add(room.session_id)
                if site is not None and site not in room.sites:
                    site = None  # a token naming no site of this session: unmatched
            data = ob.data
            if ob.site_id and site is None:
                data = {**data, "claimed_site": ob.site_id}
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
            self._watchers.publish(session_id)
        if any(r.session_id is None for r in rows):
            log.warning("attendance events for unknown room(s): %s", {r.room for r in rows})
        return added

    def _write(self, rows: list[StoredEvent]) -> asyncio.Future[int]:
        """Log `rows` with whatever else is waiting, in one transaction (a group commit): the
        number of them that were new, once they are committed (rule 8). A future, not a
        coroutine: one frame fewer to suspend and resume for each webhook."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, done))
        # One writer, and others beside it (where the store takes several batches at once),
        # each once enough webhooks wait for a batch of their own: they are written while the
        # last batch's commit waits for the disk.
        writing = len(self._writers)
        if not writing or (
            not self._taking  # (a writer yet to take its batch will take these too)
            and writing < self._store.events.parallel
            and len(self._waiting) >= PIPELINE_BATCH
        ):
            writer = asyncio.create_task(self._drain())
            self._writers.add(writer)
            self._taking.add(writer)
            for forget in (self._writers.discard, self._taking.discard):
                writer.add_done_callback(forget)  # (one cancelled before it ran)
        return done

    async def _drain(self) -> None:
        try:
            await self._drain_waiting()
        finally:  # gone the moment it ends: what comes next starts a writer of its own
            self._writers.discard(me := asyncio.current_task())
            self._taking.discard(me)

    def _next_batch(self) -> list[tuple[list[StoredEvent], asyncio.Future[int]]]:
        """The webhooks waiting, in the order they came, up to the store's `batch_rows` (SQLite
        writes a batch of up to 64 events on the event loop, a larger one in a thread, several
        times slower: under a burst, every batch taken whole would stay the slow kind)."""
        limit = self._store.events.batch_rows
        if limit is None:
            batch, self._waiting = self._waiting, []
            return batch
        taken = rows = 0
        for member, _ in self._waiting:
            if taken and rows + len(member) > limit:
                break
            taken += 1
            rows += len(member)
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return batch

    async def _drain_waiting(self) -> None:
        # Beside other writers (PostgreSQL), batches may repeat each other's events: the store
        # writes each batch's rows in one order of their keys (`EventAppender`), so one waits
        # for another's commit at worst, never in a circle.
        me = asyncio.current_task()
        assert me is not None
        while self._waiting:
            self._taking.add(me)
            await self._gather()
            self._taking.discard(me)
            batch = self._next_batch()
            if batch:  # (empty when a writer beside this one took them meanwhile)
                await self._write_batch(batch)

    async def _gather(self) -> None:
        """Let the webhooks the loop is still reading join the next batch: wait one turn of the
        loop at a time while each turn brings more to the log (`GATHER_TURNS`), until
        `GATHER_ROWS` rows wait, or the store's `batch_rows` (checked before each turn).

        A commit costs SQLite about 60 µs whatever it holds, and 6 µs more a row. Under a flood
        the loop reads a few webhooks a turn, and a writer that took them at once committed 6
        rows at a time (150 µs: a fifth of the loop's time); gathered, 16-19 rows a batch.
        A lone webhook waits one turn (microseconds); a turn that brings nothing ends the wait,
        so the loop is never left idle for it. While a writer is new or gathers, no further
        writer is started (`_write`: it will take what waits; on PostgreSQL, 3 runs of the
        `attendance` benchmark against 3 with only new writers counted: 0.31-0.42 and 0.27-0.45
        of the bare rate, against 0.28-0.37 and 0.28-0.33). Writers already running may gather
        side by side, and one of them may then find nothing left to take."""
        limit = GATHER_ROWS
        if (most := self._store.events.batch_rows) is not None:
            limit = min(limit, most)
        for _ in range(GATHER_TURNS):
            before = len(self._waiting)
            if sum(len(rows) for rows, _ in self._waiting) >= limit:
                return
            await asyncio.sleep(0)
            if len(self._waiting) <= before:
                return

    async def _write_batch(
        self, batch: list[tuple[list[StoredEvent], asyncio.Future[int]]]
    ) -> None:
        """Commit the rows of `batch` in one transaction and answer each of its requests; when
        that fails, each request's rows on their own."""
        try:
            added = await self._commit([r for rows, _ in batch for r in rows])
        except Exception as exc:
            if len(batch) == 1:  # the request learns it failed: nothing acked
                self._settle(batch, exc)
                return
            # One bad member must not fail the others: each is written on its own merits.
            log.warning(
                "a batch of %d webhooks failed (%s); writing them one by one", len(batch), exc
            )
            for member in batch:
                try:
                    self._settle([member], await self._commit(member[0]))
                except Exception as one:
                    self._settle([member], one)
            return
        self._settle(batch, added)

    async def _commit(self, every: list[StoredEvent]) -> set[tuple[str, str]]:
        """Log `every` in one transaction; the (source, key) of those that were new. Boards
        hear of the new ones once they are committed."""
        added = await self._store.events.append(every, self._origin)
        late = set()
        if any(logged.after_freeze for logged in added.values()):
            for r in every:
                logged = added.get((r.source, r.dedupe_key))
                if r.session_id and logged and logged.after_freeze:
                    late.add(r.session_id)
            self._frozen.update(late)  # a session freezes once
        if self._watchers.watching:
            # boards merge after the webhooks are answered: their cost is not the platform's;
            # each row with its id (a repeat within `every` has its first's: boards take it
            # once), none logged after its record froze (no record reads it). Not a copy of
            # each row with its id: that cost a board's webhook 4-5 µs, a tenth of its share.
            fresh = [
                (r, logged.id)
                for r in every
                if (logged := added.get((r.source, r.dedupe_key))) is not None
                and r.session_id not in late
            ]
            asyncio.get_running_loop().call_soon(self._watchers.feed, fresh)
        return set(added)

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

    async def poll_live(self) -> int:
        """Ask the video server who is in the room of every live Jitsi session this instance
        holds the lease of (taken or renewed here: a room is polled by one instance at a time);
        the number of rooms polled. A failed poll is logged as `unknown`, never as absent."""
        if self._presence is None:
            return 0
        now = self._clock.now()
        async with self._store.read() as uow:
            live = await uow.sessions.find(
                SessionQuery(status=SessionStatus.LIVE, now=now, limit=1000)
            )
            jitsi = [s for s in live if s.provider == "jitsi" and s.room]
        if not jitsi:
            return 0
        self._leased = True
        async with self._store.write() as uow:
            mine = [
                s
                for s in jitsi
                if s.room
                and await uow.attendance.take_poll_lease(
                    s.room, self._origin, now, now + self._poll_lease
                )
            ]
        if not mine:
            return 0
        async with self._store.read() as uow:
            sites = await uow.directory.get_sites([i for s in mine for i in s.site_ids])
        for session in mine:
            await self.poll(session, sites, now)
        return len(mine)

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

    async def close(self) -> None:
        """Give up the rooms this instance polls (another instance takes them at its next
        round) and release the presence poller's connections."""
        if self._presence is not None:
            if self._leased:
                try:
                    async with self._store.write() as uow:
                        await uow.attendance.release_poll_leases(self._origin)
                except Exception as exc:  # they expire anyway
                    log.warning("releasing the rooms' poll leases failed: %s", exc)
            await self._presence.aclose()
