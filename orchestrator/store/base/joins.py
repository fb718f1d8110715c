"""The join gateway's area of the store (DESIGN 10): each (series or session, site) link's
nonce, and every opening of a gateway link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class LinkOpening:
    """One opening of a site's gateway link: for which series or session (`subject_id`), which
    occurrence it answered for (`session_id`: the one it opened, or the next one it named; None
    after the last), when, and what it answered (`opened`, `waiting` or `ended`)."""

    subject_id: str
    site_id: str
    session_id: str | None
    at: datetime
    outcome: str


class JoinLinks(Protocol):
    """Gateway nonces and openings (`uow.joins`). Database failures surface when the unit of
    work ends."""

    async def nonces(self, subject_id: str) -> dict[str, int]:
        """The nonce of each site of the series or session whose link was ever rotated, by site
        id (a site without one has nonce 0)."""
        ...

    async def rotate(self, subject_id: str, site_id: str, at: datetime) -> int:
        """Raise the site's nonce by one (its current key stops working) and return it."""
        ...

    async def record_opening(self, opening: LinkOpening) -> None:
        """Log one opening of a gateway link."""
        ...

    async def openings(self, session_id: str) -> list[LinkOpening]:
        """The openings that answered for the session (opened it or named it as the next),
        earliest first."""
        ...
