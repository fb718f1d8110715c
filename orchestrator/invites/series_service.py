"""A series' invites as the API and the feeds read them (DESIGN 10): each site's state and
answer, the object a site downloads (the whole current series), the answer for the whole series,
and the series in a site's calendar feed. The `Invites` use case hands series (and the
occurrences of one) to this; mailing them is the `series-invites` composer's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
    SeriesNotFound,
)
from orchestrator.domain.join_keys import GatewayLinks, JoinSubject
from orchestrator.domain.models import Principal, Role, Series, Session, Site
from orchestrator.invites.failures import failure_kind
from orchestrator.invites.ics_series import (
    render_series,
    render_series_cancel,
    series_feed_blocks,
    series_zone_years,
)
from orchestrator.invites.letters import sequence_of
from orchestrator.invites.schemas import InvitesOut, RsvpRequest, SiteInviteOut
from orchestrator.invites.series_letters import SeriesLetters, SeriesState
from orchestrator.store.base import Rsvp, SeriesQuery, Store, UnitOfWork

log = logging.getLogger(__name__)

FEED_PAST = timedelta(days=90)


def may_see_series(principal: Principal, state: SeriesState) -> bool:
    """As for sessions: the office, the series' chair, the coordinators of its sites."""
    if principal.role is Role.OFFICE:
        return True
    if principal.role is Role.CHAIR:
        return state.series.chair.email.lower() == (principal.email or "").lower()
    return principal.role is Role.COORDINATOR and principal.site_id in state.sites()


async def load_series(uow: UnitOfWork, series_id: str) -> SeriesState | None:
    series = await uow.series.get(series_id)
    if series is None:
        return None
    return SeriesState(series, tuple(await uow.series.occurrences(series_id)))


@dataclass(frozen=True)
class SeriesDownload:
    """A site's invite to a series as downloaded, with what names its file."""

    body: bytes
    series: Series
    site: Site


class SeriesInvites:
    """Series' invites: state, downloads, answers, feeds."""

    def __init__(
        self, store: Store, clock: Clock, letters: SeriesLetters, gateway: GatewayLinks
    ) -> None:
        self._store = store
        self._clock = clock
        self._letters = letters
        self._gateway = gateway

    async def _visible(self, series_id: str, principal: Principal) -> SeriesState:
        async with self._store.read() as uow:
            state = await load_series(uow, series_id)
        if state is None or not may_see_series(principal, state):
            raise SeriesNotFound(series_id)
        return state

    async def status(
        self,
        series_id: str,
        principal: Principal,
        *,
        occurrence: Session | None = None,
    ) -> InvitesOut:
        """Each site's invite to the series: its SEQUENCE, queued, sent, failed or skipped, and
        its answer (for an `occurrence`, its own answer when it has one, else the series')."""
        async with self._store.read() as uow:
            state = await load_series(uow, series_id)
            if state is None or (occurrence is None and not may_see_series(principal, state)):
                raise SeriesNotFound(series_id)
            deliveries = await uow.invites.deliveries(series_id)
            answers = await uow.invites.rsvps(series_id)
            if occurrence is not None:
                answers.update(await uow.invites.rsvps(occurrence.id))
            pending = await uow.outbox.pending(series_id)
        series = state.series
        current = sequence_of(series.version)
        over = state.over(self._clock.now())
        sites = state.sites()
        if occurrence is not None:
            sites = [*occurrence.site_ids, *(s for s in sites if s not in occurrence.site_ids)]
        out: list[SiteInviteOut] = []
        for site_id in [*sites, *(d for d in deliveries if d not in sites)]:
            if principal.role is Role.COORDINATOR and site_id != principal.site_id:
                continue
            d = deliveries.get(site_id)
            taking_part = site_id in (
                occurrence.site_ids if occurrence is not None else series.sites
            )
            invited = site_id in series.sites or bool(state.live(site_id))
            method: Literal["REQUEST", "CANCEL"] = (
                "CANCEL" if state.cancelled or not invited else "REQUEST"
            )
            state_: Literal["queued", "sent", "failed", "skipped"] = "queued"
            behind = d is None or (pending > 0 and d.sequence < current)
            if not behind and d is not None and d.state in ("sent", "failed", "skipped"):
                state_ = d.state  # type: ignore[assignment]
            elif over:
                state_ = "skipped"
            skipped = state_ == "skipped"
            r = answers.get(site_id)
            out.append(
                SiteInviteOut(
                    site_id=site_id,
                    in_session=taking_part,
                    method=method,
                    sequence=current if behind or d is None else d.sequence,
                    state=state_,
                    reason="ended" if skipped else None,
                    attempts=d.attempts if d else 0,
                    last_error=d.last_error if d and not skipped else None,
                    error_kind=failure_kind(d.last_error) if d and not skipped else None,
                    sent_at=d.sent_at if d else None,
                    rsvp=r.response if r else "needs-action",
                    rsvp_comment=r.comment if r else "",
                    rsvp_at=r.at if r else None,
                )
            )
        return InvitesOut(
            session_id=occurrence.id if occurrence is not None else series.id,
            series_id=series.id,
            version=series.version,
            pending_changes=pending,
            sites=out,
        )

    async def _site(self, state: SeriesState, site_id: str, principal: Principal) -> Site:
        if principal.role is Role.COORDINATOR and principal.site_id != site_id:
            raise PermissionDenied("a coordinator may only fetch their own site's invite")
        if site_id not in state.sites():
            raise NotFound("site of this series", site_id)
        async with self._store.read() as uow:
            site = (await uow.directory.get_sites([site_id])).get(site_id)
        if site is None:
            raise NotFound("site of this series", site_id)
        return site

    async def ics(self, series_id: str, site_id: str, principal: Principal) -> SeriesDownload:
        """The site's invite as it stands: the whole series (`METHOD:REQUEST`), or its
        `CANCEL` once the series is cancelled or the site left it."""
        state = await self._visible(series_id, principal)
        site = await self._site(state, site_id, principal)
        return SeriesDownload(await self.ics_of(state, site_id, principal), state.series, site)

    async def ics_of(self, state: SeriesState, site_id: str, principal: Principal) -> bytes:
        """The object `ics` answers, of a series already loaded (and seen by `principal`)."""
        site = await self._site(state, site_id, principal)
        series = state.series
        (url,) = (await self._gateway.urls(JoinSubject.SERIES, series.id, [site_id])).values()
        try:
            event = self._letters.event(state, site, url, series.version, self._clock.now())
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="site") from exc
        if state.cancelled or (site_id not in series.sites and not state.live(site_id)):
            return render_series_cancel(event)
        return render_series(event)

    async def rsvp(
        self, series_id: str, site_id: str, req: RsvpRequest, principal: Principal
    ) -> InvitesOut:
        """A coordinator accepts or declines every occurrence of the series for their site."""
        if principal.role is not Role.COORDINATOR or principal.site_id != site_id:
            raise PermissionDenied("only the site's coordinator answers its invite")
        await self.record_rsvp(series_id, site_id, req, principal.actor)
        return await self.status(series_id, principal)

    async def record_rsvp(self, series_id: str, site_id: str, req: RsvpRequest, actor: str) -> bool:
        """Record the site's answer for the whole series; False when there is no such series
        (the caller may look for a session). Raises NotFound for a site the series does not
        invite, InvalidState once the series is cancelled."""
        now = self._clock.now()
        async with self._store.write() as uow:
            state = await load_series(uow, series_id)
            if state is None:
                return False
            if site_id not in state.sites():
                raise NotFound("site of this series", site_id)
            if state.cancelled:
                raise InvalidState(
                    "the series was cancelled: there is nothing to answer",
                    reason="rsvp_cancelled",
                )
            await uow.invites.put_rsvp(
                series_id, Rsvp(site_id, req.response, req.comment, now, actor)
            )
            await uow.audit.record(
                at=now,
                actor=actor,
                action="invite.rsvp",
                target=f"series:{series_id}",
                detail={"site_id": site_id, "response": req.response, "comment": req.comment},
            )
        return True

    async def feed_blocks(
        self, uow: UnitOfWork, site: Site
    ) -> list[tuple[str, int, int, list[bytes]]]:
        """The site's series for its calendar feed: each as its master and overrides (cancelled
        series with STATUS:CANCELLED), those whose last meeting ended within `FEED_PAST`."""
        now = self._clock.now()
        found = await uow.series.find(SeriesQuery(site=site.id, limit=1000))
        out = []
        for series in found:
            state = SeriesState(series, tuple(await uow.series.occurrences(series.id)))
            last = max(state.rule_instances(), default=series.start) + series.duration
            if last < now - FEED_PAST:
                continue
            (url,) = (await self._gateway.urls(JoinSubject.SERIES, series.id, [site.id])).values()
            try:
                event = self._letters.event(state, site, url, series.version, now)
            except ValueError:
                continue
            zone, first, final = series_zone_years(event)
            cancelled = state.cancelled
            out.append((zone, first, final, series_feed_blocks(event, cancelled=cancelled)))
        return out
