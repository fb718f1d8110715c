"""Ports to the outside platforms, their value types and their error tree.

    ConnectorError                 anything an adapter could not do
    ├── TransientConnectorError    worth retrying later (timeouts, 5xx, connection refused)
    └── PermanentConnectorError    retrying will not help (bad credentials, 4xx, bad config)

Adapters translate their libraries' errors into these and raise them `from` the original.
Nothing here imports the orchestrator: connectors sit at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
