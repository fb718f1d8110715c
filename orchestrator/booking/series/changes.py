"""Changing a series (DESIGN 10): a PATCH applies to every occurrence that has not started, all
or nothing, each bound by rules 1, 4 and 6 as a session's change is; a field it changes
replaces that field in an occurrence changed alone. Cancelling cancels every occurrence not yet
started. The rule and the first occurrence never change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from orchestrator.booking.common import (
    breaches_of,
    check_span,
    check_speakers,
    policies,
    require_office,
    retrying,
    session_resources,
    sites_for,
)
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.series import exceptions as ex
from orchestrator.booking.series.book import conflicts_by_session
from orchestrator.booking.series.common import queue_invites, series_out
from orchestrator.booking.series.schemas import OverwrittenOut, SeriesOut, UpdateSeriesRequest
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    InvalidRequest,
    InvalidState,
    OccurrenceBreach,
    OccurrenceConflict,
    SeriesConflict,
    SeriesNotFound,
    SeriesPolicyViolation,
)
from orchestrator.domain.models import (
    Principal,
    Series,
    SeriesStatus,
    Session,
    SessionSite,
    SessionStatus,
)
from orchestrator.store.base import ClaimOverlap, Store, UnitOfWork


def touched(req: UpdateSeriesRequest) -> set[str]:
    """The occurrence fields (by their exception names) the request changes."""
    given = {
        ex.TITLE: req.title is not None,
        ex.AGENDA: req.agenda is not None,
        ex.TIME: req.start_time is not None or req.duration_minutes is not None,
        ex.CHAIR: req.chair is not None,
        ex.HOST: req.host_site is not None,
        ex.SITES: bool(req.add_sites or req.remove_sites),
        ex.SPEAKERS: req.speaking_sites is not None,
        ex.BUFFERS: req.buffer_before_minutes is not None or req.buffer_after_minutes is not None,
    }
    return {name for name, yes in given.items() if yes}


def _moved(o: Session, req: UpdateSeriesRequest, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The occurrence's new range: the new time of day on its own original day (a local time a
    DST gap skips moves forward, as the rule's own occurrences do), the new length or its own."""
    start, length = o.start, o.end - o.start
    if req.start_time is not None:
        day = (o.occurrence or o.start).astimezone(zone).date()
        start = datetime.combine(day, req.start_time).replace(tzinfo=zone).astimezone(UTC)
    if req.duration_minutes is not None:
        length = timedelta(minutes=req.duration_minutes)
    return start, start + length


def _site_changes(old: Session, new: Session) -> tuple[list[str], list[str]]:
    """The sites `new` adds to `old` and those it removes, each in its order."""
    before, after = old.site_ids, new.site_ids
    kept_before, kept_after = set(before), set(after)
    return [s for s in after if s not in kept_before], [s for s in before if s not in kept_after]


def _check_apart(sessions: Sequence[Session], zone: ZoneInfo) -> None:
    ranges = sorted(sessions, key=lambda s: s.claimed_range.start)
    for a, b in pairwise(ranges):
        if b.claimed_range.start < a.claimed_range.end:
            first = (a.occurrence or a.start).astimezone(zone).isoformat()
            second = (b.occurrence or b.start).astimezone(zone).isoformat()
            raise InvalidRequest(
                f"the occurrences of {first} and {second} would overlap (buffers included): "
                "the series would conflict with itself",
                field="start_time",
                reason="occurrences_overlap",
                values={"first": first, "second": second},
            )


class SeriesChanges:
    """The office's changes to series already booked."""

    def __init__(self, store: Store, clock: Clock, links: JoinLinks) -> None:
        self._store = store
        self._clock = clock
        self._links = links

    async def update(
        self, series_id: str, req: UpdateSeriesRequest, principal: Principal
    ) -> SeriesOut:
        require_office(principal)

        async def attempt() -> SeriesOut:
            async with self._store.write() as uow:
                return await self._update_in(uow, series_id, req, principal)

        try:
            return await retrying(attempt)
        except ClaimOverlap as exc:
            raise SeriesConflict([]) from exc  # another booking won after the check: try again

    async def _update_in(
        self, uow: UnitOfWork, series_id: str, req: UpdateSeriesRequest, principal: Principal
    ) -> SeriesOut:
        series = await uow.series.get(series_id)
        if series is None:
            raise SeriesNotFound(series_id)
        if series.status is SeriesStatus.CANCELLED:
            raise InvalidState(
                f"series {series_id} is cancelled and cannot be changed",
                reason="series_cancelled_no_change",
            )
        now = self._clock.now()
        zone = ZoneInfo(series.timezone)
        strangers = [s for s in req.remove_sites if s not in series.sites]
        if strangers:
            raise InvalidRequest(
                f"not sites of this series: {', '.join(strangers)}",
                field="remove_sites",
                reason="not_in_series",
                values={"ids": ", ".join(strangers)},
            )
        occurrences = await uow.series.occurrences(series_id)
        fields = touched(req)
        if not fields:  # nothing to change: no new version, no invites sent again
            sites = await uow.directory.get_sites(list(series.sites))
            return series_out(series, occurrences, sites, now)
        future = [
            o for o in occurrences if o.status is not SessionStatus.CANCELLED and o.start > now
        ]
        if not future:
            raise InvalidState(
                f"every occurrence of series {series_id} has started or is cancelled: "
                "nothing is left to change",
                reason="series_over_no_change",
            )
        removed = set(req.remove_sites)
        site_ids = [s for s in series.sites if s not in removed]
        site_ids += [s for s in dict.fromkeys(req.add_sites) if s not in site_ids]
        if not site_ids:
            raise InvalidRequest(
                "a series needs at least one site", field="remove_sites", reason="no_sites"
            )
        host = req.host_site or series.host_site
        if host not in site_ids:
            raise InvalidRequest(
                f"the host site {host} must take part in the series",
                field="host_site",
                reason="host_outside",
                values={"site": host},
            )
        new_series = series.model_copy(
            update={
                k: v
                for k, v in {
                    "title": req.title,
                    "agenda": req.agenda,
                    "chair": req.chair,
                    "host_site": req.host_site,
                    "sites": tuple(site_ids),
                    "speaking_sites": tuple(req.speaking_sites)
                    if req.speaking_sites is not None
                    else None,
                    "buffer_before_minutes": req.buffer_before_minutes,
                    "buffer_after_minutes": req.buffer_after_minutes,
                    "version": series.version + 1,
                    "updated_at": now,
                }.items()
                if v is not None
            }
        )
        changes: list[tuple[Session, Session]] = []
        overwritten: list[OverwrittenOut] = []
        for o in future:
            update: dict[str, object] = {
                k: v
                for k, v in {
                    "title": req.title,
                    "agenda": req.agenda,
                    "chair": req.chair,
                    "host_site": req.host_site,
                    "speaking_sites": new_series.speaking_sites
                    if req.speaking_sites is not None
                    else None,
                    "buffer_before_minutes": req.buffer_before_minutes,
                    "buffer_after_minutes": req.buffer_after_minutes,
                }.items()
                if v is not None
            }
            if ex.SITES in fields:
                kept = {s.site_id: s for s in o.sites}
                update["sites"] = tuple(kept.get(i, SessionSite(site_id=i)) for i in site_ids)
            if ex.TIME in fields:
                update["start"], update["end"] = _moved(o, req, zone)
            hit = sorted(set(o.exception_fields) & fields)
            if hit:
                overwritten.append(
                    OverwrittenOut(
                        session_id=o.id,
                        occurrence=(o.occurrence or o.start).astimezone(zone),
                        fields=hit,
                    )
                )
            update.update(
                version=o.version + 1,
                updated_at=now,
                exception_fields=tuple(f for f in o.exception_fields if f not in fields),
            )
            changes.append((o, o.model_copy(update=update)))
        directory = await sites_for(
            uow, list(dict.fromkeys(i for _, n in changes for i in n.site_ids)), "add_sites"
        )
        policy = (await policies(uow))[series.kind]
        breaches: list[OccurrenceBreach] = []
        for old, new in changes:
            if new.host_site not in new.site_ids:
                raise InvalidRequest(
                    f"the host site {new.host_site} must take part in the occurrence of "
                    f"{(old.occurrence or old.start).astimezone(zone).isoformat()}",
                    field="host_site",
                    reason="host_outside",
                    values={"site": new.host_site},
                )
            if new.end <= new.start:
                raise InvalidRequest(
                    "end must be after start", field="duration_minutes", reason="end_before_start"
                )
            check_span(new)
            check_speakers(new)
            added = set(new.site_ids) - set(old.site_ids)
            if (new.start, new.end) != (old.start, old.end) or added:
                at = (old.occurrence or old.start).astimezone(zone)
                breaches.extend(
                    OccurrenceBreach(at, b) for b in breaches_of(new, directory, policy, now)
                )
        if breaches and not req.override_reason:
            raise SeriesPolicyViolation(breaches)
        news = [n for _, n in changes]
        if fields & {ex.TIME, ex.BUFFERS}:
            _check_apart(news, zone)
        resources = {n.id: session_resources(n) for n in news}
        every = list(
            dict.fromkeys(
                [r for o, _ in changes for r in session_resources(o)]
                + [r for n in news for r in resources[n.id]]
            )
        )
        await uow.claims.lock(every)
        found = await uow.claims.conflicts_over(
            every,
            [(r.start, r.end) for r in (n.claimed_range for n in news)],
            exclude_sessions=[n.id for n in news],
        )
        by_session = conflicts_by_session(news, resources, found)
        if by_session:
            raise SeriesConflict(
                [
                    OccurrenceConflict((n.occurrence or n.start).astimezone(zone), c)
                    for n in news
                    for c in by_session.get(n.id, [])
                ]
            )
        news = [self._links.issue(n, directory) for n in news]
        ranges = [n.claimed_range for n in news]
        await uow.claims.replace_many(
            [(n.id, resources[n.id], r.start, r.end) for n, r in zip(news, ranges, strict=True)]
        )
        await uow.sessions.update_many(
            [(new, *_site_changes(old, new)) for (old, _), new in zip(changes, news, strict=True)]
        )
        await uow.series.update(new_series)
        await queue_invites(uow, series.id, new_series.version, "series", now)
        gone = [s for s in series.sites if s in removed]
        if gone:
            await queue_invites(
                uow, series.id, new_series.version, "cancel-series", now, site_ids=gone
            )
        await uow.audit.record(
            at=now,
            actor=principal.actor,
            action="series.update",
            target=f"series:{series.id}",
            reason=req.override_reason,
            detail={
                "changes": {
                    k: v
                    for k, v in req.model_dump(mode="json", exclude_unset=True).items()
                    if k != "override_reason"
                },
                "version": new_series.version,
                "occurrences": len(news),
                "overwritten": [w.model_dump(mode="json") for w in overwritten],
                "policy_overridden": [b.as_json() for b in breaches],
            },
        )
        changed = {n.id: n for n in news}
        after = [changed.get(o.id, o) for o in occurrences]
        out = series_out(new_series, after, directory, now)
        return out.model_copy(
            update={
                "overwritten": overwritten,
                "policy_overridden": list(dict.fromkeys(b.breach.rule for b in breaches)),
            }
        )

    async def cancel(
        self, series_id: str, principal: Principal, reason: str | None = None
    ) -> SeriesOut:
        require_office(principal)

        async def attempt() -> SeriesOut:
            async with self._store.write() as uow:
                return await self._cancel_in(uow, series_id, principal, reason)

        return await retrying(attempt)

    async def _cancel_in(
        self, uow: UnitOfWork, series_id: str, principal: Principal, reason: str | None
    ) -> SeriesOut:
        series = await uow.series.get(series_id)
        if series is None:
            raise SeriesNotFound(series_id)
        now = self._clock.now()
        occurrences = await uow.series.occurrences(series_id)
        sites = await uow.directory.get_sites(list(series.sites))
        if series.status is SeriesStatus.CANCELLED:
            return series_out(series, occurrences, sites, now)
        standing = [o for o in occurrences if o.status is not SessionStatus.CANCELLED]
        future = [o for o in standing if o.start > now]
        if standing and not future:
            raise InvalidState(
                f"every occurrence of series {series_id} has started: nothing is left to cancel",
                reason="series_over_no_cancel",
            )
        cancelled = [
            o.model_copy(
                update={
                    "status": SessionStatus.CANCELLED,
                    "updated_at": now,
                    "version": o.version + 1,
                }
            )
            for o in future
        ]
        for o in cancelled:
            await uow.claims.release(o.id)
        await uow.sessions.update_many([(o, (), ()) for o in cancelled])
        done: Series = series.model_copy(
            update={
                "status": SeriesStatus.CANCELLED,
                "version": series.version + 1,
                "updated_at": now,
            }
        )
        await uow.series.update(done)
        await queue_invites(uow, series.id, done.version, "cancel-series", now)
        await uow.audit.record(
            at=now,
            actor=principal.actor,
            action="series.cancel",
            target=f"series:{series.id}",
            reason=reason,
            detail={"title": series.title, "occurrences": len(cancelled)},
        )
        changed = {o.id: o for o in cancelled}
        return series_out(done, [changed.get(o.id, o) for o in occurrences], sites, now)
