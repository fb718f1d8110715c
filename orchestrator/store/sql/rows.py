"""Rows to records and back: one mapping per record, by column name (never by position; a
site, read by the thousand, is read in the order of the columns named beside its mapping).

Records whose fields are named as their columns (`TokenRecord`, `Delivery`, `Submission`, ...)
share `record_from`/`values_of`; the domain's models, stored under other column names, have a
pair each.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.domain.models import (
    AuditEntry,
    Chair,
    Coordinator,
    LeaderGroup,
    Region,
    Series,
    Session,
    SessionSite,
    Site,
    SkippedOccurrence,
)
from orchestrator.domain.trusted import trusted
from orchestrator.store import tables as t

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


@cache
def _names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def record_from(cls: type[R], row: Any, **given: Any) -> R:
    """A `cls` from the row's columns of the same names; `given` fields are taken as they are."""
    values = {n: getattr(row, n) for n in _names(cls) if n not in given}
    return cls(**values, **given)


def values_of(record: DataclassInstance) -> dict[str, Any]:
    """The record's fields as column values (columns are named as its fields)."""
    return {n: getattr(record, n) for n in _names(type(record))}


def site_values(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "region_id": site.region,
        "timezone": site.timezone,
        "coordinator_name": site.coordinator.name,
        "coordinator_email": site.coordinator.email,
        "coordinator_phone": site.coordinator.phone,
        "capacity": site.capacity,
        "room": site.room,
        "language": site.language,
    }


# A site's row holds what `site_values` wrote of a validated `Site` (the directory is written
# nowhere else), so it is rebuilt as it is: a 10,000-site session reads 10,000 of them. Its
# columns are read in the order of `SITE_COLUMNS`, which every query for `site_from` selects
# (a row's attribute by name costs more than the rest of the site together).
_site = trusted(Site)
_coordinator = trusted(Coordinator)

SITE_COLUMNS = (
    t.sites.c.id,
    t.sites.c.name,
    t.sites.c.region_id,
    t.sites.c.timezone,
    t.sites.c.coordinator_name,
    t.sites.c.coordinator_email,
    t.sites.c.coordinator_phone,
    t.sites.c.capacity,
    t.sites.c.room,
    t.sites.c.language,
)


def site_from(row: Any) -> Site:
    """The site of a row of `SITE_COLUMNS`."""
    (
        site_id,
        name,
        region_id,
        timezone,
        coordinator_name,
        coordinator_email,
        coordinator_phone,
        capacity,
        room,
        language,
    ) = row
    return _site(
        id=site_id,
        name=name,
        region=region_id,
        timezone=timezone,
        coordinator=_coordinator(
            name=coordinator_name, email=coordinator_email, phone=coordinator_phone
        ),
        capacity=capacity,
        room=room,
        language=language,
    )


def region_values(region: Region) -> dict[str, Any]:
    return {
        "id": region.id,
        "name": region.name,
        "head_site_id": region.head_site,
        "chair_name": region.chair_name,
        "chair_email": region.chair_email,
    }


def region_from(row: Any) -> Region:
    return Region(
        id=row.id,
        name=row.name,
        head_site=row.head_site_id,
        chair_name=row.chair_name,
        chair_email=row.chair_email,
    )


def group_values(group: LeaderGroup) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "members": list(group.members)}


def group_from(row: Any) -> LeaderGroup:
    return LeaderGroup(id=row.id, name=row.name, members=tuple(row.members))


def session_values(s: Session) -> dict[str, Any]:
    """The session's own row (its sites are rows of `session_sites`)."""
    return {
        "id": s.id,
        "title": s.title,
        "agenda": s.agenda,
        "kind": s.kind.value,
        "region_id": s.region,
        "starts_at": s.start,
        "ends_at": s.end,
        "timezone": s.timezone,
        "host_site_id": s.host_site,
        "chair_name": s.chair.name,
        "chair_email": s.chair.email,
        "leader_groups": list(s.leader_groups),
        "speaking_sites": list(s.speaking_sites),
        "provider": s.provider,
        "buffer_before_minutes": s.buffer_before_minutes,
        "buffer_after_minutes": s.buffer_after_minutes,
        "status": s.status.value,
        "room": s.room,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "version": s.version,
        "series_id": s.series_id,
        "occurrence": s.occurrence,
        "exception_fields": list(s.exception_fields) if s.series_id else None,
    }


def session_from(row: Any, sites: tuple[SessionSite, ...]) -> Session:
    return Session(
        id=row.id,
        title=row.title,
        agenda=row.agenda,
        kind=row.kind,
        region=row.region_id,
        start=row.starts_at,
        end=row.ends_at,
        timezone=row.timezone,
        host_site=row.host_site_id,
        chair=Chair(name=row.chair_name, email=row.chair_email),
        sites=sites,
        leader_groups=tuple(row.leader_groups),
        speaking_sites=tuple(row.speaking_sites or ()),
        provider=row.provider,
        buffer_before_minutes=row.buffer_before_minutes,
        buffer_after_minutes=row.buffer_after_minutes,
        status=row.status,
        room=row.room,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        series_id=row.series_id,
        occurrence=row.occurrence,
        exception_fields=tuple(row.exception_fields or ()),
    )


def series_values(s: Series) -> dict[str, Any]:
    """The series' own row (its sites are rows of `series_sites`)."""
    return {
        "id": s.id,
        "title": s.title,
        "agenda": s.agenda,
        "kind": s.kind.value,
        "region_id": s.region,
        "recurrence": s.recurrence,
        "timezone": s.timezone,
        "first_start": s.start,
        "first_end": s.end,
        "host_site_id": s.host_site,
        "chair_name": s.chair.name,
        "chair_email": s.chair.email,
        "leader_groups": list(s.leader_groups),
        "speaking_sites": list(s.speaking_sites),
        "provider": s.provider,
        "buffer_before_minutes": s.buffer_before_minutes,
        "buffer_after_minutes": s.buffer_after_minutes,
        "status": s.status.value,
        "skipped": [k.model_dump(mode="json") for k in s.skipped],
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "version": s.version,
    }


def series_from(row: Any, sites: tuple[str, ...]) -> Series:
    return Series(
        id=row.id,
        title=row.title,
        agenda=row.agenda,
        kind=row.kind,
        region=row.region_id,
        recurrence=row.recurrence,
        timezone=row.timezone,
        start=row.first_start,
        end=row.first_end,
        host_site=row.host_site_id,
        chair=Chair(name=row.chair_name, email=row.chair_email),
        sites=sites,
        leader_groups=tuple(row.leader_groups),
        speaking_sites=tuple(row.speaking_sites or ()),
        provider=row.provider,
        buffer_before_minutes=row.buffer_before_minutes,
        buffer_after_minutes=row.buffer_after_minutes,
        status=row.status,
        skipped=tuple(SkippedOccurrence.model_validate(k) for k in row.skipped),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "detail": entry.detail,
    }


def audit_from(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        reason=row.reason,
        detail=row.detail,
    )
