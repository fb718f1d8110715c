"""The series area of the store: meetings on a rhythm, whose occurrences are sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orchestrator.domain.models import Series, SeriesStatus, Session


@dataclass(frozen=True)
class SeriesQuery:
    """Filters for listing series; every field narrows the result."""

    site: str | None = None  # series with this site among theirs
    chair_email: str | None = None
    # cancelled as stored; active and ended (stored active) told apart by `now`: ended when
    # every occurrence not cancelled has ended by then
    status: SeriesStatus | None = None
    now: datetime | None = None  # needed with status active or ended
    limit: int = 200
    offset: int = 0


class SeriesRepository(Protocol):
    """Series (`uow.series`), each with its sites in their order; their occurrences are sessions
    (`uow.sessions`) carrying `series_id`. Database failures surface when the unit of work ends."""

    async def add(self, series: Series) -> None:
        """Store a new series and its sites."""
        ...

    async def update(self, series: Series) -> None:
        """Store the series' new fields and its sites as `series.sites` now lists them. The
        series must exist."""
        ...

    async def get(self, series_id: str) -> Series | None:
        """The series, or None."""
        ...

    async def find(self, query: SeriesQuery) -> list[Series]:
        """Series matching `query`, earliest first occurrence first."""
        ...

    async def occurrences(self, series_id: str) -> list[Session]:
        """The sessions of the series (cancelled ones too), in the order of their `occurrence`
        (original start); none for an unknown id."""
        ...

    async def bump(self, series_id: str, at: datetime) -> int:
        """Raise the series' version by one (an occurrence of it changed alone) and return the
        new version. Raises LookupError for an unknown id."""
        ...
