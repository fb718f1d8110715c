"""Why the regional planner found no time for a region: the rule that refused it, found by
searching again with one constraint lifted at a time (the notice, the bookings already made,
the meetings just placed for the round's other regions), said in the request's zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.booking.slots import SlotFinder
from orchestrator.domain.errors import DayOff, Holder, NoRoomForRegion
from orchestrator.domain.models import BookingPolicy
from orchestrator.domain.policy import holiday_name
from orchestrator.domain.slots import find_free_slots
from orchestrator.store.base import UnitOfWork

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Search:
    """One region's search as the planner ran it."""

    region: str
    resources: Sequence[str]
    zones: Sequence[tuple[str, str]]
    policy: BookingPolicy
    start: datetime
    end: datetime
    duration: timedelta
    before: timedelta
    after: timedelta
    step: timedelta
    zone: str  # the request's: the grid's and the words'
    placed: Sequence[tuple[str, tuple[datetime, datetime]]]  # earlier regions, claimed ranges


async def why_no_room(
    uow: UnitOfWork, slots: SlotFinder, s: Search, now: datetime
) -> NoRoomForRegion:
    """The refusal for a region whose search found nothing, naming the rule that refused it."""
    policy = s.policy
    minutes = int(s.duration.total_seconds() // 60)

    def refuse(rule: str, **more: object) -> NoRoomForRegion:
        return NoRoomForRegion(
            s.region,
            rule,
            zone=s.zone,
            window=(s.start, s.end),
            duration_minutes=minutes,
            **more,  # type: ignore[arg-type]
        )

    async def found(policy: BookingPolicy, start: datetime, busy: bool, placed: bool) -> bool:
        if start + s.duration > s.end:
            return False
        if not busy:
            return bool(
                find_free_slots(
                    busy=[],
                    duration=s.duration,
                    window_start=start,
                    window_end=s.end,
                    buffer_before=s.before,
                    buffer_after=s.after,
                    zones=s.zones,
                    policy=policy,
                    now=now,
                    step=s.step,
                    align_zone=s.zone,
                    limit=1,
                )
            )
        return bool(
            await slots.search(
                uow,
                resources=s.resources,
                extra_busy=[r for _, r in s.placed] if placed else [],
                zones=s.zones,
                policy=policy,
                duration=s.duration,
                start=start,
                end=s.end,
                before=s.before,
                after=s.after,
                step=s.step,
                align_zone=s.zone,
                limit=1,
            )
        )

    if s.end - s.duration < now:
        return refuse("in_past")
    if minutes > policy.max_duration_minutes:
        return refuse("max_duration", max_minutes=policy.max_duration_minutes)
    notice = timedelta(minutes=policy.min_notice_minutes)
    earliest = now + notice
    open_from = max(s.start, now)
    if notice and earliest > s.start:
        unhurried = policy.model_copy(update={"min_notice_minutes": 0})
        if earliest >= s.end or await found(unhurried, open_from, busy=True, placed=True):
            return refuse(
                "min_notice",
                earliest=_next_minute(earliest),
                notice_days=policy.min_notice_minutes / 1440,
            )
    open_from = max(s.start, earliest)
    if not await found(policy, open_from, busy=False, placed=False):
        days_off = _days_off(policy, open_from, s.end, s.zone)
        if len(days_off) == _count_days(open_from, s.end, s.zone):
            rule = "holiday" if any(d.name for d in days_off) else "weekend"
            return refuse(rule, days_off=days_off)
        hours = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in policy.working_hours)
        return refuse("working_hours", hours=hours)
    if not await found(policy, open_from, busy=True, placed=False):
        claims = await uow.claims.conflicts(s.resources, open_from - s.before, s.end + s.after)
        return refuse("conflict", holders=await _holders(uow, [c.session_id for c in claims], s))
    return refuse("round", placed=[region for region, _ in s.placed])


def _next_minute(t: datetime) -> datetime:
    """`t` on a whole minute, rounded up: no start before it is allowed."""
    whole = t.replace(second=0, microsecond=0)
    return whole if whole == t else whole + timedelta(minutes=1)


def _local_days(start: datetime, end: datetime, zone: str) -> list[date]:
    tz = ZoneInfo(zone)
    first, last = start.astimezone(tz).date(), (end - timedelta.resolution).astimezone(tz).date()
    return [first + i * _DAY for i in range((last - first).days + 1)]


def _count_days(start: datetime, end: datetime, zone: str) -> int:
    return len(_local_days(start, end, zone))


def _days_off(policy: BookingPolicy, start: datetime, end: datetime, zone: str) -> list[DayOff]:
    off = []
    for day in _local_days(start, end, zone):
        name = holiday_name(policy.holiday_country, day) if policy.holidays else None
        if name:
            off.append(DayOff(day, "holiday", name, policy.holiday_country))
        elif day.weekday() not in policy.working_days:
            off.append(DayOff(day, "weekend"))
    return off


async def _holders(uow: UnitOfWork, ids: Sequence[str], s: Search) -> list[Holder]:
    tz = ZoneInfo(s.zone)
    found = []
    for session_id in dict.fromkeys(ids):
        held = await uow.sessions.get(session_id)
        if held is not None:
            found.append(held)
    found.sort(key=lambda h: (h.start, h.id))
    return [Holder(h.id, h.title, h.start.astimezone(tz), h.end.astimezone(tz)) for h in found[:10]]
