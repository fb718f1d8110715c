"""A series put straight into the store (its occurrences as sessions naming it, each site's link
issued by the provider), for the tests of what reads series (invites, the join gateway) without
going through the booking; and the occurrences' expected instants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.booking.links import JoinLinks
from orchestrator.bootstrap import Container
from orchestrator.domain.models import (
    Chair,
    Series,
    Session,
    SessionKind,
    SessionSite,
    SessionStatus,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# Thursdays at 08:00 in Hà Nội from 10 December 2026 (the tests' clock is 23 November 2026).
FIRST = datetime(2026, 12, 10, 8, 0, tzinfo=HANOI)
LENGTH = timedelta(hours=2)
SITES = ("ha-noi", "da-nang", "can-tho")
CHAIR = Chair(name="Chánh Văn phòng", email="chair@moet.example.org")


async def store_series(
    c: Container,
    *,
    count: int = 4,
    first: datetime = FIRST,
    zone: str = "Asia/Ho_Chi_Minh",
    sites: Sequence[str] = SITES,
    provider: str = "static",
    buffer_before: int = 30,
    title: str = "Giao ban hằng tuần",
) -> tuple[Series, list[Session]]:
    """A weekly series of `count` occurrences, stored with its sessions (no claims)."""
    now = c.clock.now()
    series = Series(
        id=str(uuid.uuid4()),
        title=title,
        kind=SessionKind.NATIONAL,
        recurrence=f"FREQ=WEEKLY;COUNT={count}",
        timezone=zone,
        start=first,
        end=first + LENGTH,
        host_site=sites[0],
        chair=CHAIR,
        sites=tuple(sites),
        provider=provider,
        buffer_before_minutes=buffer_before,
        created_at=now,
        updated_at=now,
    )
    provided = c.providers[provider]
    links = JoinLinks(c.providers, c.settings.booking.link_grace_minutes)
    async with c.store.read() as uow:
        directory = await uow.directory.get_sites(list(sites))
    occurrences = []
    for n in range(count):
        start = (first + timedelta(weeks=n)).astimezone(UTC)
        session = Session(
            id=str(uuid.uuid4()),
            title=title,
            kind=SessionKind.NATIONAL,
            start=start,
            end=start + LENGTH,
            timezone=zone,
            host_site=sites[0],
            chair=CHAIR,
            sites=tuple(SessionSite(site_id=s) for s in sites),
            provider=provider,
            buffer_before_minutes=buffer_before,
            room=provided.room_name(title, f"{series.id}-{n}"),
            created_at=now,
            updated_at=now,
            series_id=series.id,
            occurrence=start,
        )
        occurrences.append(links.issue(session, directory))
    async with c.store.write() as uow:
        await uow.series.add(series)
        await uow.sessions.add_many(occurrences)
    return series, occurrences


async def change_occurrence(c: Container, session: Session, **changes: object) -> Session:
    """Store `session` with `changes` (a move, a cancel, sites removed), its links re-issued."""
    changed = session.model_copy(update={**changes, "version": session.version + 1})
    links = JoinLinks(c.providers, c.settings.booking.link_grace_minutes)
    async with c.store.read() as uow:
        directory = await uow.directory.get_sites(list(changed.site_ids))
    if changed.status is not SessionStatus.CANCELLED:
        changed = links.issue(changed, directory)
    removed = [s for s in session.site_ids if s not in changed.site_ids]
    async with c.store.write() as uow:
        await uow.sessions.update(changed, removed_sites=removed)
    return changed
