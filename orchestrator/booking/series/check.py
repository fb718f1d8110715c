"""A series' dry run (DESIGN 10, the booking form's preview): every occurrence its rule names, the
booking rules each breaks and the claims others hold over each, and what booking the series now
would do with them, in a read unit of work with nothing locked or written.

It judges as `SeriesSteps.plan` does: under `all_or_nothing` any breach (unless overridden) or
conflict refuses the series; under `skip_conflicting_occurrences` those occurrences are left out,
and the series is refused only when none is left."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from orchestrator.booking.book import BookingSteps
from orchestrator.booking.common import breaches_of, conflict_out
from orchestrator.booking.schemas import BreachOut, HolderOut
from orchestrator.booking.series.book import conflicts_by_session
from orchestrator.booking.series.recurrence import check_apart, expand
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    OccurrenceCheckOut,
    SeriesCheckOut,
    SeriesConflictPolicy,
)
from orchestrator.domain.errors import Breach, Conflict
from orchestrator.domain.models import Session
from orchestrator.store.base import UnitOfWork

DRY_RUN = "dry-run"  # the id of the first occurrence a dry run builds and never stores


async def check_series(
    uow: UnitOfWork, steps: BookingSteps, req: BookSeriesRequest, now: datetime
) -> SeriesCheckOut:
    """The dry run of booking `req` in `uow` (a read unit of work). Raises InvalidRequest as
    booking would (the first occurrence as a session's booking, the rule, occurrences that
    overlap each other)."""
    prepared = await steps.prepare(uow, req.first_session(), DRY_RUN)
    first = prepared.session
    expansion = expand(req.recurrence, first.start, first.end, first.timezone)
    check_apart(
        expansion.occurrences,
        first.buffer_before_minutes,
        first.buffer_after_minutes,
        first.timezone,
    )
    sessions = [
        first.model_copy(
            update={
                "id": f"{DRY_RUN}-{i}",
                "start": o.start,
                "end": o.end,
                "occurrence": o.original,
            }
        )
        for i, o in enumerate(expansion.occurrences)
    ]
    resources = prepared.resources
    breaches = {s.id: breaches_of(s, prepared.sites, prepared.policy, now) for s in sessions}
    found = await uow.claims.conflicts_over(
        resources, [(r.start, r.end) for r in (s.claimed_range for s in sessions)]
    )
    order = {r: i for i, r in enumerate(resources)}
    found.sort(key=lambda c: (c.start, order.get(c.resource, len(order))))
    conflicts = conflicts_by_session(sessions, {s.id: resources for s in sessions}, found)
    refused, booked = judge(sessions, breaches, conflicts, req)
    zone = ZoneInfo(first.timezone)
    overridden = bool(req.override_reason)
    return SeriesCheckOut(
        recurrence=expansion.rule,
        timezone=first.timezone,
        resources=resources,
        occurrences=[
            OccurrenceCheckOut(
                occurrence=(s.occurrence or s.start).astimezone(zone),
                start=s.start.astimezone(zone),
                end=s.end.astimezone(zone),
                booked=s.id in booked,
                conflicts=[conflict_out(c) for c in conflicts.get(s.id, [])],
                breaches=[
                    BreachOut(rule=b.rule, detail=b.detail, site_id=b.site_id)
                    for b in breaches[s.id]
                ],
                overridden=overridden and bool(breaches[s.id]),
            )
            for s in sessions
        ],
        refused=refused,
        holders=await _holders(uow, found),
        holiday_country=prepared.policy.holiday_country,
    )


def judge(
    sessions: Sequence[Session],
    breaches: dict[str, list[Breach]],
    conflicts: dict[str, list[Conflict]],
    req: BookSeriesRequest,
) -> tuple[str | None, set[str]]:
    """What booking would answer: `"policy"` (422), `"conflict"` (409) or None, and the ids of
    the occurrences it would book."""
    skipping = req.conflict_policy is SeriesConflictPolicy.SKIP_CONFLICTING_OCCURRENCES
    overridden = bool(req.override_reason)
    breaking = {s.id for s in sessions if breaches[s.id] and not overridden}
    if breaking and (not skipping or len(breaking) == len(sessions)):
        return "policy", set()
    candidates = [s for s in sessions if s.id not in breaking]
    in_conflict = {s.id for s in candidates if s.id in conflicts}
    if in_conflict and (not skipping or len(in_conflict) == len(candidates)):
        return "conflict", set()
    return None, {s.id for s in candidates if s.id not in in_conflict}


async def _holders(uow: UnitOfWork, conflicts: Sequence[Conflict]) -> list[HolderOut]:
    """The sessions holding `conflicts`, earliest first, each in its own zone."""
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
