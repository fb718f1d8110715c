"""Invite use cases: each site's invite state, downloads, RSVPs (the API and the signed links)
and calendar feeds. Delivering the invites, like every mail of the outbox, is the dispatcher's
(`invites.dispatch`, with the composers of `invites.composers`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Literal

from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    AuthenticationRequired,
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
    SessionNotFound,
)
from orchestrator.domain.join_keys import GatewayLinks, JoinSubject
from orchestrator.domain.models import (
    Principal,
    Role,
    Session,
    SessionStatus,
    Site,
    may_see,
)
from orchestrator.invites.composers.invites import gateway_links
from orchestrator.invites.dispatch import OutboxDispatcher
from orchestrator.invites.failures import failure_kind
from orchestrator.invites.ics import render_calendar, render_feed
from orchestrator.invites.letters import (
    InviteLetters,
    Target,
    rsvp_signature,
    sequence_of,
)
from orchestrator.invites.links import MailLinks
from orchestrator.invites.schemas import InvitesOut, RsvpRequest, SiteInviteOut
from orchestrator.invites.series_letters import SeriesLetters, SeriesState
from orchestrator.invites.series_service import SeriesDownload, SeriesInvites, load_series
from orchestrator.store.base import Rsvp, SessionQuery, Store, UnitOfWork

log = logging.getLogger(__name__)

FEED_PAST = timedelta(days=90)


class Invites:
    """Per-site invites: their state, downloads, RSVPs and calendar feeds; `deliver_due` runs the
    outbox's delivery (every kind of mail), for `invites send` and the tests."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        letters: InviteLetters,
        links: MailLinks,
        outbox: OutboxDispatcher,
        gateway: GatewayLinks,
        series: SeriesLetters | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._letters = letters
        self._links = links
        self._outbox = outbox
        self._gateway = gateway
        self._series_letters = series or SeriesLetters(letters.settings)
        self._series = SeriesInvites(store, clock, self._series_letters, gateway)

    async def deliver_due(self, limit: int = 10) -> int:
        """Deliver up to `limit` due outbox items (`OutboxDispatcher.deliver_due`); the number
        of items handled."""
        return await self._outbox.deliver_due(limit)

    # reading ---------------------------------------------------------------------------
    async def _session(self, uow: UnitOfWork, session_id: str, principal: Principal) -> Session:
        session = await uow.sessions.get(session_id)
        if session is not None and may_see(principal, session):
            return session
        raise SessionNotFound(session_id)

    async def status(self, session_id: str, principal: Principal) -> InvitesOut:
        """Each site's invite: queued, sent, failed (with the reason) or skipped (a session
        already over invites nobody), and its RSVP. An occurrence of a series answers its
        series' invites (it has none of its own), with its own answers where it has them."""
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
        if session.series_id is not None:
            return await self._series.status(session.series_id, principal, occurrence=session)
        async with self._store.read() as uow:
            deliveries = await uow.invites.deliveries(session_id)
            rsvps = await uow.invites.rsvps(session_id)
            pending = await uow.outbox.pending(session_id)
        rotations = (await gateway_links(self._gateway, session)).rotations
        method = "CANCEL" if session.status is SessionStatus.CANCELLED else "REQUEST"
        ended = self._clock.now() >= session.end
        out: list[SiteInviteOut] = []
        current = set(session.site_ids)
        for site_id in [*session.site_ids, *(d for d in deliveries if d not in current)]:
            if principal.role is Role.COORDINATOR and site_id != principal.site_id:
                continue
            d = deliveries.get(site_id)
            in_session = site_id in current
            current_seq = sequence_of(session.version) + rotations.get(site_id, 0)
            wanted = current_seq if in_session else (d.sequence if d else current_seq)
            state: Literal["queued", "sent", "failed", "skipped"] = "queued"
            settled = d is not None and d.sequence >= wanted
            if d is not None and settled and d.state in ("sent", "failed"):
                state = "sent" if d.state == "sent" else "failed"
            elif ended or (d is not None and settled and d.state == "skipped"):
                state = "skipped"  # the session is over: this invite will never be sent
            skipped = state == "skipped"
            r = rsvps.get(site_id)
            out.append(
                SiteInviteOut(
                    site_id=site_id,
                    in_session=in_session,
                    method=method if in_session else "CANCEL",
                    sequence=wanted,
                    state=state,
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
            session_id=session.id, version=session.version, pending_changes=pending, sites=out
        )

    async def _site_target(
        self, session_id: str, site_id: str, principal: Principal
    ) -> tuple[Session, Target]:
        if principal.role is Role.COORDINATOR and principal.site_id != site_id:
            raise PermissionDenied("a coordinator may only fetch their own site's invite")
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
            sites = await uow.directory.get_sites([site_id])
        if site_id not in session.site_ids or site_id not in sites:
            raise NotFound("site of this session", site_id)
        gateway = await gateway_links(self._gateway, session)
        targets = self._letters.targets(
            session, sites, (), session.version, gateway.urls, gateway.rotations
        )
        return session, next(t for t in targets if t.site.id == site_id)

    async def invite_ics(self, session_id: str, site_id: str, principal: Principal) -> bytes:
        """The site's current invite as an .ics (REQUEST, or CANCEL once cancelled); for an
        occurrence of a series, the series' (DESIGN 10)."""
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
            state = await load_series(uow, session.series_id) if session.series_id else None
        if state is not None:
            if site_id not in session.site_ids:
                raise NotFound("site of this session", site_id)
            return await self._series.ics_of(state, site_id, principal)
        session, target = await self._site_target(session_id, site_id, principal)
        try:
            return render_calendar(self._letters.event(session, target))
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="site") from exc

    async def export(self, session_id: str, principal: Principal) -> dict[str, tuple[bytes, bytes]]:
        """Every site's (.ics, .eml) of the session's current state, by site id (an occurrence
        of a series: every site's invite to the series)."""
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
            sites = await uow.directory.get_sites(list(session.site_ids))
            state = await load_series(uow, session.series_id) if session.series_id else None
        key = await self._links.load()
        if state is not None:
            return await self._export_series(state, sites, key)
        gateway = await gateway_links(self._gateway, session)
        out: dict[str, tuple[bytes, bytes]] = {}
        for target in self._letters.targets(
            session, sites, (), session.version, gateway.urls, gateway.rotations
        ):
            try:
                ics, message = self._letters.email(session, target, key, self._links.page)
            except ValueError as exc:
                log.warning("no invite for site %s: %s", target.site.id, exc)
                continue
            out[target.site.id] = (ics, message.as_bytes())
        return out

    async def _export_series(
        self, state: SeriesState, sites: dict[str, Site], key: bytes
    ) -> dict[str, tuple[bytes, bytes]]:
        series = state.series
        now = self._clock.now()
        letters = self._series_letters
        urls = await self._gateway.urls(JoinSubject.SERIES, series.id, list(sites))
        out: dict[str, tuple[bytes, bytes]] = {}
        for site in sites.values():
            try:
                event = letters.event(state, site, urls[site.id], series.version, now)
                composed, mail = letters.email(
                    state, event, "series", None, now, key, self._links.page, site
                )
            except ValueError as exc:
                log.warning("no invite for site %s: %s", site.id, exc)
                continue
            out[site.id] = (composed.ics, mail.as_bytes())
        return out

    # series ----------------------------------------------------------------------------
    async def series_status(self, series_id: str, principal: Principal) -> InvitesOut:
        """Each site's invite to the series, and its answer for the whole series."""
        return await self._series.status(series_id, principal)

    async def series_ics(
        self, series_id: str, site_id: str, principal: Principal
    ) -> SeriesDownload:
        """The site's invite to the series as it stands (the whole object; its CANCEL once
        the series is cancelled)."""
        return await self._series.ics(series_id, site_id, principal)

    async def series_rsvp(
        self, series_id: str, site_id: str, req: RsvpRequest, principal: Principal
    ) -> InvitesOut:
        """A coordinator accepts or declines the whole series for their site."""
        return await self._series.rsvp(series_id, site_id, req, principal)

    # RSVP ------------------------------------------------------------------------------
    async def rsvp(
        self, session_id: str, site_id: str, req: RsvpRequest, principal: Principal
    ) -> InvitesOut:
        """A coordinator accepts or declines for their site."""
        if principal.role is not Role.COORDINATOR or principal.site_id != site_id:
            raise PermissionDenied("only the site's coordinator answers its invite")
        await self._record_rsvp(session_id, site_id, req, principal.actor)
        return await self.status(session_id, principal)

    async def rsvp_by_link(
        self, session_id: str, site_id: str, response: str, signature: str
    ) -> None:
        """The one-click answer from the email's signed link (a session's, or a series' for
        the whole series). Raises AuthenticationRequired."""
        if response not in ("accepted", "declined"):
            raise NotFound("answer", response)
        key = await self._links.load()
        expected = rsvp_signature(key, session_id, site_id, response)
        if not hmac.compare_digest(expected, signature or ""):
            raise AuthenticationRequired("this answer link is not valid")
        answer = RsvpRequest.model_validate({"response": response})
        if await self._series.record_rsvp(session_id, site_id, answer, f"link:{site_id}"):
            return
        await self._record_rsvp(session_id, site_id, answer, f"link:{site_id}")

    async def _record_rsvp(
        self, session_id: str, site_id: str, req: RsvpRequest, actor: str
    ) -> None:
        now = self._clock.now()
        async with self._store.write() as uow:
            session = await uow.sessions.get(session_id)
            if session is None or site_id not in session.site_ids:
                raise SessionNotFound(session_id)
            if session.status is SessionStatus.CANCELLED:
                raise InvalidState(
                    "the session was cancelled: there is nothing to answer", reason="rsvp_cancelled"
                )
            await uow.invites.put_rsvp(
                session_id, Rsvp(site_id, req.response, req.comment, now, actor)
            )
            await uow.audit.record(
                at=now,
                actor=actor,
                action="invite.rsvp",
                target=f"session:{session_id}",
                detail={"site_id": site_id, "response": req.response, "comment": req.comment},
            )

    # feeds -----------------------------------------------------------------------------
    async def create_feed(self, site_id: str, principal: Principal) -> str:
        """A new subscription URL for the site's calendar; the previous one stops working."""
        if principal.role is not Role.OFFICE and principal.site_id != site_id:
            raise PermissionDenied("only the office or the site's coordinator")
        token = secrets.token_urlsafe(24)
        now = self._clock.now()
        async with self._store.write() as uow:
            if not await uow.directory.get_sites([site_id]):
                raise NotFound("site", site_id)
            await uow.tokens.set_feed(site_id, _hash(token), now)
            await uow.audit.record(
                at=now, actor=principal.actor, action="feed.create", target=f"site:{site_id}"
            )
        return f"{self._letters.settings.base}/api/sites/{site_id}/calendar.ics?token={token}"

    async def feed(self, site_id: str, token: str | None) -> bytes:
        """The site's sessions (cancelled ones as cancelled). Raises AuthenticationRequired."""
        if not token:
            raise AuthenticationRequired("the feed URL carries its token (?token=...)")
        async with self._store.read() as uow:
            if await uow.tokens.site_for_feed(_hash(token)) != site_id:
                raise AuthenticationRequired("unknown or replaced feed token")
            sites = await uow.directory.get_sites([site_id])
            sessions = await uow.sessions.find(
                SessionQuery(site=site_id, start_from=self._clock.now() - FEED_PAST, limit=1000)
            )
            site = sites[site_id]
            # a series is one entry (its occurrences are not listed again on their own)
            series = await self._series.feed_blocks(uow, site)
        events = []
        for session in sessions:
            if session.series_id is not None:
                continue
            gateway = await gateway_links(self._gateway, session)
            targets = self._letters.targets(
                session, {site_id: site}, (), session.version, gateway.urls, gateway.rotations
            )
            target = targets[0]
            try:
                events.append(self._letters.event(session, target))
            except ValueError:
                continue
        return render_feed(events, name=site.name, extra=series)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# The invite endpoints' models are defined in `schemas`; the web layer imports them from here.
__all__ = ["Invites", "InvitesOut", "RsvpRequest", "SeriesDownload", "SiteInviteOut"]
