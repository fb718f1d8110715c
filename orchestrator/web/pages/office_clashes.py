"""Clashes on the office's timeline: two sessions, neither cancelled, holding the same claim (a
site, a region, a leader group, a chair) over overlapping buffered ranges (DESIGN rule 1).

Booking, changes and the database all refuse such a pair, so a clash only shows rows written
around them (by hand, or restored from elsewhere); sessions that merely run at the same time in
one lane share nothing and are not clashes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from orchestrator.booking.schemas import SessionOut
from orchestrator.domain.models import SessionStatus, resources_for


@dataclass(frozen=True)
class Clash:
    """`other` holds `resource` too, over a range overlapping this session's."""

    resource: str
    other: SessionOut


def claims_of(s: SessionOut) -> list[str]:
    """The session's claims as booking writes them (its sites, region, leader groups, chair)."""
    return resources_for(
        sites=[x.site_id for x in s.sites],
        region=s.region,
        leader_groups=s.leader_groups,
        chair_email=s.chair.email,
    )


def find_clashes(sessions: Iterable[SessionOut]) -> dict[str, list[Clash]]:
    """Every clash among `sessions`, by session id (both sides of each), cancelled ones left
    out; each session's list in the order of the other session's start."""
    held: dict[str, list[tuple[datetime, datetime, SessionOut]]] = {}
    for s in sessions:
        if s.status is SessionStatus.CANCELLED:
            continue
        for resource in claims_of(s):
            held.setdefault(resource, []).append((s.claimed.start, s.claimed.end, s))
    found: dict[str, list[Clash]] = {}
    for resource, ranges in held.items():
        if len(ranges) < 2:
            continue
        ranges.sort(key=lambda r: (r[0], r[1], r[2].id))
        for i, (_, end, s) in enumerate(ranges):
            for other_start, _, other in ranges[i + 1 :]:
                if other_start >= end:
                    break
                if other.id == s.id:
                    continue
                found.setdefault(s.id, []).append(Clash(resource, other))
                found.setdefault(other.id, []).append(Clash(resource, s))
    for clashes in found.values():
        clashes.sort(key=lambda c: (c.other.start, c.other.id, c.resource))
    return found
