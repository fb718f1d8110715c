"""Ports to the outside platforms, their value types and their error tree.

    ConnectorError                 anything an adapter could not do
    ├── TransientConnectorError    worth retrying later (timeouts, refused connections, HTTP 5xx,
    │                              SMTP 4xx)
    └── PermanentConnectorError    retrying will not help (bad credentials, bad configuration,
                                   HTTP 4xx, SMTP 5xx)

Adapters translate their libraries' errors into these and raise them `from` the original.
Nothing here imports the orchestrator: connectors sit at the edge.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol


def caused_by_untrusted_certificate(exc: BaseException) -> bool:
    """Whether a TLS certificate check failed anywhere in `exc`'s chain: a configuration
    problem (a permanent error), not a passing network fault."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ConnectorError(Exception):
    """An outside platform could not do what was asked."""


class TransientConnectorError(ConnectorError):
    """A failure that may pass: the caller may retry with backoff."""


class PermanentConnectorError(ConnectorError):
    """A failure that retrying will not fix."""


@dataclass(frozen=True)
class Meeting:
    """What a provider needs to know of a session to issue its links."""

    session_id: str
    title: str
    room: str
    start: datetime
    end: datetime
    opens_at: datetime  # start minus the connection-test buffer
    closes_at: datetime  # end plus a grace
    subject: str | None = None  # shown in the meeting's header; default: the title


@dataclass(frozen=True)
class Attendee:
    """One site joining a meeting; its link must name it (DESIGN rule 7)."""

    site_id: str
    name: str
    email: str | None
    moderator: bool = False
    # Joins as a viewer (Jitsi visitors) because the session has more sites than the provider's
    # participant limit. A moderator is never a visitor: `moderator` wins when both are set.
    visitor: bool = False
    avatar: str | None = None  # a public image URL


class MeetingProvider(Protocol):
    """A video platform that hosts rooms and issues per-site join links."""

    @property
    def name(self) -> str:
        """The provider's key in bookings: `static`, `jitsi`, `jaas`."""
        ...

    @property
    def max_participants(self) -> int:
        """How many attendees one meeting takes as full participants.

        Beyond it the caller marks the remaining sites `Attendee.visitor` (the host, leaders and
        speaking sites first). A provider without such a limit returns a large number.
        """
        ...

    def room_name(self, title: str, salt: str) -> str:
        """A room name for a new session: short ASCII `[a-z0-9-]`, unguessable given `salt`."""
        ...

    def join_url(self, meeting: Meeting, attendee: Attendee) -> str:
        """The attendee's own link to the meeting, valid from `opens_at` to `closes_at`.

        Pure and deterministic: the same meeting and attendee give the same link, so re-rendering
        an invite does not change it and rescheduling changes it. Raises `PermanentConnectorError`
        when the meeting cannot be linked (no usable room, an empty or reversed window).
        """
        ...


class Mailer(Protocol):
    """An outgoing mail server: invites, reminders and notices leave through it (DESIGN 6.7, 8)."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver `message` to every recipient it names (To, Cc, Bcc; Bcc is not transmitted).

        The envelope comes from the headers: `Sender` or else `From` is the return path; a message
        without `From` gets the mailer's default sender. Returns once the server has accepted the
        message. Raises `TransientConnectorError` when retrying later may succeed (connection
        refused, timeout, the server disconnecting, any 4xx reply) and `PermanentConnectorError`
        when it will not (a 5xx refusal of the sender, a recipient or the data, failed
        authentication, bad configuration, a message without sender or recipients). A message
        accepted for some recipients but refused for others raises `PermanentConnectorError`
        naming the refused ones: a retry would deliver it twice to the others.
        """
        ...

    async def send_many(self, messages: Sequence[EmailMessage]) -> list[ConnectorError | None]:
        """Deliver a batch over as few connections as possible; raises nothing for a message.

        Returns one entry per message, in order: `None` once the server accepted it, else the
        error `send` would have raised for it. After a connection is lost the mailer reconnects
        for the next message; after two failures in a row with no connection left, the remaining
        messages are not tried and each gets that last error.
        """
        ...


@dataclass(frozen=True)
class Occupant:
    """One connection in a room, as a presence poll lists it (DESIGN 6.6).

    `jid` is the occupant's address in the room (`<room>@conference.<domain>/<nick>`): stable while
    the connection lasts, but never the real JID a webhook reports. `email` and `display_name` are
    what the client put in its presence (under token auth, the token's email), unverified; `None`
    when the client sent none. A poll carries no token id: the email is the only link to a site.
    """

    jid: str
    email: str | None
    display_name: str | None


class RoomPresence(Protocol):
    """Who is in a conference room now, asked of the video server (a poll, DESIGN 6.6 and 7)."""

    async def occupants(self, room: str) -> list[Occupant] | None:
        """The room's occupants now, each JID once, in the server's order; hidden ones (Jitsi's
        focus) left out.

        Returns `None` when the room does not exist (nobody has opened it yet, or everyone has
        left and it was destroyed) and `[]` when it exists but only hidden occupants are in.
        Raises `TransientConnectorError` when the server cannot say now (timeout, refused
        connection, HTTP 5xx, 408, 429) and `PermanentConnectorError` when asking again will not
        help (HTTP 401/403: a bad or missing token; any other 4xx, a redirect or an answer that is
        not the plugin's: bad configuration). A poll that raised says nothing about any site.
        """
        ...

    async def count(self, room: str) -> int | None:
        """How many occupants the server counts in the room, or `None` when it does not exist.

        mod_muc_size subtracts its hidden focus only when more than one occupant is in, so an
        empty room that still holds its focus counts 1: a count, not a roll call (use
        `occupants` for that). Raises as `occupants` does.
        """
        ...

    async def aclose(self) -> None:
        """Release the connections this presence opened; it is not used afterwards."""
        ...
