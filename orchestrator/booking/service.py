"""Booking use cases: book, read, list, change, cancel, find slots, plan a regional round.

Rule 1 (no overlap) is checked here to name the conflicts, and enforced by the store's database;
rule 3 (all or nothing) is one unit of work per booking; rule 4 (policy) comes from
`domain.policy`; rules 5 and 6 (idempotency, audit) are written in the same unit of work.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from connectors.base import Attendee, Meeting, MeetingProvider
from orchestrator.booking.schemas import (
    BookingOut,
    BookSessionRequest,
    ConflictOut,
    ProposalOut,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionOut,
    SkippedOut,
    SlotOut,
    SlotQuery,
    SlotsOut,
    UpdateSessionRequest,
)
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    BookingConflict,
    Breach,
    Conflict,
    IdempotencyMismatch,
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    SessionNotFound,
)
from orchestrator.domain.models import (
    DEFAULT_POLICIES,
    MAX_CLAIM_SPAN,
    AuditEntry,
    BookingPolicy,
    Chair,
    ConflictPolicy,
    Principal,
    Region,
    Role,
    Session,
    SessionKind,
    SessionSite,
    SessionStatus,
    Site,
    claimed_range,
    group_resource,
    may_see,
    resources_for,
    site_resource,
)
from orchestrator.domain.policy import check_policy
from orchestrator.domain.slots import find_free_slots
from orchestrator.store.base import (
    ClaimOverlap,
    DuplicateAnswer,
    RetryableStoreError,
    SessionQuery,
    Store,
    StoredAnswer,
    UnitOfWork,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 4
INVITES = "invites"  # the outbox kind of a session change whose invites must go out
OFFICE_SELF = Principal(role=Role.OFFICE, token_id="-", label="conflict details")
SLOT_CHUNK = timedelta(days=7)


@dataclass(frozen=True)
class BookingDefaults:
    buffer_before_minutes: int = 30
    buffer_after_minutes: int = 15
    slot_step_minutes: int = 30
    link_grace_minutes: int = 15


@dataclass(frozen=True)
class Answer:
    """A create's answer as sent: replayed verbatim for a repeated Idempotency-Key."""

    status: int
    body: str
    replayed: bool = False


@dataclass
class _Prepared:
    """A booking checked against the directory and the policy, ready to claim."""

    session: Session
    resources: list[str]
    sites: dict[str, Site]
    breaches: list[Breach]
    reason: str | None


def require_office(principal: Principal) -> None:
    if principal.role is not Role.OFFICE:
        raise PermissionDenied("only the office may do this")


def fingerprint(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


class Bookings:
    """The booking use cases."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        providers: Mapping[str, MeetingProvider],
        defaults: BookingDefaults | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._providers = providers
        self._defaults = defaults or BookingDefaults()

    # helpers -----------------------------------------------------------------------------
    async def _retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, RETRIES + 1):
            try:
                return await work()
            except RetryableStoreError as exc:
                if attempt == RETRIES:
                    raise
                log.warning("transient store error (attempt %d of %d): %s", attempt, RETRIES, exc)
                # Deadlock victims retry at once in lockstep otherwise; spread them a little.
                await asyncio.sleep(random.uniform(0, 0.02 * attempt))
        raise AssertionError("unreachable")

    async def _policies(self, uow: UnitOfWork) -> dict[SessionKind, BookingPolicy]:
        return {**DEFAULT_POLICIES, **await uow.get_policies()}

    def _provider(self, name: str) -> MeetingProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise InvalidRequest(
                f"provider {name!r} is not configured on this service "
                f"(available: {', '.join(sorted(self._providers))})",
                field="provider",
            )
        return provider

    def _with_links(self, session: Session, sites: Mapping[str, Site]) -> Session:
        provider = self._provider(session.provider)
        claimed = session.claimed_range
        meeting = Meeting(
            session_id=session.id,
            title=session.title,
            room=session.room or "",
            start=session.start,
            end=session.end,
            opens_at=claimed.start,
            closes_at=session.end + timedelta(minutes=self._defaults.link_grace_minutes),
        )
        limit = provider.max_participants
        speaking = {session.host_site, *session.speaking_sites}
        if len(session.sites) > limit and len(speaking) > limit:
            raise InvalidRequest(
                f"{len(speaking)} speaking sites (the host included) exceed the {limit} "
                f"participants {provider.name} allows; the others join as visitors",
                field="speaking_sites",
            )
        visitors = session.visitors(limit)
        linked = []
        for s in session.sites:
            site = sites[s.site_id]
            attendee = Attendee(
                site_id=site.id,
                name=site.name,
                email=site.coordinator.email,
                moderator=site.id == session.host_site,
                visitor=site.id in visitors,
            )
            linked.append(
                SessionSite(site_id=s.site_id, join_url=provider.join_url(meeting, attendee))
            )
        return session.model_copy(update={"sites": tuple(linked)})

    async def _sites_for(self, uow: UnitOfWork, ids: Sequence[str], field: str) -> dict[str, Site]:
        found = await uow.get_sites(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise InvalidRequest(f"unknown site(s): {', '.join(missing)}", field=field)
        return found

    async def _check_groups(self, uow: UnitOfWork, ids: Sequence[str]) -> None:
        known = {g.id for g in await uow.list_groups()}
        missing = [g for g in ids if g not in known]
        if missing:
            raise InvalidRequest(
                f"unknown leader group(s): {', '.join(missing)}", field="leader_groups"
            )

    async def _region(self, uow: UnitOfWork, region_id: str) -> Region:
        for region in await uow.list_regions():
            if region.id == region_id:
                return region
        raise InvalidRequest(f"unknown region: {region_id}", field="region")

    def _judge(
        self,
        session: Session,
        sites: Mapping[str, Site],
        policy: BookingPolicy,
        reason: str | None,
        principal: Principal,
    ) -> list[Breach]:
        breaches = check_policy(
            start=session.start,
            end=session.end,
            now=self._clock.now(),
            zones=[(s.site_id, sites[s.site_id].timezone) for s in session.sites],
            policy=policy,
        )
        if breaches and not reason:
            raise PolicyViolation(breaches)
        if breaches:
            require_office(principal)
        return breaches

    async def _conflict_details(
        self, resources: Sequence[str], start: datetime, end: datetime, exclude: str | None
    ) -> list[Conflict]:
        async with self._store.read() as uow:
            return await uow.find_conflicts(resources, start, end, exclude)

    async def _sites_out(self, uow: UnitOfWork, sessions: Sequence[Session]) -> dict[str, Site]:
        ids = list(dict.fromkeys(s.site_id for session in sessions for s in session.sites))
        return await uow.get_sites(ids)

    def _visitors(self, session: Session) -> frozenset[str]:
        provider = self._providers.get(session.provider)
        return session.visitors(provider.max_participants) if provider else frozenset()

    def _out(self, session: Session, sites: dict[str, Site]) -> SessionOut:
        return SessionOut.build(session, sites, self._clock.now(), self._visitors(session))

    # book --------------------------------------------------------------------------------
    async def _prepare(
        self, uow: UnitOfWork, req: BookSessionRequest, principal: Principal, session_id: str
    ) -> _Prepared:
        site_ids = list(dict.fromkeys([req.host_site, *req.sites]))
        region = await self._region(uow, req.region) if req.region else None
        if req.kind is SessionKind.REGIONAL and region and not req.sites:
            site_ids = list(
                dict.fromkeys([req.host_site, *(s.id for s in await uow.list_sites(region.id))])
            )
        sites = await self._sites_for(uow, site_ids, "sites")
        await self._check_groups(uow, req.leader_groups)
        provider = self._provider(req.provider)
        now = self._clock.now()
        session = Session(
            id=session_id,
            title=req.title,
            agenda=req.agenda,
            kind=req.kind,
            region=req.region,
            start=req.start,
            end=req.end,
            timezone=req.timezone,
            host_site=req.host_site,
            chair=req.chair,
            sites=tuple(SessionSite(site_id=i) for i in site_ids),
            leader_groups=tuple(dict.fromkeys(req.leader_groups)),
            speaking_sites=tuple(dict.fromkeys(req.speaking_sites)),
            provider=req.provider,
            buffer_before_minutes=_or(
                req.buffer_before_minutes, self._defaults.buffer_before_minutes
            ),
            buffer_after_minutes=_or(req.buffer_after_minutes, self._defaults.buffer_after_minutes),
            room=provider.room_name(req.title, secrets.token_hex(8)),
            created_at=now,
            updated_at=now,
        )
        _check_span(session)
        _check_speakers(session)
        policy = (await self._policies(uow))[req.kind]
        breaches = self._judge(session, sites, policy, req.override_reason, principal)
        resources = _resources(session)
        return _Prepared(session, resources, sites, breaches, req.override_reason)

    async def _claim(
        self,
        uow: UnitOfWork,
        prepared: _Prepared,
        policy: ConflictPolicy,
        principal: Principal,
    ) -> list[SkippedOut]:
        """Check, skip what may be skipped, claim and store; raises BookingConflict."""
        session = prepared.session
        claimed = session.claimed_range
        await uow.lock_resources(prepared.resources)
        conflicts = await uow.find_conflicts(prepared.resources, claimed.start, claimed.end)
        skipped: list[SkippedOut] = []
        if conflicts:
            if policy is not ConflictPolicy.SKIP_CONFLICTING:
                raise BookingConflict(conflicts)
            by_site: dict[str, list[Conflict]] = {}
            blocking: list[Conflict] = []
            for c in conflicts:
                site_id = (
                    c.resource.removeprefix("site:") if c.resource.startswith("site:") else None
                )
                if site_id is None or site_id == session.host_site:
                    blocking.append(c)
                else:
                    by_site.setdefault(site_id, []).append(c)
            if blocking:
                raise BookingConflict(blocking)
            skipped = [
                SkippedOut(site_id=k, conflicts=[_conflict_out(c) for c in v])
                for k, v in by_site.items()
            ]
            session = session.model_copy(
                update={"sites": tuple(s for s in session.sites if s.site_id not in by_site)}
            )
            drop = {site_resource(k) for k in by_site}
            prepared.resources = [r for r in prepared.resources if r not in drop]
        session = self._with_links(session, prepared.sites)
        prepared.session = session
        await uow.insert_session(session)
        await uow.add_claims(session.id, prepared.resources, claimed.start, claimed.end)
        await uow.add_outbox(
            INVITES, session.id, session.version, {"change": "booked"}, self._clock.now()
        )
        await uow.audit(
            AuditEntry(
                at=self._clock.now(),
                actor=principal.actor,
                action="session.book",
                target=f"session:{session.id}",
                reason=prepared.reason,
                detail={
                    "title": session.title,
                    "start": session.start.isoformat(),
                    "end": session.end.isoformat(),
                    "sites": len(session.sites),
                    "skipped": [s.site_id for s in skipped],
                    "policy_overridden": [b.as_json() for b in prepared.breaches],
                },
            )
        )
        return skipped

    async def _once(
        self,
        principal: Principal,
        key: str | None,
        payload: BaseModel,
        work: Callable[[UnitOfWork], Awaitable[Answer]],
    ) -> Answer:
        """Run `work` in one write unit; with a key, store its answer there and replay it later."""
        print_ = fingerprint(payload.model_dump_json())

        async def attempt() -> Answer:
            async with self._store.write() as uow:
                if key:
                    stored = await uow.get_answer(_scope(principal), key)
                    if stored is not None:
                        return _replay(stored, print_, key)
                answer = await work(uow)
                if key:
                    await uow.put_answer(
                        _scope(principal),
                        key,
                        StoredAnswer(print_, answer.status, answer.body),
                        self._clock.now(),
                    )
                return answer

        try:
            return await self._retrying(attempt)
        except (BookingConflict, ClaimOverlap, DuplicateAnswer):
            if key:
                # A concurrent retry of the same request may have won: answer as it did.
                async with self._store.read() as uow:
                    stored = await uow.get_answer(_scope(principal), key)
                if stored is not None:
                    return _replay(stored, print_, key)
            raise

    async def book(
        self,
        req: BookSessionRequest,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
    ) -> Answer:
        """Book a session (rules 1-6). Answers 201 with the booking, or the first answer on replay.

        Raises InvalidRequest, PolicyViolation, BookingConflict, PermissionDenied,
        IdempotencyMismatch.
        """
        require_office(principal)

        async def work(uow: UnitOfWork) -> Answer:
            prepared = await self._prepare(uow, req, principal, str(uuid.uuid4()))
            skipped = await self._claim(uow, prepared, req.conflict_policy, principal)
            session = prepared.session
            out = BookingOut.build(
                session, prepared.sites, self._clock.now(), self._visitors(session)
            ).model_copy(
                update={
                    "skipped": skipped,
                    "policy_overridden": [b.rule for b in prepared.breaches],
                }
            )
            return Answer(201, out.model_dump_json())

        try:
            return await self._once(principal, idempotency_key, req, work)
        except ClaimOverlap as exc:
            raise BookingConflict(await self._details_for(req)) from exc

    async def _details_for(self, req: BookSessionRequest) -> list[Conflict]:
        async with self._store.read() as uow:
            # Only the claims are wanted here; the caller was already authorised.
            prepared = await self._prepare(uow, req, OFFICE_SELF, "00000000")
        claimed = prepared.session.claimed_range
        return await self._conflict_details(prepared.resources, claimed.start, claimed.end, None)

    # read --------------------------------------------------------------------------------
    async def get(self, session_id: str, principal: Principal) -> SessionOut:
        """One session, as the caller may see it. Raises SessionNotFound."""
        async with self._store.read() as uow:
            session = await uow.get_session(session_id)
            if session is None or not may_see(principal, session):
                raise SessionNotFound(session_id)
            return _links_for(principal, self._out(session, await self._sites_out(uow, [session])))

    async def session(self, session_id: str) -> Session:
        async with self._store.read() as uow:
            session = await uow.get_session(session_id)
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
            sessions = await uow.list_sessions(query)
            sites = await self._sites_out(uow, sessions)
        return [_links_for(principal, self._out(s, sites)) for s in sessions]

    # change ------------------------------------------------------------------------------
    async def update(
        self, session_id: str, req: UpdateSessionRequest, principal: Principal
    ) -> SessionOut:
        """Reschedule, retitle, change chair or host, add or remove sites (rules 1, 4, 6).

        Raises SessionNotFound, InvalidRequest, InvalidState, PolicyViolation, BookingConflict.
        """
        require_office(principal)

        async def attempt() -> SessionOut:
            async with self._store.write() as uow:
                return await self._update_in(uow, session_id, req, principal)

        try:
            return await self._retrying(attempt)
        except ClaimOverlap as exc:
            old = await self.session(session_id)
            new = _apply(old, req, old.updated_at)
            claimed = new.claimed_range
            raise BookingConflict(
                await self._conflict_details(_resources(new), claimed.start, claimed.end, old.id)
            ) from exc

    async def _update_in(
        self, uow: UnitOfWork, session_id: str, req: UpdateSessionRequest, principal: Principal
    ) -> SessionOut:
        old = await uow.get_session(session_id)
        if old is None:
            raise SessionNotFound(session_id)
        now = self._clock.now()
        if old.status is SessionStatus.CANCELLED:
            raise InvalidState(f"session {session_id} is cancelled and cannot be changed")
        if old.end <= now:
            raise InvalidState(f"session {session_id} has ended and cannot be changed")
        unknown_removed = [s for s in req.remove_sites if s not in old.site_ids]
        if unknown_removed:
            raise InvalidRequest(
                f"not sites of this session: {', '.join(unknown_removed)}", field="remove_sites"
            )
        new = _apply(old, req, now)
        if _same(old, new):  # nothing to change: no new version, no invites sent again
            return self._out(old, await self._sites_out(uow, [old]))
        if not new.sites:
            raise InvalidRequest("a session needs at least one site", field="remove_sites")
        if new.host_site not in new.site_ids:
            raise InvalidRequest(
                f"the host site {new.host_site} must take part in the session", field="host_site"
            )
        if new.end <= new.start:
            raise InvalidRequest("end must be after start", field="end")
        _check_span(new)
        _check_speakers(new)
        sites = await self._sites_for(uow, list(new.site_ids), "add_sites")
        timing_changed = (new.start, new.end) != (old.start, old.end)
        added = [s for s in new.site_ids if s not in old.site_ids]
        removed = [s for s in old.site_ids if s not in new.site_ids]
        breaches: list[Breach] = []
        if timing_changed or added:
            policy = (await self._policies(uow))[new.kind]
            breaches = self._judge(new, sites, policy, req.override_reason, principal)
        resources = _resources(new)
        claimed = new.claimed_range
        await uow.lock_resources(list(dict.fromkeys([*_resources(old), *resources])))
        conflicts = await uow.find_conflicts(resources, claimed.start, claimed.end, old.id)
        if conflicts:
            raise BookingConflict(conflicts)
        new = self._with_links(new, sites)
        await uow.replace_claims(old.id, resources, claimed.start, claimed.end)
        await uow.update_session(new, added_sites=added, removed_sites=removed)
        await uow.add_outbox(
            INVITES, new.id, new.version, {"change": "updated", "removed_sites": removed}, now
        )
        changes = {
            k: v
            for k, v in req.model_dump(mode="json", exclude_unset=True).items()
            if k != "override_reason"
        }
        await uow.audit(
            AuditEntry(
                at=now,
                actor=principal.actor,
                action="session.update",
                target=f"session:{old.id}",
                reason=req.override_reason,
                detail={
                    "changes": changes,
                    "version": new.version,
                    "policy_overridden": [b.as_json() for b in breaches],
                },
            )
        )
        return self._out(new, sites)

    async def cancel(
        self, session_id: str, principal: Principal, reason: str | None = None
    ) -> SessionOut:
        """Cancel a session and release its claims. Cancelling twice answers the same.

        Raises SessionNotFound, InvalidState.
        """
        require_office(principal)

        async def attempt() -> SessionOut:
            async with self._store.write() as uow:
                session = await uow.get_session(session_id)
                if session is None:
                    raise SessionNotFound(session_id)
                sites = await self._sites_out(uow, [session])
                if session.status is SessionStatus.CANCELLED:
                    return self._out(session, sites)
                now = self._clock.now()
                if session.end <= now:
                    raise InvalidState(f"session {session_id} has ended and cannot be cancelled")
                cancelled = session.model_copy(
                    update={
                        "status": SessionStatus.CANCELLED,
                        "updated_at": now,
                        "version": session.version + 1,
                    }
                )
                await uow.release_claims(session.id)
                await uow.update_session(cancelled)
                await uow.add_outbox(
                    INVITES, session.id, cancelled.version, {"change": "cancelled"}, now
                )
                await uow.audit(
                    AuditEntry(
                        at=now,
                        actor=principal.actor,
                        action="session.cancel",
                        target=f"session:{session.id}",
                        reason=reason,
                        detail={"title": session.title},
                    )
                )
                return self._out(cancelled, sites)

        return await self._retrying(attempt)

    # slots -------------------------------------------------------------------------------
    async def find_slots(self, q: SlotQuery, principal: Principal) -> SlotsOut:
        """The earliest common free slots for sites and groups, honouring policy and buffers."""
        require_office(principal)
        async with self._store.read() as uow:
            sites = await self._sites_for(uow, q.sites, "sites")
            await self._check_groups(uow, q.groups)
            policy = (await self._policies(uow))[q.kind]
            resources = [site_resource(s) for s in q.sites] + [group_resource(g) for g in q.groups]
            slots = await self._search(
                uow,
                resources=resources,
                extra_busy=[],
                zones=[(s.id, s.timezone) for s in sites.values()],
                policy=policy,
                duration=timedelta(minutes=q.duration_minutes),
                start=q.from_,
                end=q.to,
                before=timedelta(
                    minutes=_or(q.buffer_before_minutes, self._defaults.buffer_before_minutes)
                ),
                after=timedelta(
                    minutes=_or(q.buffer_after_minutes, self._defaults.buffer_after_minutes)
                ),
                step=timedelta(minutes=_or(q.step_minutes, self._defaults.slot_step_minutes)),
                align_zone=q.timezone,
                limit=q.limit,
            )
        zone = ZoneInfo(q.timezone)
        return SlotsOut(
            slots=[
                SlotOut(start=s.start.astimezone(zone), end=s.end.astimezone(zone)) for s in slots
            ],
            duration_minutes=q.duration_minutes,
            resources=resources,
        )

    async def _search(
        self,
        uow: UnitOfWork,
        *,
        resources: Sequence[str],
        extra_busy: Sequence[tuple[datetime, datetime]],
        zones: Sequence[tuple[str, str]],
        policy: BookingPolicy,
        duration: timedelta,
        start: datetime,
        end: datetime,
        before: timedelta,
        after: timedelta,
        step: timedelta,
        align_zone: str,
        limit: int,
    ) -> list[SlotOut]:
        """Walk the window a week at a time, reading only that week's claims."""
        found: list[SlotOut] = []
        chunk_start = start
        now = self._clock.now()
        while chunk_start < end and len(found) < limit:
            chunk_end = min(chunk_start + SLOT_CHUNK, end)
            busy = await uow.busy_ranges(
                resources, chunk_start - before, chunk_end + duration + after
            )
            busy.extend(extra_busy)
            for slot in find_free_slots(
                busy=busy,
                duration=duration,
                window_start=chunk_start,
                window_end=min(chunk_end + duration, end),
                buffer_before=before,
                buffer_after=after,
                zones=zones,
                policy=policy,
                now=now,
                step=step,
                align_zone=align_zone,
                limit=limit - len(found),
            ):
                if slot.start < chunk_end:
                    found.append(SlotOut(start=slot.start, end=slot.end))
            chunk_start = chunk_end
        return found[:limit]

    # regional round ----------------------------------------------------------------------
    async def plan_regional(
        self,
        req: RegionalPlanRequest,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
    ) -> Answer:
        """One slot per region, no two overlapping, each hosted by the region's head site.

        Answers 200 with the proposal, or with `commit` 201 after booking all of them in one
        unit of work, or none. Raises InvalidRequest (a region without head or chair, no room
        in the window), BookingConflict.
        """
        require_office(principal)

        async def work(uow: UnitOfWork) -> Answer:
            out = await self._plan_in(uow, req, principal)
            return Answer(201 if out.committed else 200, out.model_dump_json())

        try:
            return await self._once(principal, idempotency_key, req, work)
        except ClaimOverlap as exc:
            raise BookingConflict([]) from exc

    async def _plan_in(
        self, uow: UnitOfWork, req: RegionalPlanRequest, principal: Principal
    ) -> RegionalPlanOut:
        regions = {r.id: r for r in await uow.list_regions()}
        unknown = [r for r in req.regions if r not in regions]
        if unknown:
            raise InvalidRequest(f"unknown region(s): {', '.join(unknown)}", field="regions")
        await self._check_groups(uow, req.leader_groups)
        policy = (await self._policies(uow))[SessionKind.REGIONAL]
        before = timedelta(
            minutes=_or(req.buffer_before_minutes, self._defaults.buffer_before_minutes)
        )
        after = timedelta(
            minutes=_or(req.buffer_after_minutes, self._defaults.buffer_after_minutes)
        )
        duration = timedelta(minutes=req.duration_minutes)
        planned: list[tuple[datetime, datetime]] = []
        proposals: list[ProposalOut] = []
        for region_id in req.regions:
            region = regions[region_id]
            members = await uow.list_sites(region.id)
            if not region.head_site or region.head_site not in {s.id for s in members}:
                raise InvalidRequest(
                    f"region {region.id} has no head site among its sites; set head_site",
                    field="regions",
                )
            head = next(s for s in members if s.id == region.head_site)
            chair_email = region.chair_email or head.coordinator.email
            if not chair_email:
                raise InvalidRequest(
                    f"region {region.id} has no chair: set chair_email in the directory",
                    field="regions",
                )
            chair = Chair(name=region.chair_name or f"Trưởng vùng {region.name}", email=chair_email)
            site_ids = [head.id, *(s.id for s in members if s.id != head.id)]
            resources = resources_for(
                sites=site_ids,
                region=region.id,
                leader_groups=req.leader_groups,
                chair_email=chair.email,
            )
            # Regional meetings never overlap each other, whatever they share.
            slots = await self._search(
                uow,
                resources=resources,
                extra_busy=planned,
                zones=[(s.id, s.timezone) for s in members],
                policy=policy,
                duration=duration,
                start=req.from_,
                end=req.to,
                before=before,
                after=after,
                step=timedelta(minutes=self._defaults.slot_step_minutes),
                align_zone=req.timezone,
                limit=1,
            )
            if not slots:
                raise InvalidRequest(
                    f"no free slot for region {region.id} between {req.from_:%Y-%m-%d} and "
                    f"{req.to:%Y-%m-%d} once the other regions are placed; widen the window",
                    field="to",
                )
            slot = slots[0]
            rng = claimed_range(
                slot.start,
                slot.end,
                int(before.total_seconds() // 60),
                int(after.total_seconds() // 60),
            )
            planned.append((rng.start, rng.end))
            proposals.append(
                ProposalOut(
                    region=region.id,
                    host_site=head.id,
                    sites=site_ids,
                    chair=chair,
                    start=slot.start.astimezone(ZoneInfo(req.timezone)),
                    end=slot.end.astimezone(ZoneInfo(req.timezone)),
                )
            )
        sessions: list[SessionOut] = []
        if req.commit:
            for p in proposals:
                booking = BookSessionRequest(
                    title=f"{req.title} – {regions[p.region].name}",
                    kind=SessionKind.REGIONAL,
                    region=p.region,
                    start=p.start,
                    end=p.end,
                    timezone=req.timezone,
                    host_site=p.host_site,
                    sites=p.sites,
                    chair=p.chair,
                    leader_groups=req.leader_groups,
                    provider=req.provider,
                    buffer_before_minutes=int(before.total_seconds() // 60),
                    buffer_after_minutes=int(after.total_seconds() // 60),
                )
                prepared = await self._prepare(uow, booking, principal, str(uuid.uuid4()))
                await self._claim(uow, prepared, ConflictPolicy.ALL_OR_NOTHING, principal)
                sessions.append(self._out(prepared.session, prepared.sites))
        return RegionalPlanOut(proposals=proposals, committed=req.commit, sessions=sessions)


_COMPARED = (
    "title",
    "agenda",
    "start",
    "end",
    "timezone",
    "chair",
    "host_site",
    "sites",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "speaking_sites",
)


def _same(old: Session, new: Session) -> bool:
    return all(getattr(old, f) == getattr(new, f) for f in _COMPARED)


def _links_for(principal: Principal, out: SessionOut) -> SessionOut:
    """Each link is a site's identity (rule 7): a coordinator sees only their site's link and a
    chair only the host's; the office sees them all."""
    if principal.role is Role.OFFICE:
        return out
    keep = principal.site_id if principal.role is Role.COORDINATOR else out.host_site
    sites = [s if s.site_id == keep else s.model_copy(update={"join_url": None}) for s in out.sites]
    return out.model_copy(update={"sites": sites})


def _check_speakers(session: Session) -> None:
    strangers = [s for s in session.speaking_sites if s not in session.site_ids]
    if strangers:
        raise InvalidRequest(
            f"speaking sites must take part in the session: {', '.join(strangers)}",
            field="speaking_sites",
        )


def _check_span(session: Session) -> None:
    claimed = session.claimed_range
    if claimed.end - claimed.start > MAX_CLAIM_SPAN:
        raise InvalidRequest(
            f"a session with its buffers may span at most {MAX_CLAIM_SPAN.days} days; "
            "book a long event as one session per day",
            field="end",
        )


def _scope(principal: Principal) -> str:
    """Idempotency keys are the caller's own: one token's keys never answer for another's."""
    return f"{principal.role.value}:{principal.token_id}"


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _resources(session: Session) -> list[str]:
    return resources_for(
        sites=session.site_ids,
        region=session.region,
        leader_groups=session.leader_groups,
        chair_email=session.chair.email,
    )


def _conflict_out(c: Conflict) -> ConflictOut:
    return ConflictOut(resource=c.resource, session_id=c.session_id, start=c.start, end=c.end)


def _replay(stored: StoredAnswer, print_: str, key: str) -> Answer:
    if stored.fingerprint != print_:
        raise IdempotencyMismatch(key)
    return Answer(stored.status, stored.body, replayed=True)


def _apply(old: Session, req: UpdateSessionRequest, now: datetime) -> Session:
    sites = [s for s in old.sites if s.site_id not in set(req.remove_sites)]
    present = {s.site_id for s in sites}
    sites.extend(SessionSite(site_id=s) for s in dict.fromkeys(req.add_sites) if s not in present)
    update: dict[str, object] = {
        k: v
        for k, v in {
            "title": req.title,
            "agenda": req.agenda,
            "start": req.start,
            "end": req.end,
            "timezone": req.timezone,
            "chair": req.chair,
            "host_site": req.host_site,
            "buffer_before_minutes": req.buffer_before_minutes,
            "buffer_after_minutes": req.buffer_after_minutes,
            "speaking_sites": tuple(req.speaking_sites) if req.speaking_sites is not None else None,
        }.items()
        if v is not None
    }
    update.update(sites=tuple(sites), updated_at=now, version=old.version + 1)
    return old.model_copy(update=update)


__all__ = ["Answer", "BookingDefaults", "Bookings", "NotFound", "require_office"]
