"""Join links (rule 7): one per site, issued by the session's provider, naming the site; the
provider's participant limit decides who speaks; each caller sees only the links they may use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from connectors.base import Attendee, Meeting, MeetingProvider
from orchestrator.booking.schemas import SessionOut
from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import (
    Principal,
    Role,
    Session,
    Site,
    SiteLike,
    session_site,
)

# A linked site: the session's own site id and the link its provider just issued.
_linked = session_site


class JoinLinks:
    """The configured providers, asked for each site's link of a session."""

    def __init__(self, providers: Mapping[str, MeetingProvider], grace_minutes: int) -> None:
        self._providers = providers
        self._grace = timedelta(minutes=grace_minutes)

    def provider(self, name: str) -> MeetingProvider:
        """The provider called `name`. Raises InvalidRequest when it is not configured."""
        provider = self._providers.get(name)
        if provider is None:
            raise InvalidRequest(
                f"provider {name!r} is not configured on this service "
                f"(available: {', '.join(sorted(self._providers))})",
                field="provider",
                reason="provider_off",
                values={"provider": name, "available": ", ".join(sorted(self._providers))},
            )
        return provider

    def check_capacity(self, session: Session) -> MeetingProvider:
        """The session's provider, once it is known to hold every speaking site.

        Raises InvalidRequest (no such provider; more speakers than it allows)."""
        provider = self.provider(session.provider)
        limit = provider.max_participants
        speaking = {session.host_site, *session.speaking_sites}
        if len(session.sites) > limit and len(speaking) > limit:
            raise InvalidRequest(
                f"{len(speaking)} speaking sites (the host included) exceed the {limit} "
                f"participants {provider.name} allows; the others join as visitors",
                field="speaking_sites",
                reason="speakers_over_limit",
                values={"count": len(speaking), "limit": limit, "provider": provider.name},
            )
        return provider

    def issue(self, session: Session, sites: Mapping[str, SiteLike]) -> Session:
        """The session with each site's join link: a meeting open from the claimed start to the
        end plus the grace, the host as moderator, visitors beyond the provider's limit.

        Raises InvalidRequest (see `check_capacity`)."""
        provider = self.check_capacity(session)
        meeting = self._meeting(session)
        visitors = session.visitors(provider.max_participants)
        join_url, host = provider.join_url, session.host_site
        linked = [
            _linked(
                site_id=site_id,
                join_url=join_url(meeting, _attendee(host, sites[site_id], visitors)),
            )
            for site_id in session.site_ids
        ]
        return session.model_copy(update={"sites": tuple(linked)})

    def link(self, session: Session, site: Site) -> str:
        """One site's link to the session, minted now as `issue` mints it (the join gateway
        opens it). Raises InvalidRequest (see `provider`) and PermanentConnectorError (the
        provider cannot link the session)."""
        provider = self.provider(session.provider)
        visitors = session.visitors(provider.max_participants)
        return provider.join_url(
            self._meeting(session), _attendee(session.host_site, site, visitors)
        )

    def closes_at(self, session: Session) -> datetime:
        """When the session's links stop working: its end plus the grace."""
        return session.end + self._grace

    def _meeting(self, session: Session) -> Meeting:
        """The meeting the links open: from the claimed start to the end plus the grace."""
        return Meeting(
            session_id=session.id,
            title=session.title,
            room=session.room or "",
            start=session.start,
            end=session.end,
            opens_at=session.claimed_range.start,
            closes_at=self.closes_at(session),
        )

    def visitors(self, session: Session) -> frozenset[str]:
        """The sites that join as visitors (none when the provider is no longer configured)."""
        provider = self._providers.get(session.provider)
        return session.visitors(provider.max_participants) if provider else frozenset()


def _attendee(host: str, site: SiteLike, visitors: frozenset[str]) -> Attendee:
    """The site as the provider names it: the host as moderator, visitors beyond the limit."""
    site_id = site.id
    return Attendee(
        site_id,
        site.name,
        site.coordinator_email,
        moderator=site_id == host,
        visitor=site_id in visitors,
    )


def links_for(principal: Principal, out: SessionOut) -> SessionOut:
    """Each link is a site's identity (rule 7): a coordinator sees only their site's link and a
    chair only the host's; the office sees them all."""
    if principal.role is Role.OFFICE:
        return out
    keep = principal.site_id if principal.role is Role.COORDINATOR else out.host_site
    sites = [s if s.site_id == keep else s.model_copy(update={"join_url": None}) for s in out.sites]
    return out.model_copy(update={"sites": sites})
