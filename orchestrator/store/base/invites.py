"""The invites area of the store: what each site was sent, and what it answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """The latest invite of one (session, site)."""

    session_id: str
    site_id: str
    sequence: int
    method: str
    state: str  # sent, failed, skipped (a site without a row is still queued)
    attempts: int
    last_error: str | None  # why the latest try failed; for a skipped invite, why it was skipped
    updated_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Rsvp:
    """A site's latest answer to an invite."""

    site_id: str
    response: str
    comment: str
    at: datetime
    actor: str


class Invites(Protocol):
    """Invite deliveries and answers (`uow.invites`). Database failures surface when the unit
    of work ends."""

    async def deliveries(self, session_id: str) -> dict[str, Delivery]:
        """The latest invite state of each site of the session that has one, by site id."""
        ...

    async def record_delivery(self, delivery: Delivery, *, ok: bool, error: str | None) -> None:
        """Store a site's latest invite state (replacing the previous one) and log the
        attempt."""
        ...

    async def put_rsvp(self, session_id: str, rsvp: Rsvp) -> None:
        """Store a site's answer, replacing its previous one."""
        ...

    async def rsvps(self, session_id: str) -> dict[str, Rsvp]:
        """The session's latest answers, by site id."""
        ...
