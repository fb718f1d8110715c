"""Booking a series in one unit of work: the first occurrence prepared as a single session's
booking (directory, provider, room, buffers, span, speakers), the rule expanded, every
occurrence judged by the policy and checked for conflicts, and every one kept written with its
claims, which the database refuses to overlap exactly as any session's (rule 2)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from orchestrator.booking.book import BookingSteps, Prepared
from orchestrator.booking.common import breaches_of
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.series.common import queue_invites, series_out
from orchestrator.booking.series.recurrence import check_apart, expand
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    SeriesConflictPolicy,
    SeriesOut,
)
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    Conflict,
    OccurrenceBreach,
    OccurrenceConflict,
    SeriesConflict,
    SeriesPolicyViolation,
)
from orchestrator.domain.models import (
    Claim,
    Principal,
    Series,
    Session,
    SkippedOccurrence,
)
from orchestrator.store.base import UnitOfWork


@dataclass
class Plan:
    """A series checked and judged, nothing written yet: the occurrences to book (`sessions`),
    the series with those left out, and the breaches `override_reason` overrides."""

    series: Series
    prepared: Prepared
    sessions: list[Session]
    overridden: list[OccurrenceBreach] = field(default_factory=list)


def conflicts_by_session(
    sessions: Sequence[Session], resources: Mapping[str, Sequence[str]], found: Sequence[Conflict]
) -> dict[str, list[Conflict]]:
    """Which of `found` stand in each session's way: on one of its resources, over its range."""
    out: dict[str, list[Conflict]] = {}
    for s in sessions:
        claimed = s.claimed_range
        mine = set(resources[s.id])
        hit = [
            c
            for c in found
            if c.resource in mine and c.start < claimed.end and claimed.start < c.end
        ]
        if hit:
            out[s.id] = hit
    return out


def claim_of(c: Conflict) -> Claim:
    return Claim(resource=c.resource, session_id=c.session_id, start=c.start, end=c.end)


class SeriesSteps:
    """The steps of booking a series (rules 1-7 for every occurrence)."""

    def __init__(self, clock: Clock, links: JoinLinks, steps: BookingSteps) -> None:
        self._clock = clock
        self._links = links
        self._steps = steps

    async def plan(self, uow: UnitOfWork, req: BookSeriesRequest, *, lock: bool) -> Plan:
        """Prepare, expand and judge the series `req` asks for; with `lock`, hold its resources
        before looking for conflicts (the booking; a dry run only reads). Nothing is written.

        Raises InvalidRequest (as a session's booking would, and for the rule),
        SeriesPolicyViolation and SeriesConflict (all or nothing, or nothing left to book)."""
        prepared = await self._steps.prepare(uow, req.first_session(), str(uuid.uuid4()))
        first = prepared.session
        expansion = expand(req.recurrence, first.start, first.end, first.timezone)
        check_apart(
            expansion.occurrences,
            first.buffer_before_minutes,
            first.buffer_after_minutes,
            first.timezone,
        )
        provider = self._links.provider(first.provider)
        series_id = str(uuid.uuid4())
        sessions = [
            first.model_copy(
                update={
                    "id": first.id if i == 0 else str(uuid.uuid4()),
                    "start": o.start,
                    "end": o.end,
                    "room": first.room
                    if i == 0
                    else provider.room_name(first.title, secrets.token_hex(8)),
                    "series_id": series_id,
                    "occurrence": o.original,
                }
            )
            for i, o in enumerate(expansion.occurrences)
        ]
        now = self._clock.now()
        zone = ZoneInfo(first.timezone)
        skipping = req.conflict_policy is SeriesConflictPolicy.SKIP_CONFLICTING_OCCURRENCES
        skipped: dict[str, SkippedOccurrence] = {}
        broken: list[OccurrenceBreach] = []
        for s in sessions:
            found = breaches_of(s, prepared.sites, prepared.policy, now)
            broken.extend(OccurrenceBreach(s.start.astimezone(zone), b) for b in found)
            if found and skipping and not req.override_reason:
                skipped[s.id] = SkippedOccurrence(
                    occurrence=s.start, rule=found[0].rule, detail=found[0].detail
                )
        if broken and not req.override_reason and (not skipping or len(skipped) == len(sessions)):
            raise SeriesPolicyViolation(broken)
        resources = prepared.resources
        if lock:
            await uow.claims.lock(resources)
        candidates = [s for s in sessions if s.id not in skipped]
        ranges = [(r.start, r.end) for r in (s.claimed_range for s in candidates)]
        found_all = await uow.claims.conflicts_over(resources, ranges)
        by_session = conflicts_by_session(
            candidates, {s.id: resources for s in candidates}, found_all
        )
        conflicts = [
            OccurrenceConflict((s.occurrence or s.start).astimezone(zone), c)
            for s in candidates
            for c in by_session.get(s.id, [])
        ]
        if conflicts and (not skipping or len(by_session) == len(candidates)):
            raise SeriesConflict(conflicts)
        for s in candidates:
            if s.id in by_session:
                skipped[s.id] = SkippedOccurrence(
                    occurrence=s.start, conflicts=tuple(claim_of(c) for c in by_session[s.id])
                )
        kept = [s for s in sessions if s.id not in skipped]
        series = Series(
            id=series_id,
            title=first.title,
            agenda=first.agenda,
            kind=first.kind,
            region=first.region,
            recurrence=expansion.rule,
            timezone=first.timezone,
            start=first.start,
            end=first.end,
            host_site=first.host_site,
            chair=first.chair,
            sites=first.site_ids,
            leader_groups=first.leader_groups,
            speaking_sites=first.speaking_sites,
            provider=first.provider,
            buffer_before_minutes=first.buffer_before_minutes,
            buffer_after_minutes=first.buffer_after_minutes,
            skipped=tuple(skipped[s.id] for s in sessions if s.id in skipped),
            created_at=now,
            updated_at=now,
        )
        kept_ids = {s.id for s in kept}
        overridden = [
            b
            for b, s in zip(broken, _owners(broken, sessions, zone), strict=True)
            if s in kept_ids and req.override_reason
        ]
        return Plan(series, prepared, kept, overridden)

    async def write(
        self, uow: UnitOfWork, plan: Plan, principal: Principal, reason: str | None
    ) -> SeriesOut:
        """Issue every kept occurrence's links and write the series, its sessions, their claims
        (refused by the database on overlap: `ClaimOverlap`), the outbox row and the audit."""
        now = self._clock.now()
        series, prepared = plan.series, plan.prepared
        sessions = [self._links.issue(s, prepared.sites) for s in plan.sessions]
        await uow.series.add(series)
        await uow.sessions.add_many(sessions)
        await uow.claims.add_many(
            [
                (s.id, prepared.resources, r.start, r.end)
                for s, r in ((s, s.claimed_range) for s in sessions)
            ]
        )
        await queue_invites(uow, series.id, series.version, "series", now)
        rules = list(dict.fromkeys(b.breach.rule for b in plan.overridden))
        await uow.audit.record(
            at=now,
            actor=principal.actor,
            action="series.book",
            target=f"series:{series.id}",
            reason=reason,
            detail={
                "title": series.title,
                "recurrence": series.recurrence,
                "start": series.start.isoformat(),
                "occurrences": len(sessions),
                "sites": len(series.sites),
                "skipped": [k.occurrence.isoformat() for k in series.skipped],
                "policy_overridden": [b.as_json() for b in plan.overridden],
            },
        )
        out = series_out(series, sessions, prepared.sites, now)
        return out.model_copy(update={"policy_overridden": rules})


def _owners(
    breaches: Sequence[OccurrenceBreach], sessions: Sequence[Session], zone: ZoneInfo
) -> list[str]:
    """The id of the occurrence each breach belongs to."""
    by_start = {s.start.astimezone(zone): s.id for s in sessions}
    return [by_start[b.occurrence] for b in breaches]
