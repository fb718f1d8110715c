"""The directory area of the store: regions, sites, leader groups and booking policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.domain.models import (
    BookingPolicy,
    LeaderGroup,
    Region,
    SessionKind,
    Site,
    SiteFacts,
)

DIRECTORY_AUDIT_TARGET = "directory"
"""The audit target of every change to the directory. Each change is audited in the unit that
makes it (rule 6); the SQL store's directory cache reads the directory's version from these
entries, so a change without its entry would go unseen by the other units and instances."""


@dataclass(frozen=True)
class DirectoryCounts:
    """How many rows of each kind one import wrote."""

    regions: int
    sites: int
    leader_groups: int
    policies: int


class Directory(Protocol):
    """The directory as imported (`uow.directory`). Reads never fail for a missing row: they
    leave it out. Database failures surface when the unit of work ends."""

    async def upsert(
        self,
        regions: Sequence[Region],
        sites: Sequence[Site],
        groups: Sequence[LeaderGroup],
        policies: Mapping[SessionKind, BookingPolicy],
    ) -> DirectoryCounts:
        """Insert or update every row given (by id); rows not given are left alone. Returns how
        many of each kind were given. The caller audits it, in the same unit, with the target
        `DIRECTORY_AUDIT_TARGET`."""
        ...

    async def get_sites(self, ids: Sequence[str]) -> dict[str, Site]:
        """The sites among `ids` that exist, by id (unknown ids are absent)."""
        ...

    async def site_facts(self, ids: Sequence[str]) -> dict[str, SiteFacts]:
        """What booking a session needs of each site among `ids` that exists, by id (unknown
        ids are absent): a booking of 10,000 sites, without reading them whole."""
        ...

    async def list_sites(self, region: str | None = None) -> list[Site]:
        """All sites (of one region), ordered by id."""
        ...

    async def site_names(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """The name and region of each site among `ids` that exists, by id: what a list of
        10,000 sites needs of them, without reading them whole."""
        ...

    async def list_regions(self) -> list[Region]:
        """All regions, ordered by id."""
        ...

    async def list_groups(self) -> list[LeaderGroup]:
        """All leader groups, ordered by id."""
        ...

    async def get_policies(self) -> dict[SessionKind, BookingPolicy]:
        """The policies stored by directory imports; kinds never imported are absent."""
        ...
