"""Occurrences changed alone (DESIGN 10): a PATCH or cancel of one occurrence through the
session endpoints is an exception to its series. The session keeps which fields it changed, the
series' version grows, and the invites are told about that one occurrence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from orchestrator.booking.series.common import queue_invites
from orchestrator.domain.models import Session
from orchestrator.store.base import UnitOfWork

# The fields an occurrence may change alone, as `Session.exception_fields` names them; a series
# change of one of them replaces it in every occurrence not yet started.
TITLE, AGENDA, TIME, TIMEZONE, CHAIR = "title", "agenda", "time", "timezone", "chair"
HOST, SITES, SPEAKERS, BUFFERS = "host_site", "sites", "speaking_sites", "buffers"


def changed_fields(old: Session, new: Session) -> set[str]:
    """The fields `new` changes of `old`, by their exception names."""
    pairs = {
        TITLE: (old.title, new.title),
        AGENDA: (old.agenda, new.agenda),
        TIME: ((old.start, old.end), (new.start, new.end)),
        TIMEZONE: (old.timezone, new.timezone),
        CHAIR: (old.chair, new.chair),
        HOST: (old.host_site, new.host_site),
        SITES: (old.site_ids, new.site_ids),
        SPEAKERS: (old.speaking_sites, new.speaking_sites),
        BUFFERS: (
            (old.buffer_before_minutes, old.buffer_after_minutes),
            (new.buffer_before_minutes, new.buffer_after_minutes),
        ),
    }
    return {name for name, (a, b) in pairs.items() if a != b}


def as_exception(old: Session, new: Session) -> Session:
    """`new`, an occurrence changed alone, with the fields it changed added to its exceptions."""
    if old.series_id is None:
        return new
    fields = set(old.exception_fields) | changed_fields(old, new)
    return new.model_copy(update={"exception_fields": tuple(sorted(fields))})


async def occurrence_changed(
    uow: UnitOfWork,
    old: Session,
    new: Session,
    removed: Sequence[str],
    at: datetime,
) -> None:
    """Record one occurrence changed alone: the series' version grows and the invites are
    queued: a cancel of the occurrence for the sites removed from it, the occurrence itself
    for its sites when anything else changed."""
    assert old.series_id is not None
    series = await uow.series.get(old.series_id)
    version = await uow.series.bump(old.series_id, at)
    zone = series.timezone if series else old.timezone
    if removed:
        await queue_invites(
            uow,
            old.series_id,
            version,
            "cancel-occurrence",
            at,
            occurrence=old.occurrence,
            site_ids=removed,
            zone=zone,
        )
    added = [s for s in new.site_ids if s not in old.site_ids]
    if changed_fields(old, new) - {SITES} or added:
        await queue_invites(
            uow,
            old.series_id,
            version,
            "occurrence",
            at,
            occurrence=old.occurrence,
            site_ids=new.site_ids,
            zone=zone,
        )


async def occurrence_cancelled(uow: UnitOfWork, session: Session, at: datetime) -> None:
    """Record one occurrence cancelled alone: the series' version grows and its sites are sent
    the occurrence's cancellation."""
    assert session.series_id is not None
    series = await uow.series.get(session.series_id)
    version = await uow.series.bump(session.series_id, at)
    await queue_invites(
        uow,
        session.series_id,
        version,
        "cancel-occurrence",
        at,
        occurrence=session.occurrence,
        zone=series.timezone if series else session.timezone,
    )
