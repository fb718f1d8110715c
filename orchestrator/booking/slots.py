"""The free-slot search use case: the earliest common free slots for sites and groups, honouring
the booking policy and buffers, read from the claims a week at a time; also the suggestions a
booking's dry run offers and the search the regional planner runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.booking.common import (
    BookingDefaults,
    check_groups,
    or_default,
    policies,
    require_office,
    sites_for,
)
from orchestrator.booking.schemas import SlotOut, SlotQuery, SlotsOut
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import (
    BookingPolicy,
    Principal,
    Session,
    SiteLike,
    group_resource,
    site_resource,
)
from orchestrator.domain.slots import find_free_slots, spans_break
from orchestrator.store.base import Store, UnitOfWork

SLOT_CHUNK = timedelta(days=7)
SUGGEST_WITHIN = timedelta(days=28)  # how far a dry run looks for other times


class SlotFinder:
    """Finds free slots in the claims of the store."""

    def __init__(self, store: Store, clock: Clock, defaults: BookingDefaults) -> None:
        self._store = store
        self._clock = clock
        self._defaults = defaults

    async def find(self, q: SlotQuery, principal: Principal) -> SlotsOut:
        """The earliest common free slots for sites and groups, honouring policy and buffers.

        Raises PermissionDenied, InvalidRequest (unknown sites or groups)."""
        require_office(principal)
        async with self._store.read() as uow:
            sites = await sites_for(uow, q.sites, "sites")
            await check_groups(uow, q.groups)
            policy = (await policies(uow))[q.kind]
            resources = [site_resource(s) for s in q.sites] + [group_resource(g) for g in q.groups]
            slots = await self.search(
                uow,
                resources=resources,
                extra_busy=[],
                zones=[(s.id, s.timezone) for s in sites.values()],
                policy=policy,
                duration=timedelta(minutes=q.duration_minutes),
                start=q.from_,
                end=q.to,
                before=timedelta(
                    minutes=or_default(
                        q.buffer_before_minutes, self._defaults.buffer_before_minutes
                    )
                ),
                after=timedelta(
                    minutes=or_default(q.buffer_after_minutes, self._defaults.buffer_after_minutes)
                ),
                step=timedelta(
                    minutes=or_default(q.step_minutes, self._defaults.slot_step_minutes)
                ),
                align_zone=q.timezone,
                limit=q.limit,
            )
        zone = ZoneInfo(q.timezone)
        return SlotsOut(
            slots=[
                SlotOut(
                    start=s.start.astimezone(zone),
                    end=s.end.astimezone(zone),
                    over_lunch=s.over_lunch,
                )
                for s in slots
            ],
            duration_minutes=q.duration_minutes,
            resources=resources,
        )

    async def around(
        self,
        uow: UnitOfWork,
        session: Session,
        resources: Sequence[str],
        sites: Mapping[str, SiteLike],
        policy: BookingPolicy,
        limit: int,
    ) -> list[SlotOut]:
        """The earliest `limit` times a session like `session` (its length, buffers and claims)
        could have instead: from the start of its day (in its zone) or now, over four weeks."""
        if limit <= 0:
            return []
        zone = ZoneInfo(session.timezone)
        day_start = session.start.astimezone(zone).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        begin = max(self._clock.now(), day_start)
        return await self.search(
            uow,
            resources=resources,
            extra_busy=[],
            zones=[(s.site_id, sites[s.site_id].timezone) for s in session.sites],
            policy=policy,
            duration=session.end - session.start,
            start=begin,
            end=begin + SUGGEST_WITHIN,
            before=timedelta(minutes=session.buffer_before_minutes),
            after=timedelta(minutes=session.buffer_after_minutes),
            step=timedelta(minutes=self._defaults.slot_step_minutes),
            align_zone=session.timezone,
            limit=limit,
        )

    async def search(
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
            busy = await uow.claims.busy_ranges(
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
                    lunch = spans_break(slot.start, slot.end, (z for _, z in zones), policy)
                    found.append(SlotOut(start=slot.start, end=slot.end, over_lunch=lunch))
            chunk_start = chunk_end
        return found[:limit]
