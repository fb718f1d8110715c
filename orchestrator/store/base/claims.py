"""The claims area of the store: who holds which resource when (rule 1)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from orchestrator.domain.errors import Conflict


class Claims(Protocol):
    """Resource claims (`uow.claims`). Intervals are half-open, `[start, end)`; only active
    claims (those of sessions not cancelled) count. Database failures surface when the unit of
    work ends."""

    async def lock(self, resources: Sequence[str]) -> None:
        """Serialise with every other unit of work locking any of `resources` until this one
        ends (so a check-then-claim cannot interleave with a competitor's)."""
        ...

    async def conflicts(
        self,
        resources: Sequence[str],
        start: datetime,
        end: datetime,
        exclude_session: str | None = None,
    ) -> list[Conflict]:
        """The active claims on `resources` overlapping `[start, end)`, bar the excluded
        session's, one `Conflict` per claim."""
        ...

    async def conflicts_over(
        self,
        resources: Sequence[str],
        ranges: Sequence[tuple[datetime, datetime]],
        exclude_sessions: Sequence[str] = (),
    ) -> list[Conflict]:
        """The active claims on `resources` overlapping any of `ranges` (each `[start, end)`),
        bar the excluded sessions', one `Conflict` per claim: `conflicts` for many ranges at
        once (a series' occurrences)."""
        ...

    async def add(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        """Claim `resources` over `[start, end)` for the session. Raises `ClaimOverlap` (the
        unit of work is then spoiled)."""
        ...

    async def replace(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        """Drop the session's active claims and claim `resources` over `[start, end)` instead.
        Raises `ClaimOverlap` (the unit of work is then spoiled)."""
        ...

    async def add_many(
        self, claims: Sequence[tuple[str, Sequence[str], datetime, datetime]]
    ) -> None:
        """`add` for several sessions at once: each `(session_id, resources, start, end)`.
        Raises `ClaimOverlap` (the unit of work is then spoiled)."""
        ...

    async def replace_many(
        self, claims: Sequence[tuple[str, Sequence[str], datetime, datetime]]
    ) -> None:
        """`replace` for several sessions at once: each `(session_id, resources, start, end)`.
        Raises `ClaimOverlap` (the unit of work is then spoiled)."""
        ...

    async def release(self, session_id: str) -> None:
        """Deactivate all of the session's claims (it was cancelled); none is an error."""
        ...

    async def busy_ranges(
        self, resources: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The time held by the active claims on any of `resources` that overlap `[start, end)`:
        their `(start, end)` ranges in order of start, those that overlap or touch merged into
        one (a busy week of a hundred resources is a few ranges a day, not thousands)."""
        ...
