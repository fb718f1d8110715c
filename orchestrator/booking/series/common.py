"""What the series use cases share: the answer, who may see a series, and the outbox row that
tells the invites what changed (DESIGN 10)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from orchestrator.booking.schemas import ConflictOut
from orchestrator.booking.series.schemas import (
    OccurrenceOut,
    SeriesOut,
    SeriesSiteOut,
    SkippedOccurrenceOut,
)
from orchestrator.domain.join_keys import JoinSubject
from orchestrator.domain.models import (
    Principal,
    Role,
    Series,
    SeriesStatus,
    Session,
    SessionStatus,
    SiteLike,
)
from orchestrator.domain.outbox import OutboxKind
from orchestrator.store.base import UnitOfWork

Message = Literal["series", "occurrence", "cancel-occurrence", "cancel-series"]


async def queue_invites(
    uow: UnitOfWork,
    series_id: str,
    version: int,
    message: Message,
    at: datetime,
    *,
    occurrence: datetime | None = None,
    site_ids: Sequence[str] | None = None,
    zone: str = "UTC",
) -> None:
    """One outbox row for the series' invites, in the change's own unit of work: `message` says
    what changed (see `OutboxKind.SERIES_INVITES`), `version` is the series' after the change."""
    await uow.outbox.add(
        OutboxKind.SERIES_INVITES.value,
        series_id,
        version,
        {
            "series_id": series_id,
            "message": message,
            "occurrence": occurrence.astimezone(ZoneInfo(zone)).isoformat() if occurrence else None,
            "site_ids": list(site_ids) if site_ids is not None else None,
        },
        at,
    )


class GatewayUrls(Protocol):
    """Where a series' answer gets each site's join gateway link (`booking.gateway`)."""

    async def urls(
        self, subject: JoinSubject, subject_id: str, site_ids: Sequence[str]
    ) -> dict[str, str]:
        """Each site's current gateway link, by site id. May raise the store's errors."""
        ...


async def with_gateway_links(
    out: SeriesOut, principal: Principal, gateway: GatewayUrls | None
) -> SeriesOut:
    """`out` with each site's gateway link as the caller may see it: each link is the site's
    identity (rule 7), so the office sees them all, a coordinator their site's, a chair the
    host's."""
    if gateway is None:
        return out
    if principal.role is Role.OFFICE:
        shown = [s.site_id for s in out.sites]
    else:
        mine = principal.site_id if principal.role is Role.COORDINATOR else out.host_site
        shown = [s.site_id for s in out.sites if s.site_id == mine]
    urls = await gateway.urls(JoinSubject.SERIES, out.id, shown) if shown else {}
    sites = [s.model_copy(update={"join_gateway_url": urls.get(s.site_id)}) for s in out.sites]
    return out.model_copy(update={"sites": sites})


def may_see_series(principal: Principal, series: Series) -> bool:
    """As for sessions: the office, the series' chair, the coordinators of its sites."""
    if principal.role is Role.OFFICE:
        return True
    if principal.role is Role.CHAIR:
        return series.chair.email.lower() == (principal.email or "").lower()
    return principal.role is Role.COORDINATOR and principal.site_id in series.sites


def status_of(series: Series, occurrences: Sequence[Session], now: datetime) -> SeriesStatus:
    if series.status is SeriesStatus.CANCELLED:
        return SeriesStatus.CANCELLED
    live = [o for o in occurrences if o.status is not SessionStatus.CANCELLED]
    if live and all(o.end <= now for o in live):
        return SeriesStatus.ENDED
    return SeriesStatus.ACTIVE


def series_out(
    series: Series,
    occurrences: Sequence[Session],
    sites: Mapping[str, SiteLike],
    now: datetime,
) -> SeriesOut:
    """The answer for `series` and its occurrence sessions, times in the series' zone."""
    zone = ZoneInfo(series.timezone)
    return SeriesOut(
        id=series.id,
        title=series.title,
        agenda=series.agenda,
        kind=series.kind,
        region=series.region,
        recurrence=series.recurrence,
        timezone=series.timezone,
        start=series.start.astimezone(zone),
        end=series.end.astimezone(zone),
        host_site=series.host_site,
        chair=series.chair,
        leader_groups=list(series.leader_groups),
        speaking_sites=list(series.speaking_sites),
        provider=series.provider,
        buffer_before_minutes=series.buffer_before_minutes,
        buffer_after_minutes=series.buffer_after_minutes,
        status=status_of(series, occurrences, now),
        sites=[
            SeriesSiteOut(site_id=s, name=sites[s].name if s in sites else None)
            for s in series.sites
        ],
        occurrences=[
            OccurrenceOut(
                session_id=o.id,
                occurrence=(o.occurrence or o.start).astimezone(zone),
                start=o.start.astimezone(zone),
                end=o.end.astimezone(zone),
                status=o.status_at(now),
                changed=list(o.exception_fields),
            )
            for o in occurrences
        ],
        skipped=[
            SkippedOccurrenceOut(
                occurrence=k.occurrence.astimezone(zone),
                conflicts=[
                    ConflictOut(
                        resource=c.resource, session_id=c.session_id, start=c.start, end=c.end
                    )
                    for c in k.conflicts
                ],
                rule=k.rule,
                detail=k.detail or None,
            )
            for k in series.skipped
        ],
        version=series.version,
        created_at=series.created_at,
        updated_at=series.updated_at,
    )
