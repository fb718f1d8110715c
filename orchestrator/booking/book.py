"""Booking a new session, step by step, inside the caller's unit of work: `prepare` makes the
request a session (directory, buffers, room, policy verdict, claims); `claim` checks the claims,
skips what the conflict policy lets it skip, issues the links and writes the session, its claims,
its outbox row and its audit entry. The booking, its dry run and the regional planner share them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.booking.common import (
    INVITES,
    BookingDefaults,
    breaches_of,
    check_groups,
    check_span,
    check_speakers,
    conflict_out,
    facts_for,
    or_default,
    policies,
    region_of,
    session_resources,
)
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.schemas import BookSessionRequest, SkippedOut
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import BookingConflict, Breach, Conflict
from orchestrator.domain.models import (
    BookingPolicy,
    ConflictPolicy,
    Principal,
    Session,
    SessionKind,
    SiteLike,
    session_site,
    site_resource,
)
from orchestrator.store.base import UnitOfWork

# From this many sites, a booking's links are minted in a worker thread while the database
# writes its claims (see `BookingSteps._claim_while_linking`).
LINKS_BESIDE_CLAIMS = 1000


@dataclass
class Prepared:
    """A booking checked against the directory and judged by the policy, ready to claim."""

    session: Session
    resources: list[str]
    sites: Mapping[str, SiteLike]
    policy: BookingPolicy
    breaches: list[Breach]
    reason: str | None


@dataclass
class SortedConflicts:
    """The conflicts of a booking as its conflict policy sorts them: those that refuse it (a 409
    names them) and, by site, those it would book without (`skip_conflicting`)."""

    refusing: list[Conflict] = field(default_factory=list)
    skipped: dict[str, list[Conflict]] = field(default_factory=dict)

    def skipped_out(self) -> list[SkippedOut]:
        return [
            SkippedOut(site_id=k, conflicts=[conflict_out(c) for c in v])
            for k, v in self.skipped.items()
        ]


def sort_conflicts(
    session: Session, conflicts: Sequence[Conflict], policy: ConflictPolicy
) -> SortedConflicts:
    """All or nothing, every conflict refuses; skipping, only those on the host site, the region,
    the groups or the chair do, and each other site in conflict is left out."""
    if policy is not ConflictPolicy.SKIP_CONFLICTING:
        return SortedConflicts(refusing=list(conflicts))
    out = SortedConflicts()
    for c in conflicts:
        site_id = c.resource.removeprefix("site:") if c.resource.startswith("site:") else None
        if site_id is None or site_id == session.host_site:
            out.refusing.append(c)
        else:
            out.skipped.setdefault(site_id, []).append(c)
    return out


class BookingSteps:
    """The steps of booking a new session (rules 1, 3, 4, 6, 7)."""

    def __init__(self, clock: Clock, links: JoinLinks, defaults: BookingDefaults) -> None:
        self._clock = clock
        self._links = links
        self._defaults = defaults

    async def prepare(self, uow: UnitOfWork, req: BookSessionRequest, session_id: str) -> Prepared:
        """The session `req` asks for, its claims and the policy's verdict; nothing written.

        Raises InvalidRequest (unknown sites, groups, region or provider; too long a span;
        speaking sites that do not take part)."""
        site_ids = list(dict.fromkeys([req.host_site, *req.sites]))
        region = await region_of(uow, req.region) if req.region else None
        if req.kind is SessionKind.REGIONAL and region and not req.sites:
            site_ids = list(
                dict.fromkeys(
                    [req.host_site, *(s.id for s in await uow.directory.list_sites(region.id))]
                )
            )
        sites = await facts_for(uow, site_ids, "sites")
        await check_groups(uow, req.leader_groups)
        provider = self._links.provider(req.provider)
        now = self._clock.now()
        defaults = self._defaults
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
            # the request's ids (validated slugs) the directory knows
            sites=tuple(session_site(site_id=i, join_url=None) for i in site_ids),
            leader_groups=tuple(dict.fromkeys(req.leader_groups)),
            speaking_sites=tuple(dict.fromkeys(req.speaking_sites)),
            provider=req.provider,
            buffer_before_minutes=or_default(
                req.buffer_before_minutes, defaults.buffer_before_minutes
            ),
            buffer_after_minutes=or_default(
                req.buffer_after_minutes, defaults.buffer_after_minutes
            ),
            room=provider.room_name(req.title, secrets.token_hex(8)),
            created_at=now,
            updated_at=now,
        )
        check_span(session)
        check_speakers(session)
        policy = (await policies(uow))[req.kind]
        breaches = breaches_of(session, sites, policy, now)
        resources = session_resources(session)
        return Prepared(session, resources, sites, policy, breaches, req.override_reason)

    async def claim(
        self,
        uow: UnitOfWork,
        prepared: Prepared,
        policy: ConflictPolicy,
        principal: Principal,
    ) -> list[SkippedOut]:
        """Check, skip what may be skipped, claim and store; raises BookingConflict."""
        session = prepared.session
        claimed = session.claimed_range
        await uow.claims.lock(prepared.resources)
        conflicts = await uow.claims.conflicts(prepared.resources, claimed.start, claimed.end)
        skipped: list[SkippedOut] = []
        if conflicts:
            verdict = sort_conflicts(session, conflicts, policy)
            if verdict.refusing:
                raise BookingConflict(verdict.refusing)
            skipped = verdict.skipped_out()
            session = session.model_copy(
                update={
                    "sites": tuple(s for s in session.sites if s.site_id not in verdict.skipped)
                }
            )
            drop = {site_resource(k) for k in verdict.skipped}
            prepared.resources = [r for r in prepared.resources if r not in drop]
        if len(session.sites) < LINKS_BESIDE_CLAIMS:
            session = self._links.issue(session, prepared.sites)
            await uow.sessions.add(session)
            await uow.claims.add(session.id, prepared.resources, claimed.start, claimed.end)
        else:
            session = await self._claim_while_linking(uow, session, prepared)
        prepared.session = session
        await uow.outbox.add(
            INVITES, session.id, session.version, {"change": "booked"}, self._clock.now()
        )
        await uow.audit.record(
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
        return skipped

    async def _claim_while_linking(
        self, uow: UnitOfWork, session: Session, prepared: Prepared
    ) -> Session:
        """Store a large session: its row, then its claims while a worker thread mints its
        links (the database checks and writes thousands of claims, which takes as long as
        minting as many links or longer), then its linked sites. Returns the linked session.

        Raises what `JoinLinks.issue` raises (first, as if it had run first) and ClaimOverlap."""
        self._links.check_capacity(session)  # its refusal comes before anything is written
        claimed = session.claimed_range
        await uow.sessions.add(session.model_copy(update={"sites": ()}))
        # Both are awaited to their end: the unit's connection is free again whatever failed.
        linked, stored = await asyncio.gather(
            asyncio.to_thread(self._links.issue, session, prepared.sites),
            uow.claims.add(session.id, prepared.resources, claimed.start, claimed.end),
            return_exceptions=True,
        )
        if isinstance(linked, BaseException):
            raise linked
        if isinstance(stored, BaseException):
            raise stored
        await uow.sessions.add_sites(linked)
        return linked
