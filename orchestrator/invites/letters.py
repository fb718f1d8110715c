"""One site's invite from the session as it is: whom it goes to, at which SEQUENCE, its event,
its iCalendar object and its email, and the signed links it carries. Pure: the secrets and the
page links come from the caller.

SEQUENCE = the session's version minus 1 (0 when booked; it only grows), so every change of the
session raises it and a retried delivery of one change sends the same object again.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

from orchestrator.domain.clock import Clock
from orchestrator.domain.models import Session, SessionStatus, Site
from orchestrator.invites.ics import (
    DEFAULT_ALARMS,
    InviteEvent,
    InviteMethod,
    Party,
    invite_uid,
    render_calendar,
)
from orchestrator.invites.imip import build_invite_email


@dataclass(frozen=True)
class InviteSettings:
    """What the mail needs from the service's settings: where the service answers, who sends."""

    base_url: str
    organizer_email: str
    organizer_name: str = "Văn phòng"
    alarms: tuple[int, ...] = DEFAULT_ALARMS

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).hostname or "orchestrator.invalid"

    @property
    def organizer(self) -> Party:
        return Party(self.organizer_name, self.organizer_email)

    @property
    def sender(self) -> str:
        """The From header of the mail that is not an invite (reminders, records)."""
        return f"{self.organizer_name} <{self.organizer_email}>"

    @property
    def base(self) -> str:
        return self.base_url.rstrip("/")


# Cached: one chair for every site of a session (a Party is frozen, so it can be shared).
@functools.lru_cache(maxsize=64)
def _party(name: str, email: str) -> Party:
    return Party(name, email)


def site_invite(
    session: Session,
    site: Site,
    *,
    join_url: str,
    method: InviteMethod,
    sequence: int,
    domain: str,
    organizer: Party,
    dtstamp: datetime,
    alarms: Iterable[int] = DEFAULT_ALARMS,
) -> InviteEvent:
    """The invite of `site` for `session`, from the domain's values.

    The coordinator is the attendee, the session's chair the chair; the connection test starts
    `buffer_before_minutes` before the session (none without a buffer). Raises ValueError when
    the site has no coordinator email (nobody to invite).
    """
    email = site.coordinator.email
    if not email:
        raise ValueError(f"site {site.id} has no coordinator email: nobody to invite")
    before = session.buffer_before_minutes
    return InviteEvent(
        uid=invite_uid(session.id, site.id, domain),
        sequence=sequence,
        method=method,
        summary=session.title,
        start=session.start,
        end=session.end,
        timezone=site.timezone,
        organizer=organizer,
        attendee=Party(site.coordinator.name or site.name, email),
        chair=_party(session.chair.name, session.chair.email),
        join_url=join_url,
        dtstamp=dtstamp,
        agenda=session.agenda,
        connection_test_at=session.start - timedelta(minutes=before) if before else None,
        location=site.room,
        site_name=site.name,
        alarms=tuple(alarms),
        language="en" if site.language == "en" else "vi",
    )


def sequence_of(version: int) -> int:
    """An invite's SEQUENCE at a session version: 0 for the first invite (RFC 5545's start),
    then one more for every later change of the session, never lowered."""
    return version - 1


@dataclass
class Target:
    """One site's invite to send: the site, REQUEST or CANCEL, its SEQUENCE and join link."""

    site: Site
    method: InviteMethod
    sequence: int
    join_url: str


def rsvp_signature(key: bytes, session_id: str, site_id: str, response: str) -> str:
    """The signature of a one-click answer link: the first 32 hex digits of an HMAC-SHA256 over
    `<session>/<site>/<response>`."""
    message = f"{session_id}/{site_id}/{response}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


class InviteLetters:
    """Makes the invites of a session: their targets, events, objects and emails."""

    def __init__(self, settings: InviteSettings, clock: Clock) -> None:
        self._s = settings
        self._clock = clock

    @property
    def settings(self) -> InviteSettings:
        return self._s

    def session_page(self, session: Session) -> str:
        """The join link of a site without one of its own: the session in the API."""
        return f"{self._s.base}/api/sessions/{session.id}"

    def targets(
        self,
        session: Session,
        sites: dict[str, Site],
        removed: Sequence[str],
        version: int,
        links: Mapping[str, str] | None = None,
        rotations: Mapping[str, int] | None = None,
    ) -> list[Target]:
        """Every current site's invite (a CANCEL once the session is cancelled), then a CANCEL
        for each site `removed` from it by the change at `version`. `links` are the sites' join
        gateway links when invites carry those (`[invites] join_gateway`) instead of their own;
        `rotations`, how many times each site's gateway link was rotated, raise its SEQUENCE
        (a new link is a change, DESIGN 6.7; never lowered, as both only grow)."""
        links = links or {}
        rotations = rotations or {}
        method = (
            InviteMethod.CANCEL
            if session.status is SessionStatus.CANCELLED
            else InviteMethod.REQUEST
        )
        out = [
            Target(
                sites[s.site_id],
                method,
                sequence_of(session.version) + rotations.get(s.site_id, 0),
                links.get(s.site_id) or s.join_url or self.session_page(session),
            )
            for s in session.sites
            if s.site_id in sites
        ]
        current = set(session.site_ids)
        out.extend(
            Target(
                sites[r],
                InviteMethod.CANCEL,
                sequence_of(version) + rotations.get(r, 0),
                self.session_page(session),
            )
            for r in removed
            if r not in current and r in sites
        )
        return out

    def event(self, session: Session, target: Target) -> InviteEvent:
        """The target's invite, stamped now. Raises ValueError for a site nobody can receive."""
        return site_invite(
            session,
            target.site,
            join_url=target.join_url,
            method=target.method,
            sequence=target.sequence,
            domain=self._s.domain,
            organizer=self._s.organizer,
            dtstamp=self._clock.now(),
            alarms=self._s.alarms,
        )

    def rsvp_url(self, key: bytes, session_id: str, site_id: str, response: str) -> str:
        sig = rsvp_signature(key, session_id, site_id, response)
        return f"{self._s.base}/rsvp/{session_id}/{site_id}/{response}?sig={sig}"

    def email(
        self,
        session: Session,
        target: Target,
        key: bytes,
        page_of: Callable[[Session, Site], str | None],
        *,
        message_id: str | None = None,
    ) -> tuple[bytes, EmailMessage]:
        """The target's iCalendar object and its email: a REQUEST carries the answer links
        (signed with `key`) and the link to the site's page (`page_of`, asked for a REQUEST
        only). `message_id` replaces the one made of the UID, method and SEQUENCE (an invite
        sent again at the same SEQUENCE must not look like a copy of the first). Raises
        ValueError as `event`."""
        event = self.event(session, target)
        ics = render_calendar(event)
        request = target.method is InviteMethod.REQUEST
        site_id = target.site.id
        message = build_invite_email(
            event,
            ics=ics,
            rsvp_accept_url=self.rsvp_url(key, session.id, site_id, "accepted")
            if request
            else None,
            rsvp_decline_url=self.rsvp_url(key, session.id, site_id, "declined")
            if request
            else None,
            page_url=page_of(session, target.site) if request else None,
            message_id=message_id,
        )
        return ics, message
