"""The reports area of the store: each site's result in each frozen record, kept in a table made
for aggregating (DESIGN 11), and the aggregates a year's report asks of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orchestrator.domain.models import SessionKind


@dataclass(frozen=True)
class SiteResult:
    """One site's verdict on one ended session: its status (present, partial, absent, unknown),
    the late and left-early flags and the minutes it was connected."""

    session_id: str
    site_id: str
    status: str
    late: bool
    left_early: bool
    connected_minutes: float


@dataclass(frozen=True)
class ReportScope:
    """Which sessions a report counts: those starting in [`start`, `end`) that ended by `now`
    and were not cancelled; each other field narrows them (`chair_email`: the sessions that
    chair chairs; `region`: the sites of that region only)."""

    start: datetime
    end: datetime
    now: datetime
    region: str | None = None
    kind: SessionKind | None = None
    series_id: str | None = None
    chair_email: str | None = None


@dataclass(frozen=True)
class SiteTotals:
    """One site's counts over the frozen records in a scope."""

    site_id: str
    region: str | None
    sessions: int
    present: int
    partial: int
    absent: int
    unknown: int
    late: int
    left_early: int
    connected_minutes: float


@dataclass(frozen=True)
class ScopedSession:
    """A session a report counts, as the report needs it."""

    id: str
    title: str
    start: datetime
    kind: SessionKind
    region: str | None
    frozen: bool


class ReportData(Protocol):
    """Per-site results of frozen records and the report's reads (`uow.reports`). Database
    failures surface when the unit of work ends."""

    async def save_results(self, session_id: str, results: Sequence[SiteResult]) -> None:
        """Store the session's per-site results (its record has just been frozen), replacing
        any earlier ones."""
        ...

    async def site_totals(self, scope: ReportScope) -> list[SiteTotals]:
        """Each site's counts over the sessions of `scope` whose record is frozen, in one
        aggregate query; the site's region is the directory's (None for a site it lacks)."""
        ...

    async def sessions(
        self, scope: ReportScope, *, limit: int | None = None
    ) -> list[ScopedSession]:
        """The sessions of `scope` (with `region`: those with a site of that region), earliest
        first, each saying whether its record is frozen; at most `limit` of them."""
        ...

    async def unfrozen(self, scope: ReportScope) -> list[str]:
        """The ids of the sessions of `scope` whose record is not frozen yet."""
        ...

    async def results(self, session_ids: Sequence[str]) -> list[SiteResult]:
        """The stored per-site results of these (frozen) sessions."""
        ...

    async def regions_of(self, site_ids: Sequence[str]) -> dict[str, str | None]:
        """Each known site's region (None: a site of no region)."""
        ...

    async def submitted(self, session_ids: Sequence[str]) -> dict[tuple[str, str], datetime]:
        """When each (session, task) of these sessions was last submitted."""
        ...
