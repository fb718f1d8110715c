"""The series use cases (DESIGN 10): book, read, list, change and cancel a series. `Bookings`
hands them out as `bookings.series`, so the API, the pages and the CLI reach them where they
reach a session's."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.booking.book import BookingSteps
from orchestrator.booking.common import require_office, sites_of
from orchestrator.booking.idempotency import Created, Idempotency
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.series.book import SeriesSteps
from orchestrator.booking.series.changes import SeriesChanges
from orchestrator.booking.series.check import check_series
from orchestrator.booking.series.common import (
    GatewayUrls,
    may_see_series,
    series_out,
    with_gateway_links,
)
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    SeriesCheckOut,
    SeriesConflictPolicy,
    SeriesOut,
    UpdateSeriesRequest,
)
from orchestrator.domain.clock import Clock
from orchestrator.domain.collector import held_off
from orchestrator.domain.errors import (
    BookingConflict,
    SeriesConflict,
    SeriesNotFound,
)
from orchestrator.domain.models import Principal, Role
from orchestrator.store.base import ClaimOverlap, SeriesQuery, Store, UnitOfWork


class SeriesBookings:
    """The series use cases."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        links: JoinLinks,
        steps: BookingSteps,
        idempotency: Idempotency,
        gateway: GatewayUrls | None = None,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._clock = clock
        self._steps = SeriesSteps(clock, links, steps)
        self._booking_steps = steps
        self._idempotency = idempotency
        self._changes = SeriesChanges(store, clock, links)

    async def book(
        self,
        req: BookSeriesRequest,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
    ) -> Created[SeriesOut]:
        """Book every occurrence of a series in one unit of work (rules 1-6 for each). Answers
        201 with the series, or the first answer on replay.

        Raises InvalidRequest, SeriesPolicyViolation, SeriesConflict, PermissionDenied,
        IdempotencyMismatch."""
        require_office(principal)

        async def work(uow: UnitOfWork) -> Created[SeriesOut]:
            plan = await self._steps.plan(uow, req, lock=True)
            out = await self._steps.write(uow, plan, principal, req.override_reason)
            return Created(out, 201)

        try:
            # up to 200 occurrences of their sites: as a national booking, no collection meanwhile
            with held_off():
                answer = await self._idempotency.once(
                    principal, idempotency_key, req, work, SeriesOut
                )
        except ClaimOverlap as exc:
            # The database refused a claim another booking took after the check (the locks make
            # that rare): name what stands in the way now.
            raise await self._details(req) from exc
        out = await with_gateway_links(answer.value, principal, self._gateway)
        return replace(answer, value=out)

    async def check(self, req: BookSeriesRequest, principal: Principal) -> SeriesCheckOut:
        """A dry run of `book`: every occurrence with the rules it breaks and the claims others
        hold over it, and what booking now would answer, with nothing locked or written.

        Raises PermissionDenied, InvalidRequest (whatever `book` would refuse as invalid)."""
        require_office(principal)
        async with self._store.read() as uow:
            return await check_series(uow, self._booking_steps, req, self._clock.now())

    async def _details(self, req: BookSeriesRequest) -> BookingConflict:
        strict = req.model_copy(update={"conflict_policy": SeriesConflictPolicy.ALL_OR_NOTHING})
        async with self._store.read() as uow:
            try:
                await self._steps.plan(uow, strict, lock=False)
            except BookingConflict as conflict:
                return conflict
        return SeriesConflict([])  # the winner is gone again: "try again"

    async def get(self, series_id: str, principal: Principal) -> SeriesOut:
        """One series with its occurrences, as the caller may see it. Raises SeriesNotFound."""
        async with self._store.read() as uow:
            series = await uow.series.get(series_id)
            if series is None or not may_see_series(principal, series):
                raise SeriesNotFound(series_id)
            occurrences = await uow.series.occurrences(series_id)
            sites = await uow.directory.get_sites(list(series.sites))
        out = series_out(series, occurrences, sites, self._clock.now())
        return await with_gateway_links(out, principal, self._gateway)

    async def list_series(self, query: SeriesQuery, principal: Principal) -> list[SeriesOut]:
        """The series matching `query` that the caller may see, earliest first occurrence first."""
        if principal.role is Role.CHAIR:
            query = replace(query, chair_email=principal.email or "-")
        elif principal.role is Role.COORDINATOR:
            if query.site not in (None, principal.site_id):
                return []
            query = replace(query, site=principal.site_id or "-")
        now = self._clock.now()
        query = replace(query, now=now)
        out = []
        async with self._store.read() as uow:
            found = await uow.series.find(query)
            for series in found:
                occurrences = await uow.series.occurrences(series.id)
                sites = await sites_of(uow, occurrences)
                out.append(series_out(series, occurrences, sites, now))
        return [await with_gateway_links(s, principal, self._gateway) for s in out]

    async def update(
        self, series_id: str, req: UpdateSeriesRequest, principal: Principal
    ) -> SeriesOut:
        """Change every occurrence that has not started, all or nothing, each checked (rules 1,
        4, 6); the answer lists the occurrences changed alone whose fields it replaced.

        Raises SeriesNotFound, InvalidRequest, InvalidState, SeriesPolicyViolation,
        SeriesConflict, PermissionDenied."""
        with held_off():  # every occurrence to come, and their sites (see `book`)
            out = await self._changes.update(series_id, req, principal)
        return await with_gateway_links(out, principal, self._gateway)

    async def cancel(
        self, series_id: str, principal: Principal, reason: str | None = None
    ) -> SeriesOut:
        """Cancel every occurrence that has not started and release their claims. Cancelling
        twice answers the same. Raises SeriesNotFound, InvalidState, PermissionDenied."""
        out = await self._changes.cancel(series_id, principal, reason)
        return await with_gateway_links(out, principal, self._gateway)
