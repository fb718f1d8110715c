"""The regional planner: a round of regional meetings, one slot per region, no two overlapping,
each hosted by the region's head site; proposed, or booked all together in one unit of work."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.booking.book import BookingSteps
from orchestrator.booking.common import (
    BookingDefaults,
    check_groups,
    enforce,
    or_default,
    policies,
    require_office,
)
from orchestrator.booking.idempotency import Created, Idempotency
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.no_room import Search, why_no_room
from orchestrator.booking.schemas import (
    BookSessionRequest,
    ChairSource,
    ProposalOut,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionOut,
)
from orchestrator.booking.slots import SlotFinder
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import BookingConflict, InvalidRequest
from orchestrator.domain.models import (
    Chair,
    ConflictPolicy,
    Principal,
    Region,
    SessionKind,
    Site,
    claimed_range,
    resources_for,
)
from orchestrator.store.base import ClaimOverlap, UnitOfWork


class RegionalPlanner:
    """Plans, and on request books, a round of regional meetings."""

    def __init__(
        self,
        clock: Clock,
        defaults: BookingDefaults,
        *,
        steps: BookingSteps,
        slots: SlotFinder,
        links: JoinLinks,
        idempotency: Idempotency,
    ) -> None:
        self._clock = clock
        self._defaults = defaults
        self._steps = steps
        self._slots = slots
        self._links = links
        self._idempotency = idempotency

    async def plan(
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
        require_office(principal)

        async def work(uow: UnitOfWork) -> Created[RegionalPlanOut]:
            out = await self._plan_in(uow, req, principal)
            return Created(out, 201 if out.committed else 200)

        try:
            return await self._idempotency.once(
                principal, idempotency_key, req, work, RegionalPlanOut
            )
        except ClaimOverlap as exc:
            raise BookingConflict([]) from exc

    async def _plan_in(
        self, uow: UnitOfWork, req: RegionalPlanRequest, principal: Principal
    ) -> RegionalPlanOut:
        regions = {r.id: r for r in await uow.directory.list_regions()}
        unknown = [r for r in req.regions if r not in regions]
        if unknown:
            raise InvalidRequest(
                f"unknown region(s): {', '.join(unknown)}",
                field="regions",
                reason="unknown_regions",
                values={"ids": ", ".join(unknown)},
            )
        await check_groups(uow, req.leader_groups)
        policy = (await policies(uow))[SessionKind.REGIONAL]
        before = timedelta(
            minutes=or_default(req.buffer_before_minutes, self._defaults.buffer_before_minutes)
        )
        after = timedelta(
            minutes=or_default(req.buffer_after_minutes, self._defaults.buffer_after_minutes)
        )
        duration = timedelta(minutes=req.duration_minutes)
        planned: list[tuple[datetime, datetime]] = []
        proposals: list[ProposalOut] = []
        for region_id in req.regions:
            region = regions[region_id]
            members = await uow.directory.list_sites(region.id)
            if not region.head_site or region.head_site not in {s.id for s in members}:
                raise InvalidRequest(
                    f"region {region.id} has no head site among its sites; set head_site",
                    field="regions",
                    reason="no_head_site",
                    values={"region": region.name},
                )
            head = next(s for s in members if s.id == region.head_site)
            chair, source = _chair_of(req, region, head)
            site_ids = [head.id, *(s.id for s in members if s.id != head.id)]
            resources = resources_for(
                sites=site_ids,
                region=region.id,
                leader_groups=req.leader_groups,
                chair_email=chair.email,
            )
            # Regional meetings never overlap each other, whatever they share.
            slots = await self._slots.search(
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
                search = Search(
                    region=region.id,
                    resources=resources,
                    zones=[(s.id, s.timezone) for s in members],
                    policy=policy,
                    start=req.from_,
                    end=req.to,
                    duration=duration,
                    before=before,
                    after=after,
                    step=timedelta(minutes=self._defaults.slot_step_minutes),
                    zone=req.timezone,
                    placed=[(p.region, r) for p, r in zip(proposals, planned, strict=True)],
                )
                raise await why_no_room(uow, self._slots, search, self._clock.now())
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
                    chair_source=source,
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
                prepared = await self._steps.prepare(uow, booking, str(uuid.uuid4()))
                enforce(prepared.breaches, prepared.reason, principal)
                await self._steps.claim(uow, prepared, ConflictPolicy.ALL_OR_NOTHING, principal)
                session = prepared.session
                sessions.append(
                    SessionOut.build(
                        session, prepared.sites, self._clock.now(), self._links.visitors(session)
                    )
                )
        return RegionalPlanOut(proposals=proposals, committed=req.commit, sessions=sessions)


def _chair_of(req: RegionalPlanRequest, region: Region, head: Site) -> tuple[Chair, ChairSource]:
    """The chair a region's meeting books, and where it comes from: the plan's own choice, the
    directory's region chair, or the documented fallback (the head site's coordinator). A chair
    named in the plan that is the one the directory gives keeps the directory as its source.

    Raises InvalidRequest when none of them names an address."""
    chosen = req.chairs.get(region.id)
    name = region.chair_name or f"Trưởng vùng {region.name}"
    found: tuple[Chair, ChairSource] | None = None
    if region.chair_email:
        found = Chair(name=name, email=region.chair_email), "directory"
    elif head.coordinator.email:
        found = Chair(name=name, email=head.coordinator.email), "fallback"
    if chosen is not None and (found is None or chosen != found[0]):
        return chosen, "request"
    if found is not None:
        return found
    raise InvalidRequest(
        f"region {region.id} has no chair: set chair_email in the directory or name one in "
        "the plan's chairs",
        field="chairs",
        reason="no_chair",
        values={"region": region.name},
    )
