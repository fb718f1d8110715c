"""Directory use cases: import a directory file (all or nothing), read the directory."""

from __future__ import annotations

from pydantic import BaseModel

from orchestrator.directory.loader import Directory
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import (
    LeaderGroup,
    Principal,
    Region,
    Role,
    Site,
    require_office,
)
from orchestrator.store.base import DIRECTORY_AUDIT_TARGET, DirectoryCounts, Store


class DirectoryOut(BaseModel):
    regions: list[Region]
    sites: list[Site]
    leader_groups: list[LeaderGroup]


class DirectoryService:
    """Keeps regions, sites, coordinators and leader groups."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def apply(
        self, directory: Directory, principal: Principal, *, source: str = ""
    ) -> DirectoryCounts:
        """Insert or update everything `directory` holds in one unit of work (idempotent), in the
        name of `principal`, audited in the same unit (the stores' caches of the directory
        see the change by its audit entry). Raises PermissionDenied unless the principal is
        the office."""
        require_office(principal)
        async with self._store.write() as uow:
            counts = await uow.directory.upsert(
                directory.regions, directory.sites, directory.leader_groups, directory.policies
            )
            await uow.audit.record(
                at=self._clock.now(),
                actor=principal.actor,
                action="directory.import",
                target=DIRECTORY_AUDIT_TARGET,  # the directory's version: see the port
                detail={
                    "source": source,
                    "regions": counts.regions,
                    "sites": counts.sites,
                    "leader_groups": counts.leader_groups,
                    "policies": counts.policies,
                },
            )
        return counts

    async def view(self, principal: Principal) -> DirectoryOut:
        """The office sees everything; a chair every site without phone numbers; a coordinator
        only its own site and region, without phone numbers."""
        async with self._store.read() as uow:
            regions = await uow.directory.list_regions()
            sites = await uow.directory.list_sites()
            groups = await uow.directory.list_groups()
        if principal.role is not Role.OFFICE:
            sites = [
                s.model_copy(update={"coordinator": s.coordinator.model_copy(update={"phone": ""})})
                for s in sites
            ]
        if principal.role is Role.COORDINATOR:
            own = next((s for s in sites if s.id == principal.site_id), None)
            sites = [own] if own else []
            regions = [r for r in regions if own and r.id == own.region]
        return DirectoryOut(regions=regions, sites=sites, leader_groups=groups)
