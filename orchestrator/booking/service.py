"""Booking use cases: book (and its dry run), read, list, change, cancel, find slots, plan a
regional round. `Bookings` is the one entry the API, the pages and the CLI call; it books and
reads here and hands the rest to the modules beside it.

Rule 1 (no overlap) is checked here to name the conflicts, and enforced by the store's database;
rule 3 (all or nothing) is one unit of work per booking; rule 4 (policy) comes from
`domain.policy`; rules 5 and 6 (idempotency, audit) are written in the same unit of work.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from connectors.base import MeetingProvider
from orchestrator.booking.book import BookingSteps, Prepared, sort_conflicts
from orchestrator.booking.changes import SessionChanges
from orchestrator.booking.common import (
    BookingDefaults,
    conflict_out,
    enforce,
    require_office,
    sites_of,
)
from orchestrator.booking.gate import ClaimGate, Turn, held_over
from orchestrator.booking.idempotency import Created, Idempotency
from orchestrator.booking.links import JoinLinks, links_for
from orchestrator.booking.planner import RegionalPlanner
from orchestrator.booking.schemas import (
    BookingOut,
    BookSessionRequest,
    BreachOut,
    CheckOut,
    HolderOut,
    RangeOut,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionOut,
    SlotQuery,
    SlotsOut,
    UpdateSessionRequest,
)
from orchestrator.booking.series.common import GatewayUrls
from orchestrator.booking.series.service import SeriesBookings
from orchestrator.booking.slots import SlotFinder
from orchestrator.domain.clock import Clock
from orchestrator.domain.collector import held_off
from orchestrator.domain.errors import BookingConflict, Conflict, NotFound, SessionNotFound
from orchestrator.domain.models import ConflictPolicy, Principal, Role, Session, Site, may_see
from orchestrator.store.base import ClaimOverlap, SessionQuery, Store, UnitOfWork

DRY_RUN = "dry-run"  # the id of the session a dry run builds and never stores
EARLY_LOOK_SITES = 1000  # more sites: no look for held claims before the booking's unit


class Bookings:
    """The booking use cases."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        providers: Mapping[str, MeetingProvider],
        defaults: BookingDefaults | None = None,
        *,
        gateway: GatewayUrls | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._defaults = defaults or BookingDefaults()
        self._links = JoinLinks(providers, self._defaults.link_grace_minutes)
        self._idempotency = Idempotency(store, clock)
        self._steps = BookingSteps(clock, self._links, self._defaults)
        self._slots = SlotFinder(store, clock, self._defaults)
        self._gate = ClaimGate()
        self._changes = SessionChanges(store, clock, self._links, self._gate)
        self.series = SeriesBookings(
            store, clock, self._links, self._steps, self._idempotency, gateway
        )
        """The series use cases (DESIGN 10), on the same links, steps and idempotency."""
        self._planner = RegionalPlanner(
            clock,
            self._defaults,
            steps=self._steps,
            slots=self._slots,
            links=self._links,
            idempotency=self._idempotency,
        )

    def _out(self, session: Session, sites: dict[str, Site]) -> SessionOut:
        return SessionOut.build(session, sites, self._clock.now(), self._links.visitors(session))

    # book --------------------------------------------------------------------------------
    async def book(
        self,
        req: BookSessionRequest,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
    ) -> Created[BookingOut]:
        """Book a session (rules 1-6). Answers 201 with the booking, or the first answer on replay.

        Raises InvalidRequest, PolicyViolation, BookingConflict, PermissionDenied,
        IdempotencyMismatch.
        """
        require_office(principal)
        claimed: list[Conflict] = []  # what the committed booking holds, told to its turn
        # Without a key nothing stored can answer it: it is refused first, outside any
        # transaction, when its claims are held, and claims in its turn (see `ClaimGate`). A
        # booking of more than EARLY_LOOK_SITES sites is not a race for one slot: it goes
        # straight to its unit (an early look would cost it a second read of its sites).
        early = idempotency_key is None and len(req.sites) <= EARLY_LOOK_SITES

        async def work(uow: UnitOfWork) -> Created[BookingOut]:
            prepared = await self._steps.prepare(uow, req, str(uuid.uuid4()))
            enforce(prepared.breaches, prepared.reason, principal)
            if idempotency_key is not None and len(req.sites) <= EARLY_LOOK_SITES:
                # after the look for a stored answer: held claims refuse it before the locks
                await _refuse_if_held(uow, prepared, req.conflict_policy)
            skipped = await self._steps.claim(uow, prepared, req.conflict_policy, principal)
            session = prepared.session
            if early:  # its turn is told what it claimed (10,000 sites take no turn)
                claimed[:] = _claims_of(session, prepared.resources)
            out = BookingOut.build(
                session, prepared.sites, self._clock.now(), self._links.visitors(session)
            ).model_copy(
                update={
                    "skipped": skipped,
                    "policy_overridden": [b.rule for b in prepared.breaches],
                }
            )
            return Created(out, 201)

        turn = await self._turn_to_book(req, principal) if early else None
        held: list[Conflict] = []
        try:
            # a national booking makes about 100,000 objects and no cycle: no collection meanwhile
            with held_off() if len(req.sites) > EARLY_LOOK_SITES else contextlib.nullcontext():
                answer = await self._idempotency.once(
                    principal, idempotency_key, req, work, BookingOut
                )
            held = claimed if not answer.replayed else []
            return answer
        except ClaimOverlap as exc:
            raise BookingConflict(await self._details_for(req)) from exc
        except BookingConflict as exc:
            held = exc.conflicts
            raise
        finally:
            if turn is not None:
                self._gate.leave(turn, held)

    async def _turn_to_book(self, req: BookSessionRequest, principal: Principal) -> Turn:
        """This process's turn to claim what `req` asks for (see `ClaimGate`), once nothing
        refuses it: raises as `book` does before it claims (InvalidRequest, PolicyViolation,
        PermissionDenied), or BookingConflict when its claims are held: told by a turn it
        waited for, or looked at outside any transaction."""
        async with self._store.peek() as uow:
            prepared = await self._steps.prepare(uow, req, DRY_RUN)
            enforce(prepared.breaches, prepared.reason, principal)
            turn = self._gate.enter(prepared.resources)
            if turn is not None:  # nobody else here is claiming them: look on this connection
                with self._gate.leaving_on_error(turn):
                    await _refuse_if_held(uow, prepared, req.conflict_policy)
                return turn
        claimed = prepared.session.claimed_range
        while True:  # after each turn that held some of them, without a connection meanwhile
            ended = await self._gate.wait(prepared.resources)
            told = held_over(ended, prepared.resources, claimed.start, claimed.end)
            _refuse(prepared, told, req.conflict_policy)
            turn = self._gate.enter(prepared.resources)
            with self._gate.leaving_on_error(turn):
                async with self._store.peek() as uow:
                    await _refuse_if_held(uow, prepared, req.conflict_policy)
            if turn is not None:
                return turn

    async def _details_for(self, req: BookSessionRequest) -> list[Conflict]:
        async with self._store.read() as uow:
            prepared = await self._steps.prepare(uow, req, DRY_RUN)
            claimed = prepared.session.claimed_range
            return await uow.claims.conflicts(prepared.resources, claimed.start, claimed.end)

    async def check(
        self, req: BookSessionRequest, principal: Principal, *, suggestions: int = 0
    ) -> CheckOut:
        """A dry run of `book`: the same validation, policy verdict and conflict look-up, with
        nothing locked or written; the conflicts (in the order of the booking's claims) and the
        breaches come back as values. With `suggestions`, that many of the earliest free times
        for the same claims, length and buffers, from the start of its day over four weeks.

        Raises PermissionDenied, InvalidRequest (whatever `book` would refuse as invalid).
        """
        require_office(principal)
        async with self._store.read() as uow:
            prepared = await self._steps.prepare(uow, req, DRY_RUN)
            session = prepared.session
            claimed = session.claimed_range
            found = await uow.claims.conflicts(prepared.resources, claimed.start, claimed.end)
            order = {r: i for i, r in enumerate(prepared.resources)}
            found.sort(key=lambda c: order.get(c.resource, len(order)))
            verdict = sort_conflicts(session, found, req.conflict_policy)
            if not verdict.refusing:  # as `book`, which refuses a conflict before it asks this
                kept = tuple(s for s in session.sites if s.site_id not in verdict.skipped)
                self._links.check_capacity(session.model_copy(update={"sites": kept}))
            holders = await _holders(uow, found)
            suggested = await self._slots.around(
                uow, session, prepared.resources, prepared.sites, prepared.policy, suggestions
            )
        zone = ZoneInfo(session.timezone)
        return CheckOut(
            resources=prepared.resources,
            claimed=RangeOut(
                start=claimed.start.astimezone(zone), end=claimed.end.astimezone(zone)
            ),
            conflicts=[conflict_out(c) for c in verdict.refusing],
            skipped=verdict.skipped_out(),
            holders=holders,
            breaches=[
                BreachOut(rule=b.rule, detail=b.detail, site_id=b.site_id)
                for b in prepared.breaches
            ],
            overridden=bool(prepared.breaches and req.override_reason),
            suggestions=suggested,
        )

    # read --------------------------------------------------------------------------------
    async def get(self, session_id: str, principal: Principal) -> SessionOut:
        """One session, as the caller may see it. Raises SessionNotFound."""
        async with self._store.read() as uow:
            session = await uow.sessions.get(session_id)
            if session is None or not may_see(principal, session):
                raise SessionNotFound(session_id)
            return links_for(principal, self._out(session, await sites_of(uow, [session])))

    async def session(self, session_id: str) -> Session:
        async with self._store.read() as uow:
            session = await uow.sessions.get(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def list_sessions(self, query: SessionQuery, principal: Principal) -> list[SessionOut]:
        """Sessions matching `query` that the caller may see, earliest first."""
        query = replace(query, now=self._clock.now())
        if principal.role is Role.CHAIR:
            query = replace(query, chair_email=principal.email or "-")
        elif principal.role is Role.COORDINATOR:
            if query.site not in (None, principal.site_id):
                return []
            query = replace(query, site=principal.site_id or "-")
        async with self._store.read() as uow:
            sessions = await uow.sessions.find(query)
            sites = await sites_of(uow, sessions)
        return [links_for(principal, self._out(s, sites)) for s in sessions]

    # the rest, handed on -------------------------------------------------------------------
    async def update(
        self, session_id: str, req: UpdateSessionRequest, principal: Principal
    ) -> SessionOut:
        """Reschedule, retitle, change chair or host, add or remove sites (rules 1, 4, 6).

        Raises SessionNotFound, InvalidRequest, InvalidState, PolicyViolation, BookingConflict.
        """
        return await self._changes.update(session_id, req, principal)

    async def cancel(
        self, session_id: str, principal: Principal, reason: str | None = None
    ) -> SessionOut:
        """Cancel a session and release its claims. Cancelling twice answers the same.

        Raises SessionNotFound, InvalidState.
        """
        return await self._changes.cancel(session_id, principal, reason)

    async def find_slots(self, q: SlotQuery, principal: Principal) -> SlotsOut:
        """The earliest common free slots for sites and groups, honouring policy and buffers."""
        return await self._slots.find(q, principal)

    async def plan_regional(
        self,
        req: RegionalPlanRequest,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
    ) -> Created[RegionalPlanOut]:
        """One slot per region, no two overlapping, each hosted by the region's head site.

        Answers 200 with the proposal, or with `commit` 201 after booking all of them in one
        unit of work, or none. Raises InvalidRequest (a region without head or chair, no room
        in the window), BookingConflict.
        """
        return await self._planner.plan(req, principal, idempotency_key=idempotency_key)


async def _refuse_if_held(uow: UnitOfWork, prepared: Prepared, policy: ConflictPolicy) -> None:
    """Raise BookingConflict when another session holds a claim the booking refuses to share
    (`claim` checks again under the locks, which is what rules)."""
    claimed = prepared.session.claimed_range
    found = await uow.claims.conflicts(prepared.resources, claimed.start, claimed.end)
    _refuse(prepared, found, policy)


def _refuse(prepared: Prepared, found: list[Conflict], policy: ConflictPolicy) -> None:
    if found:
        refusing = sort_conflicts(prepared.session, found, policy).refusing
        if refusing:
            raise BookingConflict(refusing)


def _claims_of(session: Session, resources: Sequence[str]) -> list[Conflict]:
    """The claims a booked session holds, as a conflict with it names them."""
    claimed = session.claimed_range
    return [Conflict(r, session.id, claimed.start, claimed.end) for r in resources]


async def _holders(uow: UnitOfWork, conflicts: Sequence[Conflict]) -> list[HolderOut]:
    """The sessions holding `conflicts`, earliest first."""
    found = []
    for session_id in dict.fromkeys(c.session_id for c in conflicts):
        holder = await uow.sessions.get(session_id)
        if holder is not None:
            found.append(holder)
    found.sort(key=lambda s: (s.start, s.id))
    return [
        HolderOut(
            session_id=s.id,
            title=s.title,
            start=s.start.astimezone(ZoneInfo(s.timezone)),
            end=s.end.astimezone(ZoneInfo(s.timezone)),
        )
        for s in found
    ]


__all__ = ["BookingDefaults", "Bookings", "Created", "NotFound", "require_office"]
