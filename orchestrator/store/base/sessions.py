"""The sessions area of the store: booked sessions and the sites taking part."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orchestrator.domain.models import Session, SessionKind, SessionStatus


@dataclass(frozen=True)
class SessionQuery:
    """Filters for listing sessions; every field narrows the result."""

    start_from: datetime | None = None  # sessions ending after this instant
    start_to: datetime | None = None  # sessions starting before this instant
    region: str | None = None
    site: str | None = None
    chair_email: str | None = None
    status: SessionStatus | None = None
    now: datetime | None = None  # needed with `status`: live and ended are decided by the clock
    kinds: tuple[SessionKind, ...] | None = None  # only these kinds
    sites: bool = True  # False: each session's `sites` left empty (its own fields only)
    limit: int = 200
    offset: int = 0


class Sessions(Protocol):
    """Sessions (`uow.sessions`), each with its sites in their order. Database failures (a
    duplicate id among them) surface when the unit of work ends."""

    async def add(self, session: Session) -> None:
        """Store a new session and its sites."""
        ...

    async def add_sites(self, session: Session) -> None:
        """Store the sites of a new session stored without them (`add` of it with no sites), in
        their order: a large booking writes its row first, so that its claims (which name it)
        go in while its links are minted."""
        ...

    async def update(
        self,
        session: Session,
        *,
        added_sites: Sequence[str] = (),
        removed_sites: Sequence[str] = (),
    ) -> None:
        """Store the session's new fields, drop `removed_sites`, append `added_sites` (taken
        from `session.sites`) and refresh every site's join link. The session must exist."""
        ...

    async def add_many(self, sessions: Sequence[Session]) -> None:
        """Store new sessions and their sites at once (a series' occurrences)."""
        ...

    async def update_many(
        self, changes: Sequence[tuple[Session, Sequence[str], Sequence[str]]]
    ) -> None:
        """`update` of several sessions at once: each `(session, added_sites, removed_sites)`."""
        ...

    async def get(self, session_id: str, *, sites: bool = True) -> Session | None:
        """The session, or None. With `sites=False` its sites are left out (`sites` is empty):
        enough to decide who may read it, without reading the 10,000 rows of a national one."""
        ...

    async def set_status(self, session_id: str, status: SessionStatus, at: datetime) -> None:
        """Move a session to `status` (the lifecycle's transitions); nothing else changes. An
        unknown id changes nothing."""
        ...

    async def by_room(self, room: str) -> Session | None:
        """The session whose video room is `room` (room names are lowercase), or None."""
        ...

    async def find(self, query: SessionQuery) -> list[Session]:
        """Sessions matching `query`, earliest start first. Raises ValueError for a `status`
        other than cancelled without `now`."""
        ...
