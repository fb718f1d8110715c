"""The directory as the SQL store reads it, kept in memory between units of work and checked by
one cheap query per unit.

Every booking reads its sites, the leader groups and the policies; each was a statement, and its
rows became models again, on every request. The directory changes only by import, and every
import writes, in its own transaction, an audit entry whose target is `DIRECTORY_AUDIT_TARGET`
(rule 6; `DirectoryService.apply` is the one writer). So the number and the last id of those
entries name the directory's version: a unit that reads the directory asks for them once (one
`SELECT` on the audit log's `target` index) and answers from memory while they match what the
memory was read at; when they do not, the memory is emptied and filled again from that unit's
reads. Nothing is ever served older than the version the unit saw: on PostgreSQL rows read after
the version may be newer than it (READ COMMITTED), and are kept under the older version, which
the next unit finds changed; SQLite reads one snapshot.

Kept: every site read by id, up to `MAX_SITES` (a 10,000-site booking reads its sites from the
database as before and keeps none), and the whole lists of leader groups and regions and the
policies. `list_sites` and `site_names` read the database each time. A unit that writes the
directory (`upsert`) reads the database for the rest of it and empties the memory at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from orchestrator.domain.models import (
    BookingPolicy,
    LeaderGroup,
    Region,
    SessionKind,
    Site,
    SiteFacts,
)
from orchestrator.store.base.directory import DIRECTORY_AUDIT_TARGET, DirectoryCounts
from orchestrator.store.sql.directory import SqlDirectory
from orchestrator.store.sql.engine import Transaction

MAX_SITES = 2048  # sites kept at once; beyond it, a read's sites are not kept

_VERSION = sa.text("SELECT count(*), max(id) FROM audit_log WHERE target = :target").bindparams(
    target=DIRECTORY_AUDIT_TARGET
)

Version = tuple[int, int | None]


class DirectoryCache:
    """One store's memory of the directory at one version (shared by its units of work)."""

    def __init__(self, max_sites: int = MAX_SITES) -> None:
        self.max_sites = max_sites
        self.version: Version | None = None
        self.sites: dict[str, Site] = {}
        self.groups: list[LeaderGroup] | None = None
        self.regions: list[Region] | None = None
        self.policies: dict[SessionKind, BookingPolicy] | None = None
        self.loads = 0  # reads that went to the database (tests look)

    def seen(self, version: Version) -> None:
        """A unit saw the directory at `version`: forget what was read at another."""
        if version != self.version:
            self.clear()
            self.version = version

    def clear(self) -> None:
        self.version = None
        self.sites = {}
        self.groups = self.regions = None
        self.policies = None


class CachedDirectory:
    """A unit's `Directory`: `SqlDirectory`'s reads answered from the store's `DirectoryCache`
    when it holds the version this unit sees. Whatever it does not know is `SqlDirectory`'s."""

    def __init__(self, inner: SqlDirectory, cache: DirectoryCache, tx: Transaction) -> None:
        self._inner = inner
        self._cache = cache
        self._tx = tx
        self._version: Version | None = None
        self._wrote = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _memory(self) -> DirectoryCache | None:
        """The cache, if it holds this unit's version of the directory; None to read the
        database (after this unit wrote the directory, or when another unit moved it on)."""
        if self._wrote:
            return None
        if self._version is None:
            row = (await self._tx.conn.execute(_VERSION)).one()
            self._version = (int(row[0]), None if row[1] is None else int(row[1]))
            self._cache.seen(self._version)
        return self._cache if self._cache.version == self._version else None

    async def upsert(
        self,
        regions: Sequence[Region],
        sites: Sequence[Site],
        groups: Sequence[LeaderGroup],
        policies: Mapping[SessionKind, BookingPolicy],
    ) -> DirectoryCounts:
        self._wrote = True
        self._cache.clear()
        return await self._inner.upsert(regions, sites, groups, policies)

    async def get_sites(self, ids: Sequence[str]) -> dict[str, Site]:
        memory = await self._memory()
        if memory is None:
            return await self._inner.get_sites(ids)
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in memory.sites]
        if not missing:
            return {i: memory.sites[i] for i in wanted}
        memory.loads += 1
        found = await self._inner.get_sites(missing)
        known = {i: memory.sites[i] for i in wanted if i in memory.sites}
        if memory.version == self._version and len(memory.sites) + len(found) <= memory.max_sites:
            memory.sites.update(found)
        return {i: s for i in wanted if (s := known.get(i) or found.get(i)) is not None}

    async def site_facts(self, ids: Sequence[str]) -> dict[str, SiteFacts]:
        # A few sites are read whole and kept (`get_sites`); a booking's thousands are read as
        # facts, as `SqlDirectory` reads them, and not kept.
        if len(ids) > self._cache.max_sites:
            return await self._inner.site_facts(ids)
        return {i: SiteFacts.of(site) for i, site in (await self.get_sites(ids)).items()}

    async def list_groups(self) -> list[LeaderGroup]:
        memory = await self._memory()
        if memory is None:
            return await self._inner.list_groups()
        if memory.groups is None:
            memory.loads += 1
            groups = await self._inner.list_groups()
            if memory.version != self._version:
                return groups
            memory.groups = groups
        return list(memory.groups)

    async def list_regions(self) -> list[Region]:
        memory = await self._memory()
        if memory is None:
            return await self._inner.list_regions()
        if memory.regions is None:
            memory.loads += 1
            regions = await self._inner.list_regions()
            if memory.version != self._version:
                return regions
            memory.regions = regions
        return list(memory.regions)

    async def get_policies(self) -> dict[SessionKind, BookingPolicy]:
        memory = await self._memory()
        if memory is None:
            return await self._inner.get_policies()
        if memory.policies is None:
            memory.loads += 1
            policies = await self._inner.get_policies()
            if memory.version != self._version:
                return policies
            memory.policies = policies
        return dict(memory.policies)

    async def list_sites(self, region: str | None = None) -> list[Site]:
        return await self._inner.list_sites(region)

    async def site_names(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        return await self._inner.site_names(ids)
