"""Report use cases: the year's attendance and preparation per site, region and in total, and
the sites x sessions grid of verdicts.

Frozen records are summed by one aggregate query over the per-site results the freeze writes
(`uow.reports`); the few ended sessions whose record is not frozen yet are counted as they stand,
from their live record (`LiveResults`), and said `provisional`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import PermissionDenied, invalid_value
from orchestrator.domain.models import (
    DEFAULT_TIMEZONE,
    Principal,
    Role,
    Session,
    SessionKind,
    SessionStatus,
    Slug,
    ZoneName,
)
from orchestrator.domain.preparation import TaskRule, rules_for, status_of, tasks_for
from orchestrator.store.base import ReportScope, SessionQuery, SiteResult, SiteTotals, Store

STATUSES = ("present", "partial", "absent", "unknown")
MAX_DAYS = 800  # a report covers at most about two years
GRID_SESSIONS = 60  # columns of the grid: a series' year of weeks, a window's regional meetings


class LiveResults(Protocol):
    """Each site's verdict in a session's record as it stands (the session has ended but its
    record is not frozen yet). Raises `SessionNotFound` for an unknown session."""

    async def results(self, session_id: str) -> Sequence[SiteResult]: ...


def school_year(today: date) -> tuple[date, date]:
    """The administrative year holding `today`: 1 September to 31 August (DESIGN 11)."""
    first = today.year if today.month >= 9 else today.year - 1
    return date(first, 9, 1), date(first + 1, 8, 31)


class PreparationQuery(BaseModel):
    """`from` and `to`: calendar dates in `tz`, both inclusive (default: the administrative year
    holding today)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from", description="YYYY-MM-DD, inclusive")
    to: date | None = Field(default=None, description="YYYY-MM-DD, inclusive")
    tz: ZoneName = Field(default=DEFAULT_TIMEZONE, description="The zone of the dates")
    region: Slug | None = Field(default=None, description="Only the sites of this region")

    @model_validator(mode="after")
    def _check(self) -> PreparationQuery:
        if (self.from_ is None) != (self.to is None):
            raise invalid_value("half_range", "give both 'from' and 'to', or neither")
        if self.from_ is not None and self.to is not None:
            if self.to < self.from_:
                raise invalid_value("to_before_from", "'to' must not be before 'from'")
            if (self.to - self.from_).days > MAX_DAYS:
                raise invalid_value(
                    "range_too_long", f"a report covers at most {MAX_DAYS} days", days=MAX_DAYS
                )
        return self


class ReportQuery(PreparationQuery):
    """As `PreparationQuery`; a session counts on the date of its start in `tz`."""

    kind: SessionKind | None = Field(default=None, description="national or regional only")
    series: str | None = Field(
        default=None, max_length=36, description="Only the occurrences of this series"
    )


class AttendanceCounts(BaseModel):
    sessions: int = 0
    present: int = 0
    partial: int = 0
    absent: int = 0
    unknown: int = 0
    late: int = 0
    left_early: int = 0
    connected_minutes: float = 0.0
    attendance_rate: float | None = Field(
        default=None, description="present / (sessions - unknown); null when that is 0"
    )
    provisional: int = Field(
        default=0, description="Sessions whose record is not frozen yet (counted as it stands)"
    )


class SiteAttendanceOut(AttendanceCounts):
    site_id: str
    region: str | None


class RegionAttendanceOut(AttendanceCounts):
    region: str | None = Field(description="null: the sites of no region")


class AttendanceReportOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    tz: str
    sites: list[SiteAttendanceOut]
    regions: list[RegionAttendanceOut]
    totals: AttendanceCounts

    model_config = ConfigDict(populate_by_name=True)


class PreparationCounts(BaseModel):
    due: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    open: int = Field(default=0, description="Not submitted, not yet due")


class SitePreparationOut(PreparationCounts):
    site_id: str
    region: str | None


class RegionPreparationOut(PreparationCounts):
    region: str | None


class PreparationReportOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    tz: str
    sites: list[SitePreparationOut]
    regions: list[RegionPreparationOut]
    totals: PreparationCounts

    model_config = ConfigDict(populate_by_name=True)


class GridSessionOut(BaseModel):
    id: str
    title: str
    start: datetime
    kind: str
    frozen: bool


class GridOut(BaseModel):
    """Sites x sessions: `cells[site][i]` is the site's verdict at `sessions[i]` (present,
    partial, absent, unknown, with ` late` / ` left_early` appended), "" when it took no part."""

    sessions: list[GridSessionOut]
    more: bool = Field(description="More sessions matched than the grid shows")
    sites: list[str]
    regions: dict[str, str | None]
    cells: dict[str, list[str]]


@dataclass
class _Sum:
    sessions: int = 0
    present: int = 0
    partial: int = 0
    absent: int = 0
    unknown: int = 0
    late: int = 0
    left_early: int = 0
    minutes: float = 0.0
    provisional: int = 0

    def add_totals(self, t: SiteTotals) -> None:
        self.sessions += t.sessions
        self.present += t.present
        self.partial += t.partial
        self.absent += t.absent
        self.unknown += t.unknown
        self.late += t.late
        self.left_early += t.left_early
        self.minutes += t.connected_minutes

    def add_result(self, r: SiteResult) -> None:
        self.sessions += 1
        self.provisional += 1
        if r.status in STATUSES:
            setattr(self, r.status, getattr(self, r.status) + 1)
        self.late += r.late
        self.left_early += r.left_early
        self.minutes += r.connected_minutes

    def add(self, other: _Sum) -> None:
        for name in ("sessions", "present", "partial", "absent", "unknown", "late"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.left_early += other.left_early
        self.minutes += other.minutes
        self.provisional += other.provisional

    def counts(self) -> AttendanceCounts:
        known = self.sessions - self.unknown
        return AttendanceCounts(
            sessions=self.sessions,
            present=self.present,
            partial=self.partial,
            absent=self.absent,
            unknown=self.unknown,
            late=self.late,
            left_early=self.left_early,
            connected_minutes=round(self.minutes, 1),
            attendance_rate=round(self.present / known, 4) if known else None,
            provisional=self.provisional,
        )


def _bounds(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    """[start of `start`, start of the day after `end`) in `zone`: both dates inclusive."""
    tz = ZoneInfo(zone)
    return (
        datetime.combine(start, time(), tz),
        datetime.combine(end + timedelta(days=1), time(), tz),
    )


def _region_key(region: str | None) -> tuple[bool, str]:
    return (region is None, region or "")


class Reports:
    """The year's reports: the office sees every session, a chair the sessions they chair;
    coordinators are refused."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        live: LiveResults,
        task_rules: Mapping[SessionKind, Sequence[TaskRule]] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._live = live
        self._rules = dict(task_rules or {})

    def _range(self, query: PreparationQuery) -> tuple[date, date]:
        if query.from_ is not None and query.to is not None:
            return query.from_, query.to
        return school_year(self._clock.now().astimezone(ZoneInfo(query.tz)).date())

    def _scope(self, query: ReportQuery, principal: Principal) -> tuple[ReportScope, date, date]:
        chair = _chair_of(principal)
        first, last = self._range(query)
        start, end = _bounds(first, last, query.tz)
        scope = ReportScope(
            start=start,
            end=end,
            now=self._clock.now(),
            region=query.region,
            kind=query.kind,
            series_id=query.series,
            chair_email=chair,
        )
        return scope, first, last

    async def _live_results(self, session_ids: Iterable[str]) -> list[SiteResult]:
        out: list[SiteResult] = []
        for session_id in session_ids:
            out.extend(await self._live.results(session_id))
        return out

    async def attendance(self, query: ReportQuery, principal: Principal) -> AttendanceReportOut:
        """Each site's attendance over the ended, not cancelled sessions in the range, each
        region's (counts summed, rate recomputed) and the totals."""
        scope, first, last = self._scope(query, principal)
        async with self._store.read() as uow:
            totals = await uow.reports.site_totals(scope)
            unfrozen = await uow.reports.unfrozen(scope)
        sums: dict[str, _Sum] = {}
        regions: dict[str, str | None] = {}
        for t in totals:
            sums.setdefault(t.site_id, _Sum()).add_totals(t)
            regions[t.site_id] = t.region
        live = await self._live_results(unfrozen)
        if live:
            async with self._store.read() as uow:
                known = await uow.reports.regions_of(sorted({r.site_id for r in live}))
            for r in live:
                region = known.get(r.site_id)
                if query.region is not None and region != query.region:
                    continue
                regions[r.site_id] = region
                sums.setdefault(r.site_id, _Sum()).add_result(r)
        by_region: dict[str | None, _Sum] = {}
        total = _Sum()
        for site, s in sums.items():
            by_region.setdefault(regions[site], _Sum()).add(s)
            total.add(s)
        return AttendanceReportOut(
            from_=first,
            to=last,
            tz=query.tz,
            sites=[
                SiteAttendanceOut(
                    site_id=site, region=regions[site], **sums[site].counts().model_dump()
                )
                for site in sorted(sums, key=lambda x: (_region_key(regions[x]), x))
            ],
            regions=[
                RegionAttendanceOut(region=region, **by_region[region].counts().model_dump())
                for region in sorted(by_region, key=_region_key)
            ],
            totals=total.counts(),
        )

    async def grid(self, query: ReportQuery, principal: Principal) -> GridOut:
        """The sites x sessions grid of verdicts for the filtered sessions (at most
        `GRID_SESSIONS` of them, the earliest)."""
        scope, _, _ = self._scope(query, principal)
        async with self._store.read() as uow:
            sessions = await uow.reports.sessions(scope, limit=GRID_SESSIONS + 1)
            more = len(sessions) > GRID_SESSIONS
            sessions = sessions[:GRID_SESSIONS]
            stored = await uow.reports.results([s.id for s in sessions if s.frozen])
        results = stored + await self._live_results(s.id for s in sessions if not s.frozen)
        async with self._store.read() as uow:
            regions = await uow.reports.regions_of(sorted({r.site_id for r in results}))
        column = {s.id: i for i, s in enumerate(sessions)}
        cells: dict[str, list[str]] = {}
        for r in results:
            if query.region is not None and regions.get(r.site_id) != query.region:
                continue
            row = cells.setdefault(r.site_id, [""] * len(sessions))
            words = (
                [r.status] + (["late"] if r.late else []) + (["left_early"] if r.left_early else [])
            )
            row[column[r.session_id]] = " ".join(words)
        sites = sorted(cells, key=lambda x: (_region_key(regions.get(x)), x))
        return GridOut(
            sessions=[
                GridSessionOut(
                    id=s.id, title=s.title, start=s.start, kind=s.kind.value, frozen=s.frozen
                )
                for s in sessions
            ],
            more=more,
            sites=sites,
            regions={s: regions.get(s) for s in sites},
            cells=cells,
        )

    async def preparation(
        self, query: PreparationQuery, principal: Principal
    ) -> PreparationReportOut:
        """Each site's preparation tasks due in the range: on time, late, missing (due, never
        submitted) and open (not yet due); a region head's tasks count under its head site."""
        chair = _chair_of(principal)
        first, last = self._range(query)
        start, end = _bounds(first, last, query.tz)
        now = self._clock.now()
        # a task falls due at most `reach` days from its session (counted days, working days,
        # and a holiday's roll): sessions that far around the range may owe tasks inside it
        days = max((r.days for rules in self._all_rules() for r in rules), default=0)
        reach = timedelta(days=2 * days + 30)
        async with self._store.read() as uow:
            found: list[Session] = []
            offset = 0
            while True:
                page = await uow.sessions.find(
                    SessionQuery(
                        start_from=start - reach,
                        start_to=end + reach,
                        chair_email=chair,
                        limit=1000,
                        offset=offset,
                    )
                )
                found.extend(s for s in page if s.status is not SessionStatus.CANCELLED)
                if len(page) < 1000:
                    break
                offset += 1000
            site_ids = sorted({s for session in found for s in session.site_ids})
            sites = await uow.directory.get_sites(site_ids)
            heads = {r.id: r.head_site for r in await uow.directory.list_regions()}
            submitted = await uow.reports.submitted([s.id for s in found])
        counts: dict[str, PreparationCounts] = {}
        for session in found:
            head = heads.get(session.region or "")
            head = head if head in session.site_ids else None
            for task in tasks_for(session, sites, head, rules_for(session.kind, self._rules)):
                if not start <= task.due < end:
                    continue
                region = sites[task.site_id].region if task.site_id in sites else None
                if query.region is not None and region != query.region:
                    continue
                c = counts.setdefault(task.site_id, PreparationCounts())
                c.due += 1
                at = submitted.get((session.id, task.id))
                state = status_of(task, at, now).value
                if at is not None:
                    if state == "late":
                        c.late += 1
                    else:
                        c.on_time += 1
                elif task.due < now:
                    c.missing += 1
                else:
                    c.open += 1
        region_of = {s: (sites[s].region if s in sites else None) for s in counts}
        by_region: dict[str | None, PreparationCounts] = {}
        total = PreparationCounts()
        for site, c in counts.items():
            r = by_region.setdefault(region_of[site], PreparationCounts())
            for x in (r, total):
                x.due += c.due
                x.on_time += c.on_time
                x.late += c.late
                x.missing += c.missing
                x.open += c.open
        return PreparationReportOut(
            from_=first,
            to=last,
            tz=query.tz,
            sites=[
                SitePreparationOut(site_id=s, region=region_of[s], **counts[s].model_dump())
                for s in sorted(counts, key=lambda x: (_region_key(region_of[x]), x))
            ],
            regions=[
                RegionPreparationOut(region=r, **by_region[r].model_dump())
                for r in sorted(by_region, key=_region_key)
            ],
            totals=total,
        )

    def _all_rules(self) -> list[Sequence[TaskRule]]:
        return [rules_for(kind, self._rules) for kind in SessionKind]


def _chair_of(principal: Principal) -> str | None:
    """The chair's address that scopes the report (None: the office sees all). Raises
    PermissionDenied for a coordinator."""
    if principal.role is Role.OFFICE:
        return None
    if principal.role is Role.CHAIR:
        # a chair without an address chairs nothing: matched by an address no session has
        return principal.email or "\x00"
    raise PermissionDenied("only the office and chairs read reports")
