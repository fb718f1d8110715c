"""What the booking use cases share: their defaults, who may book, the directory look-ups, the
checks every session passes, and retrying a unit of work the database asked to run again."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from orchestrator.booking.schemas import ConflictOut
from orchestrator.domain.errors import (
    Breach,
    Conflict,
    InvalidRequest,
    PolicyViolation,
)
from orchestrator.domain.models import (
    DEFAULT_POLICIES,
    MAX_CLAIM_SPAN,
    BookingPolicy,
    Principal,
    Region,
    Session,
    SessionKind,
    Site,
    SiteFacts,
    SiteLike,
    resources_for,
)
from orchestrator.domain.models import require_office as require_office  # the booking modules' too
from orchestrator.domain.policy import check_policy
from orchestrator.store.base import RetryableStoreError, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 4
INVITES = "invites"  # the outbox kind of a session change whose invites must go out


@dataclass(frozen=True)
class BookingDefaults:
    buffer_before_minutes: int = 30
    buffer_after_minutes: int = 15
    slot_step_minutes: int = 30
    link_grace_minutes: int = 15


async def retrying(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` again when the store says a retry may succeed (a deadlock, a busy database),
    at most `RETRIES` times in all."""
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


# the directory, as the use cases read it ---------------------------------------------------


async def policies(uow: UnitOfWork) -> dict[SessionKind, BookingPolicy]:
    return {**DEFAULT_POLICIES, **await uow.directory.get_policies()}


async def sites_for(uow: UnitOfWork, ids: Sequence[str], field: str) -> dict[str, Site]:
    """The sites named by `ids`. Raises InvalidRequest (on `field`) naming the unknown ones."""
    found = await uow.directory.get_sites(ids)
    _refuse_unknown([i for i in ids if i not in found], field)
    return found


async def facts_for(uow: UnitOfWork, ids: Sequence[str], field: str) -> dict[str, SiteFacts]:
    """What a new session needs of the sites named by `ids` (see `SiteFacts`). Raises
    InvalidRequest (on `field`) naming the unknown ones, as `sites_for` does."""
    found = await uow.directory.site_facts(ids)
    if len(found) < len(ids):
        _refuse_unknown([i for i in ids if i not in found], field)
    return found


def _refuse_unknown(missing: Sequence[str], field: str) -> None:
    if missing:
        raise InvalidRequest(
            f"unknown site(s): {', '.join(missing)}",
            field=field,
            reason="unknown_sites",
            values={"ids": ", ".join(missing)},
        )


async def check_groups(uow: UnitOfWork, ids: Sequence[str]) -> None:
    known = {g.id for g in await uow.directory.list_groups()}
    missing = [g for g in ids if g not in known]
    if missing:
        raise InvalidRequest(
            f"unknown leader group(s): {', '.join(missing)}",
            field="leader_groups",
            reason="unknown_groups",
            values={"ids": ", ".join(missing)},
        )


async def region_of(uow: UnitOfWork, region_id: str) -> Region:
    for region in await uow.directory.list_regions():
        if region.id == region_id:
            return region
    raise InvalidRequest(
        f"unknown region: {region_id}",
        field="region",
        reason="unknown_regions",
        values={"ids": region_id},
    )


async def sites_of(uow: UnitOfWork, sessions: Sequence[Session]) -> dict[str, Site]:
    """Every site taking part in `sessions`, for their answers."""
    ids = list(dict.fromkeys(s.site_id for session in sessions for s in session.sites))
    return await uow.directory.get_sites(ids)


# what every session must satisfy -------------------------------------------------------------


def breaches_of(
    session: Session, sites: Mapping[str, SiteLike], policy: BookingPolicy, now: datetime
) -> list[Breach]:
    """Every rule of `policy` the session breaks, judged in each of its sites' zones and said
    in the session's."""
    return check_policy(
        start=session.start,
        end=session.end,
        now=now,
        zones=((s.site_id, sites[s.site_id].timezone) for s in session.sites),
        policy=policy,
        shown_in=session.timezone,
    )


def enforce(breaches: Sequence[Breach], reason: str | None, principal: Principal) -> None:
    """A breach refuses the booking unless the office gives a reason (rule 4).

    Raises PolicyViolation, PermissionDenied."""
    if breaches and not reason:
        raise PolicyViolation(list(breaches))
    if breaches:
        require_office(principal)


def check_speakers(session: Session) -> None:
    strangers = [s for s in session.speaking_sites if s not in session.site_ids]
    if strangers:
        raise InvalidRequest(
            f"speaking sites must take part in the session: {', '.join(strangers)}",
            field="speaking_sites",
            reason="speakers_outside",
            values={"ids": ", ".join(strangers)},
        )


def check_span(session: Session) -> None:
    claimed = session.claimed_range
    if claimed.end - claimed.start > MAX_CLAIM_SPAN:
        raise InvalidRequest(
            f"a session with its buffers may span at most {MAX_CLAIM_SPAN.days} days; "
            "book a long event as one session per day",
            field="end",
            reason="span_too_long",
            values={"days": MAX_CLAIM_SPAN.days},
        )


def session_resources(session: Session) -> list[str]:
    """Every claim the session holds (rule 1), in a stable order."""
    return resources_for(
        sites=session.site_ids,
        region=session.region,
        leader_groups=session.leader_groups,
        chair_email=session.chair.email,
    )


def or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def conflict_out(c: Conflict) -> ConflictOut:
    return ConflictOut(resource=c.resource, session_id=c.session_id, start=c.start, end=c.end)
