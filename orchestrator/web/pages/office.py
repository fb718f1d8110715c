"""Pages: the office's timeline of sessions, the booking form and the regional-round planner.

The timeline draws one lane per region and one for the leader groups, so overlaps show at a
glance; the booking form checks conflicts and suggests free slots as it is filled (office.js
calls `/office/book/check`); the planner proposes a non-overlapping round and commits it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from orchestrator.booking.schemas import (
    MAX_BUFFER_MINUTES,
    BookSessionRequest,
    ProposalOut,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionOut,
    SlotQuery,
)
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.errors import (
    BookingConflict,
    Breach,
    IdempotencyMismatch,
    InvalidRequest,
    OrchestratorError,
    PolicyViolation,
)
from orchestrator.domain.models import (
    Chair,
    ConflictPolicy,
    Principal,
    Role,
    SessionKind,
    SessionStatus,
    resources_for,
)
from orchestrator.store.base import SessionQuery
from orchestrator.web.http import BOOKINGS, DIRECTORY
from orchestrator.web.pages.common import (
    PAGE_CLOCK,
    WEEKDAYS,
    ZONES,
    form_date,
    form_of,
    form_time,
    format_when,
    language,
    local_instant,
    render,
    text_of,
    valid_zone,
    viewer_for,
    zone_name,
)

PROVIDERS = ("static", "jitsi", "jaas")
GROUPS_LANE = "groups"
NO_REGION_LANE = "none"
DAY_START_HOUR = 7  # the timeline shows at least 07:00-18:00 of each day
DAY_END_HOUR = 18
PAGE_SIZE = 200
MAX_LISTED = 5000  # a month of a busy year is ~4,200 sessions
SUGGESTIONS = 6
SUGGEST_DAYS = 28


# the timeline, as data -------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """Something drawn on the timeline: a booked session or a proposed one."""

    key: str
    title: str
    start: datetime
    end: datetime
    lanes: tuple[str, ...]
    href: str | None = None
    cancelled: bool = False
    proposed: bool = False


@dataclass
class Block:
    item: Item
    label: str  # "08:00–11:30" in the viewer's zone
    left: float  # percent of the day's visible span
    width: float
    track: int = 0
    overlap: bool = False

    @property
    def starts(self) -> str:
        return self.label.partition("–")[0]

    @property
    def ends(self) -> str:
        return self.label.partition("–")[2]


@dataclass
class Cell:
    day: date
    blocks: list[Block] = field(default_factory=list)
    tracks: int = 1


@dataclass
class Lane:
    id: str
    name: str
    cells: list[Cell]


@dataclass
class Grid:
    days: list[date]
    lanes: list[Lane]
    first_hour: int
    last_hour: int
    compact: bool  # a month: blocks are stacked chips, not placed by time


def build_grid(
    days: Sequence[date],
    lanes: Sequence[tuple[str, str]],
    items: Iterable[Item],
    zone: str,
    *,
    compact: bool = False,
    keep_empty: Sequence[str] = (),
) -> Grid:
    """Lay `items` out on `days` (in `zone`), one row per lane: each item in each of its lanes,
    split at local midnight, stacked on tracks where it overlaps another in the same lane.

    Lanes without items are dropped unless named in `keep_empty` (regions always show)."""
    tz = ZoneInfo(zone)
    day_set = set(days)
    pieces: dict[tuple[str, date], list[tuple[Item, datetime, datetime]]] = {}
    first_hour, last_hour = DAY_START_HOUR, DAY_END_HOUR
    for item in items:
        local_start = item.start.astimezone(tz)
        local_end = item.end.astimezone(tz)
        day = local_start.date()
        while day <= local_end.date():
            begins = datetime.combine(day, time(0), tz)
            ends = datetime.combine(day + timedelta(days=1), time(0), tz)
            piece_start, piece_end = max(local_start, begins), min(local_end, ends)
            if day in day_set and piece_start < piece_end:
                first_hour = min(first_hour, piece_start.hour)
                last_hour = max(last_hour, _ceil_hour(piece_end, day))
                for lane in item.lanes:
                    pieces.setdefault((lane, day), []).append((item, piece_start, piece_end))
            day += timedelta(days=1)
    span = (last_hour - first_hour) * 60
    out: list[Lane] = []
    for lane_id, lane_name in lanes:
        cells = []
        for day in days:
            cell = Cell(day)
            row = sorted(pieces.get((lane_id, day), []), key=lambda p: (p[1], p[2], p[0].key))
            track_ends: list[datetime] = []
            for item, s, e in row:
                minutes = (s.hour - first_hour) * 60 + s.minute
                length = (e - s).total_seconds() / 60
                block = Block(
                    item,
                    _range_label(item.start, item.end, tz),
                    left=round(100 * minutes / span, 2),
                    width=round(max(100 * length / span, 1.5), 2),
                )
                free = [i for i, end in enumerate(track_ends) if end <= s]
                if free:
                    block.track = free[0]
                    track_ends[free[0]] = e
                else:
                    block.track = len(track_ends)
                    track_ends.append(e)
                cell.blocks.append(block)
            for a in cell.blocks:
                a.overlap = any(
                    b is not a
                    and not a.item.cancelled
                    and not b.item.cancelled
                    and a.item.start < b.item.end
                    and b.item.start < a.item.end
                    for b in cell.blocks
                )
            cell.tracks = max(1, len(track_ends))
            cells.append(cell)
        if any(c.blocks for c in cells) or lane_id in keep_empty:
            out.append(Lane(lane_id, lane_name, cells))
    return Grid(list(days), out, first_hour, last_hour, compact)


def _ceil_hour(at: datetime, day: date) -> int:
    if at.date() > day:
        return 24
    return at.hour + (1 if at.minute or at.second else 0)


def _range_label(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    return f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M}"


def lanes_of(
    regions: Iterable[str],
    site_ids: Iterable[str],
    leader_groups: Sequence[str],
    site_region: Mapping[str, str | None],
) -> tuple[str, ...]:
    """A session's lanes: its region's, every region whose sites it claims, and the leader
    groups' lane when it needs leaders."""
    lanes = [*regions]
    lanes.extend(r for r in (site_region.get(s) for s in site_ids) if r)
    if leader_groups:
        lanes.append(GROUPS_LANE)
    return tuple(dict.fromkeys(lanes)) or (NO_REGION_LANE,)


def lane_rows(request: web.Request, directory: DirectoryOut) -> list[tuple[str, str]]:
    rows = [(r.id, r.name) for r in directory.regions]
    rows.append((GROUPS_LANE, text_of(request, "office.lane_groups")))
    rows.append((NO_REGION_LANE, text_of(request, "office.lane_none")))
    return rows


def session_item(s: SessionOut, site_region: Mapping[str, str | None]) -> Item:
    return Item(
        key=s.id,
        title=s.title,
        start=s.start,
        end=s.end,
        lanes=lanes_of(
            [s.region] if s.region else [],
            [x.site_id for x in s.sites],
            s.leader_groups,
            site_region,
        ),
        href=f"/office/sessions/{s.id}",
        cancelled=s.status is SessionStatus.CANCELLED,
    )


# reading what the pages need ---------------------------------------------------------------


async def _directory(request: web.Request, viewer: Principal) -> DirectoryOut:
    return await request.app[DIRECTORY].view(viewer)


async def sessions_between(
    request: web.Request, viewer: Principal, start: datetime, end: datetime
) -> list[SessionOut]:
    """Every session (cancelled ones too) that overlaps `[start, end)`, earliest first."""
    found: list[SessionOut] = []
    offset = 0
    while len(found) < MAX_LISTED:
        page = await request.app[BOOKINGS].list_sessions(
            SessionQuery(start_from=start, start_to=end, limit=PAGE_SIZE, offset=offset), viewer
        )
        found.extend(page)
        if len(page) < PAGE_SIZE:
            break
        offset += PAGE_SIZE
    return found


def _today(request: web.Request, zone: str) -> date:
    return request.app[PAGE_CLOCK].now().astimezone(ZoneInfo(zone)).date()


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def _period(view: str, anchor: date) -> tuple[list[date], date, date]:
    """The days shown, and the anchors of the previous and next period."""
    if view == "month":
        first = anchor.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        days = [first + timedelta(days=i) for i in range((following - first).days)]
        return days, previous, following
    monday = anchor - timedelta(days=anchor.weekday())
    return (
        [monday + timedelta(days=i) for i in range(7)],
        monday - timedelta(days=7),
        monday + timedelta(days=7),
    )


def _day_heading(day: date, lang: str) -> str:
    weekday = WEEKDAYS[lang][day.weekday()]
    return f"{weekday} {day:%d/%m}" if lang == "vi" else f"{weekday} {day:%m-%d}"


# the timeline page ---------------------------------------------------------------------------


async def timeline(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    zone = zone_name(request)
    tz = ZoneInfo(zone)
    view = "month" if request.query.get("view") == "month" else "week"
    today = _today(request, zone)
    asked = request.query.get("date")
    anchor = form_date(asked) or today
    days, previous, following = _period(view, anchor)
    start, end = _day_start(days[0], tz), _day_start(days[-1] + timedelta(days=1), tz)
    directory = await _directory(request, viewer)
    site_region = {s.id: s.region for s in directory.sites}
    sessions = await sessions_between(request, viewer, start, end)
    hide_cancelled = request.query.get("cancelled") == "hide"
    items = [
        session_item(s, site_region)
        for s in sessions
        if not (hide_cancelled and s.status is SessionStatus.CANCELLED)
    ]
    grid = build_grid(
        days,
        lane_rows(request, directory),
        items,
        zone,
        compact=view == "month",
        keep_empty=[r.id for r in directory.regions] + [GROUPS_LANE],
    )
    lang = language(request)
    return render(
        request,
        "office/timeline.html",
        {
            "grid": grid,
            "view": view,
            "anchor": anchor,
            "today": today,
            "previous": previous,
            "following": following,
            "bad_date": bool(asked) and form_date(asked) is None,
            "hide_cancelled": hide_cancelled,
            "day_heading": lambda d: _day_heading(d, lang),
            "count": sum(1 for s in sessions if s.status is not SessionStatus.CANCELLED),
            "period_label": _period_label(view, days, lang),
        },
    )


def _period_label(view: str, days: Sequence[date], lang: str) -> str:
    if view == "month":
        return f"{days[0]:%m/%Y}" if lang == "vi" else f"{days[0]:%Y-%m}"
    if lang == "vi":
        return f"{days[0]:%d/%m/%Y} – {days[-1]:%d/%m/%Y}"
    return f"{days[0]:%Y-%m-%d} – {days[-1]:%Y-%m-%d}"


# the booking form ----------------------------------------------------------------------------

LIST_FIELDS = ("sites", "region_all", "leader_groups")
TEXT_FIELDS = (
    "title",
    "agenda",
    "kind",
    "region",
    "date",
    "start_time",
    "end_time",
    "timezone",
    "host_site",
    "chair_name",
    "chair_email",
    "provider",
    "buffer_before",
    "buffer_after",
    "conflict_policy",
    "override_reason",
    "idempotency_key",
)


@dataclass
class BookingForm:
    """What the booking form holds, as typed, and what is wrong with it."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def sites(self) -> list[str]:
        return list(self.values["sites"])

    @property
    def groups(self) -> list[str]:
        return list(self.values["leader_groups"])

    def buffer(self, name: str) -> int | None:
        try:
            value = int(str(self.values[name]))
        except ValueError:
            return None
        return value if 0 <= value <= MAX_BUFFER_MINUTES else None


def _default_values(request: web.Request, zone: str) -> dict[str, Any]:
    day = _today(request, zone) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    q = request.query
    return {
        "title": q.get("title", ""),
        "agenda": "",
        "kind": "regional" if q.get("kind") == "regional" else "national",
        "region": q.get("region", ""),
        "date": q.get("date") or day.isoformat(),
        "start_time": q.get("start") or "08:00",
        "end_time": q.get("end") or "11:00",
        "timezone": zone,
        "host_site": q.get("host_site", ""),
        "sites": q.getall("sites", []),
        "region_all": [],
        "leader_groups": q.getall("leader_groups", []),
        "chair_name": "",
        "chair_email": "",
        "provider": "static",
        "buffer_before": "30",
        "buffer_after": "15",
        "conflict_policy": ConflictPolicy.ALL_OR_NOTHING.value,
        "override_reason": "",
        "idempotency_key": uuid.uuid4().hex,
    }


def read_booking(
    request: web.Request, data: MultiMapping[Any], directory: DirectoryOut
) -> BookingForm:
    """The form as typed (values kept verbatim for re-display), the instants it names, and
    its problems in the viewer's words. `data` is a MultiDict (posted form or query)."""
    values: dict[str, Any] = {k: str(data.get(k, "")).strip() for k in TEXT_FIELDS}
    getall = data.getall
    for name in LIST_FIELDS:
        values[name] = [str(v) for v in getall(name, [])]
    by_region: dict[str, list[str]] = {}
    for site in directory.sites:
        by_region.setdefault(site.region or "", []).append(site.id)
    chosen = [*values["sites"]]
    for region_id in values["region_all"]:
        chosen.extend(by_region.get(region_id, []))
    if values["host_site"]:
        chosen.insert(0, values["host_site"])
    values["sites"] = list(dict.fromkeys(chosen))
    form = BookingForm(values)
    errors = form.errors

    def say(key: str, **kw: Any) -> str:
        return text_of(request, key, **kw)

    values["timezone"] = values["timezone"] or zone_name(request)
    if valid_zone(values["timezone"]):
        tz = ZoneInfo(values["timezone"])
    else:
        errors["timezone"] = say("office.err.zone")
        tz = ZoneInfo(zone_name(request))
    day = form_date(values["date"])
    if day is None:
        errors["date"] = say("office.err.date")
    start_t, end_t = form_time(values["start_time"]), form_time(values["end_time"])
    if start_t is None:
        errors["start_time"] = say("office.err.time")
    if end_t is None:
        errors["end_time"] = say("office.err.time")
    if day and start_t and end_t:
        starts, ends = local_instant(day, start_t, tz), local_instant(day, end_t, tz)
        if starts is None:
            errors["start_time"] = say("office.err.time")
        if ends is None:
            errors["end_time"] = say("office.err.time")
        if starts and ends:
            form.start, form.end = starts, ends
            if ends <= starts:
                errors["end_time"] = say("office.err.end_before_start")
    for name in ("buffer_before", "buffer_after"):
        if form.buffer(name) is None:
            errors[name] = say("office.err.buffer", max=MAX_BUFFER_MINUTES)
    if values["kind"] not in ("national", "regional"):
        values["kind"] = "national"
    if values["kind"] == "regional" and not values["region"]:
        errors["region"] = say("office.err.region_needed")
    if values["provider"] not in PROVIDERS:
        errors["provider"] = say("office.err.provider", name=values["provider"])
    return form


def booking_request(request: web.Request, form: BookingForm) -> BookSessionRequest | None:
    """The use case's request, once every field that a booking needs is there."""
    v, errors = form.values, form.errors

    def say(key: str, **kw: Any) -> str:
        return text_of(request, key, **kw)

    if not v["title"]:
        errors["title"] = say("office.err.required")
    if not v["host_site"]:
        errors["host_site"] = say("office.err.host_needed")
    if not v["chair_name"]:
        errors["chair_name"] = say("office.err.required")
    if not v["chair_email"]:
        errors["chair_email"] = say("office.err.required")
    else:
        try:
            Chair(name=v["chair_name"] or "-", email=v["chair_email"])
        except ValidationError:
            errors["chair_email"] = say("office.err.email")
    if errors or form.start is None or form.end is None:
        return None
    try:
        return BookSessionRequest(
            title=v["title"],
            agenda=v["agenda"],
            kind=SessionKind(v["kind"]),
            region=v["region"] or None,
            start=form.start,
            end=form.end,
            timezone=v["timezone"],
            host_site=v["host_site"],
            sites=form.sites,
            chair=Chair(name=v["chair_name"], email=v["chair_email"]),
            leader_groups=form.groups,
            provider=v["provider"],
            buffer_before_minutes=form.buffer("buffer_before"),
            buffer_after_minutes=form.buffer("buffer_after"),
            conflict_policy=ConflictPolicy(v["conflict_policy"] or "all_or_nothing"),
            override_reason=v["override_reason"] or None,
        )
    except (ValidationError, ValueError) as exc:
        for problem in exc.errors() if isinstance(exc, ValidationError) else []:
            where = str(problem["loc"][0]) if problem["loc"] else "title"
            name = {"chair": "chair_email", "start": "start_time", "end": "end_time"}.get(
                where, where
            )
            errors.setdefault(name, say("office.err.invalid", detail=problem["msg"]))
        if not errors:
            errors["title"] = say("office.err.invalid", detail=str(exc))
        return None


@dataclass
class Names:
    """Display names of the directory's regions, sites and groups, for sentences."""

    sites: dict[str, str]
    regions: dict[str, str]
    groups: dict[str, str]

    @classmethod
    def of(cls, directory: DirectoryOut) -> Names:
        return cls(
            sites={s.id: s.name for s in directory.sites},
            regions={r.id: r.name for r in directory.regions},
            groups={g.id: g.name for g in directory.leader_groups},
        )

    def resource(self, request: web.Request, resource: str) -> str:
        kind, _, ident = resource.partition(":")
        if kind == "site":
            return self.sites.get(ident, ident)
        if kind == "region":
            return text_of(request, "office.res_region", name=self.regions.get(ident, ident))
        if kind == "group":
            return self.groups.get(ident, ident)
        if kind == "chair":
            return text_of(request, "office.res_chair", email=ident)
        return resource


def conflict_sentences(
    request: web.Request, names: Names, held: Sequence[tuple[SessionOut, Sequence[str]]]
) -> list[str]:
    """'Sở GD&ĐT Đà Nẵng đã có phiên «…» 08:00–11:30 (T5 10/12/2026)', one per holder."""
    zone = zone_name(request)
    lang = language(request)
    lines = []
    for session, resources in held:
        lines.append(
            text_of(
                request,
                "office.conflict",
                who=", ".join(names.resource(request, r) for r in resources),
                title=session.title,
                time=_range_label(session.start, session.end, ZoneInfo(zone)),
                day=format_when(session.start, lang, zone, "date"),
            )
        )
    return lines


def breach_sentences(request: web.Request, names: Names, breaches: Sequence[Breach]) -> list[str]:
    by_rule: dict[str, list[str]] = {}
    for b in breaches:
        sites = by_rule.setdefault(b.rule, [])
        if b.site_id:
            sites.append(names.sites.get(b.site_id, b.site_id))
    lines = []
    for rule, sites in by_rule.items():
        line = text_of(request, f"office.rule.{rule}")
        if sites:
            line += " " + text_of(request, "office.rule_sites", sites=", ".join(sites))
        lines.append(line)
    return lines


async def overlapping(
    request: web.Request,
    viewer: Principal,
    req_resources: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[tuple[SessionOut, list[str]]]:
    """Sessions (not cancelled) whose buffered range overlaps `[start, end)` and that hold one
    of `req_resources`, with the resources they share."""
    margin = timedelta(minutes=MAX_BUFFER_MINUTES)
    wanted = set(req_resources)
    found = []
    for s in await sessions_between(request, viewer, start - margin, end + margin):
        if s.status is SessionStatus.CANCELLED:
            continue
        if not (s.claimed.start < end and start < s.claimed.end):
            continue
        theirs = resources_for(
            sites=[x.site_id for x in s.sites],
            region=s.region,
            leader_groups=s.leader_groups,
            chair_email=s.chair.email,
        )
        shared = [r for r in theirs if r in wanted]
        if shared:
            found.append((s, shared))
    return found


def _wanted_resources(form: BookingForm) -> list[str]:
    v = form.values
    return resources_for(
        sites=form.sites,
        region=v["region"] if v["kind"] == "regional" and v["region"] else None,
        leader_groups=form.groups,
        chair_email=v["chair_email"] or "-",
    )


def _buffered(form: BookingForm) -> tuple[datetime, datetime] | None:
    if form.start is None or form.end is None or form.end <= form.start:
        return None
    before = form.buffer("buffer_before") or 0
    after = form.buffer("buffer_after") or 0
    return form.start - timedelta(minutes=before), form.end + timedelta(minutes=after)


def _form_context(
    request: web.Request, directory: DirectoryOut, form: BookingForm, **extra: Any
) -> dict[str, Any]:
    regions = [
        (r.id, r.name, [s for s in directory.sites if s.region == r.id]) for r in directory.regions
    ]
    loose = [
        s
        for s in directory.sites
        if not s.region or s.region not in {r.id for r in directory.regions}
    ]
    if loose:
        regions.append(("", text_of(request, "office.lane_none"), loose))
    zone = form.values["timezone"]
    zones = list(ZONES) if zone in ZONES else [*ZONES, zone]
    return {
        "v": form.values,
        "errors": form.errors,
        "regions": [r for r in regions if r[2]],
        "all_regions": directory.regions,
        "sites": directory.sites,
        "groups": directory.leader_groups,
        "providers": PROVIDERS,
        "form_zones": zones,
        "problems": [],
        "breaches": [],
        "conflicts": [],
        **extra,
    }


async def book_form(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    directory = await _directory(request, viewer)
    form = BookingForm(_default_values(request, zone_name(request)))
    return render(request, "office/book.html", _form_context(request, directory, form))


async def book_submit(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    directory = await _directory(request, viewer)
    form = read_booking(request, data, directory)
    req = booking_request(request, form)
    if req is None:
        return render(
            request,
            "office/book.html",
            _form_context(
                request, directory, form, problems=[text_of(request, "office.err.fix_fields")]
            ),
            status=422,
        )
    names = Names.of(directory)
    try:
        answer = await request.app[BOOKINGS].book(
            req, viewer, idempotency_key=form.values["idempotency_key"] or None
        )
    except BookingConflict as exc:
        held: dict[str, list[str]] = {}
        order = {r: i for i, r in enumerate(_wanted_resources(form))}
        for c in sorted(exc.conflicts, key=lambda c: order.get(c.resource, len(order))):
            held.setdefault(c.session_id, []).append(c.resource)
        holders = [
            (await request.app[BOOKINGS].get(sid, viewer), resources)
            for sid, resources in held.items()
        ]
        lines = conflict_sentences(request, names, holders) or [
            text_of(request, "office.err.raced")
        ]
        return _refused(request, directory, form, 409, conflicts=lines)
    except PolicyViolation as exc:
        return _refused(
            request, directory, form, 422, breaches=breach_sentences(request, names, exc.breaches)
        )
    except IdempotencyMismatch:
        form.values["idempotency_key"] = uuid.uuid4().hex
        return _refused(
            request, directory, form, 422, problems=[text_of(request, "office.err.resubmitted")]
        )
    except InvalidRequest as exc:
        return _refused(request, directory, form, 422, problems=[_invalid(request, exc)])
    session_id = json.loads(answer.body)["id"]
    raise web.HTTPSeeOther(f"/office/sessions/{session_id}")


def _invalid(request: web.Request, exc: InvalidRequest) -> str:
    if exc.field == "provider":
        return text_of(request, "office.err.provider_off")
    return text_of(request, "office.err.invalid", detail=exc.message)


def _refused(
    request: web.Request,
    directory: DirectoryOut,
    form: BookingForm,
    status: int,
    **shown: list[str],
) -> web.Response:
    return render(
        request,
        "office/book.html",
        _form_context(request, directory, form, **shown),
        status=status,
    )


async def book_check(request: web.Request) -> web.StreamResponse:
    """An HTML fragment for office.js: conflicts of the chosen window in words, a note when the
    window breaks the booking policy, and the earliest free slots for the chosen sites and groups.
    """
    viewer = await viewer_for(request, Role.OFFICE)
    directory = await _directory(request, viewer)
    form = read_booking(request, request.query, directory)
    names = Names.of(directory)
    zone = form.values["timezone"] if "timezone" not in form.errors else zone_name(request)
    window = _buffered(form)
    conflicts: list[str] = []
    outside_policy = False
    if window and (form.sites or form.groups):
        held = await overlapping(request, viewer, _wanted_resources(form), *window)
        conflicts = conflict_sentences(request, names, held)
        if not held and form.start and form.end:
            outside_policy = not await _exact_window_free(request, viewer, form, zone)
    slots = await _suggest(request, viewer, form, zone) if form.sites or form.groups else []
    tz = ZoneInfo(zone)
    return render(
        request,
        "office/_check.html",
        {
            "picked": bool(form.sites or form.groups),
            "conflicts": conflicts,
            "outside_policy": outside_policy,
            "slots": [
                {
                    "date": s.start.astimezone(tz).date().isoformat(),
                    "start": f"{s.start.astimezone(tz):%H:%M}",
                    "end": f"{s.end.astimezone(tz):%H:%M}",
                    "label": f"{_day_heading(s.start.astimezone(tz).date(), language(request))} "
                    f"{_range_label(s.start, s.end, tz)}",
                }
                for s in slots
            ],
            "slot_zone": zone,
        },
    )


def _slot_query(form: BookingForm, zone: str, **kw: Any) -> SlotQuery:
    return SlotQuery(
        sites=form.sites,
        groups=form.groups,
        kind=SessionKind(form.values["kind"]),
        buffer_before_minutes=form.buffer("buffer_before"),
        buffer_after_minutes=form.buffer("buffer_after"),
        timezone=zone,
        **kw,
    )


async def _exact_window_free(
    request: web.Request, viewer: Principal, form: BookingForm, zone: str
) -> bool:
    """A dry run: is the chosen window itself a free slot (policy and buffers honoured)?"""
    if form.start is None or form.end is None:
        return True
    local = form.start.astimezone(ZoneInfo(zone))
    offset = local.hour * 60 + local.minute
    if offset % 5:  # not on any grid find_slots walks; leave the verdict to the booking
        return True
    minutes = int((form.end - form.start).total_seconds() // 60)
    try:
        q = _slot_query(
            form,
            zone,
            duration_minutes=minutes,
            from_=form.start,
            to=form.end,
            limit=1,
            step_minutes=max(offset, 5) if offset else 60,
        )
        found = await request.app[BOOKINGS].find_slots(q, viewer)
    except (ValidationError, OrchestratorError):
        return True
    return bool(found.slots)


async def _suggest(
    request: web.Request, viewer: Principal, form: BookingForm, zone: str
) -> list[Any]:
    now = request.app[PAGE_CLOCK].now()
    minutes = 120
    if form.start and form.end and form.end > form.start:
        minutes = int((form.end - form.start).total_seconds() // 60)
    begin = max(now, form.start.replace(hour=0, minute=0) if form.start else now)
    try:
        q = _slot_query(
            form,
            zone,
            duration_minutes=minutes,
            from_=begin,
            to=begin + timedelta(days=SUGGEST_DAYS),
            limit=SUGGESTIONS,
        )
        return list((await request.app[BOOKINGS].find_slots(q, viewer)).slots)
    except (ValidationError, OrchestratorError):
        return []


# the regional-round planner -----------------------------------------------------------------


@dataclass
class PlanForm:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    request: RegionalPlanRequest | None = None


def read_plan(
    request: web.Request, data: MultiMapping[Any], directory: DirectoryOut, commit: bool
) -> PlanForm:
    getall = data.getall
    today = _today(request, zone_name(request))
    values: dict[str, Any] = {
        "regions": [str(r) for r in getall("regions", [])],
        "leader_groups": [str(g) for g in getall("leader_groups", [])],
        "from": str(data.get("from", "")).strip(),
        "to": str(data.get("to", "")).strip(),
        "duration": str(data.get("duration", "")).strip(),
        "title": str(data.get("title", "")).strip(),
        "provider": str(data.get("provider", "static")).strip(),
        "idempotency_key": str(data.get("idempotency_key", "")).strip() or uuid.uuid4().hex,
    }
    form = PlanForm(values)
    if not values["regions"]:
        form.errors["regions"] = text_of(request, "office.plan.err_regions")
    regions = {r.id: r for r in directory.regions}
    sites = {s.id: s for s in directory.sites}
    for region_id in values["regions"]:
        region = regions.get(region_id)
        if region is None:
            form.errors["regions"] = text_of(request, "office.plan.err_unknown", region=region_id)
            continue
        head = sites.get(region.head_site or "")
        if head is None or head.region != region.id:
            form.errors["regions"] = text_of(request, "office.plan.err_head", region=region.name)
        elif not (region.chair_email or head.coordinator.email):
            form.errors["regions"] = text_of(request, "office.plan.err_chair", region=region.name)
    first, last = form_date(values["from"]), form_date(values["to"])
    if first is None:
        form.errors["from"] = text_of(request, "office.err.date")
    if last is None:
        form.errors["to"] = text_of(request, "office.err.date")
    if first and last and last < first:
        form.errors["to"] = text_of(request, "office.plan.err_order")
    if first and first < today:
        form.errors["from"] = text_of(request, "office.plan.err_past")
    try:
        duration = int(values["duration"])
        if not 0 < duration <= 600:
            raise ValueError
    except ValueError:
        form.errors["duration"] = text_of(request, "office.plan.err_duration")
        duration = 0
    if values["provider"] not in PROVIDERS:
        form.errors["provider"] = text_of(request, "office.err.provider", name=values["provider"])
    if form.errors or first is None or last is None:
        return form
    tz = ZoneInfo(zone_name(request))
    try:
        form.request = RegionalPlanRequest(
            regions=values["regions"],
            from_=_day_start(first, tz),
            to=_day_start(last + timedelta(days=1), tz),
            duration_minutes=duration,
            leader_groups=values["leader_groups"],
            title=values["title"] or text_of(request, "office.plan.default_title"),
            timezone=zone_name(request),
            provider=values["provider"],
            commit=commit,
        )
    except ValidationError as exc:
        form.errors["regions"] = text_of(
            request, "office.err.invalid", detail="; ".join(e["msg"] for e in exc.errors())
        )
    return form


def _plan_defaults(request: web.Request, directory: DirectoryOut) -> dict[str, Any]:
    """From the earliest day the 15-day notice allows, over four weeks; every region that has a
    head site; the leader groups."""
    first = _today(request, zone_name(request)) + timedelta(days=16)
    heads = {s.id for s in directory.sites}
    return {
        "regions": [r.id for r in directory.regions if r.head_site in heads],
        "leader_groups": [g.id for g in directory.leader_groups],
        "from": first.isoformat(),
        "to": (first + timedelta(days=27)).isoformat(),
        "duration": "180",
        "title": text_of(request, "office.plan.default_title"),
        "provider": "static",
        "idempotency_key": uuid.uuid4().hex,
    }


NO_SLOT = re.compile(r"no free slot for region (\S+) between")


def _plan_problem(request: web.Request, exc: OrchestratorError, names: Names) -> str:
    if isinstance(exc, BookingConflict):
        return text_of(request, "office.plan.err_taken")
    found = NO_SLOT.search(exc.message)
    if found:
        region = names.regions.get(found.group(1), found.group(1))
        return text_of(request, "office.plan.err_no_slot", region=region)
    return text_of(request, "office.err.invalid", detail=exc.message)


def _plan_context(
    request: web.Request,
    directory: DirectoryOut,
    form: PlanForm,
    plan: RegionalPlanOut | None = None,
    existing: Sequence[SessionOut] = (),
    problem: str | None = None,
) -> dict[str, Any]:
    names = Names.of(directory)
    zone = zone_name(request)
    tz = ZoneInfo(zone)
    rows = []
    grid = None
    lang = language(request)
    if plan is not None and plan.proposals:
        booked = {s.region: s.id for s in plan.sessions}
        for p in plan.proposals:
            rows.append(
                {
                    "region": names.regions.get(p.region, p.region),
                    "day": format_when(p.start, lang, zone, "date"),
                    "time": _range_label(p.start, p.end, tz),
                    "host": names.sites.get(p.host_site, p.host_site),
                    "chair": p.chair,
                    "sites": len(p.sites),
                    "session": booked.get(p.region),
                }
            )
        grid = _plan_grid(request, directory, plan.proposals, plan, existing, form, zone)
    return {
        "v": form.values,
        "errors": form.errors,
        "regions": directory.regions,
        "heads": {s.id for s in directory.sites},
        "groups": directory.leader_groups,
        "providers": PROVIDERS,
        "plan": plan,
        "rows": rows,
        "grid": grid,
        "problem": problem,
        "day_heading": lambda d: _day_heading(d, lang),
        "today": _today(request, zone),
        "first_day": plan.proposals[0].start.astimezone(tz).date()
        if plan and plan.proposals
        else None,
    }


def _plan_grid(
    request: web.Request,
    directory: DirectoryOut,
    proposals: Sequence[ProposalOut],
    plan: RegionalPlanOut,
    existing: Sequence[SessionOut],
    form: PlanForm,
    zone: str,
) -> Grid:
    tz = ZoneInfo(zone)
    site_region = {s.id: s.region for s in directory.sites}
    groups = form.values["leader_groups"]
    items: list[Item] = []
    if not plan.committed:
        for p in proposals:
            items.append(
                Item(
                    key=f"proposal-{p.region}",
                    title=text_of(
                        request,
                        "office.plan.proposed",
                        region=Names.of(directory).regions.get(p.region, p.region),
                    ),
                    start=p.start,
                    end=p.end,
                    lanes=lanes_of([p.region], [], groups, site_region),
                    proposed=True,
                )
            )
    items.extend(session_item(s, site_region) for s in existing)
    first = min(p.start for p in proposals).astimezone(tz).date()
    last = max(p.end for p in proposals).astimezone(tz).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return build_grid(
        days,
        lane_rows(request, directory),
        items,
        zone,
        compact=len(days) > 7,
        keep_empty=[*form.values["regions"], GROUPS_LANE] if groups else form.values["regions"],
    )


async def plan_page(request: web.Request) -> web.StreamResponse:
    """The planner's form; with `regions` in the query, the proposed round (nothing booked)."""
    viewer = await viewer_for(request, Role.OFFICE)
    directory = await _directory(request, viewer)
    if "regions" not in request.query and "from" not in request.query:
        form = PlanForm(_plan_defaults(request, directory))
        return render(request, "office/plan.html", _plan_context(request, directory, form))
    form = read_plan(request, request.query, directory, commit=False)
    return await _run_plan(request, viewer, directory, form)


async def plan_commit(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    directory = await _directory(request, viewer)
    form = read_plan(request, data, directory, commit=True)
    return await _run_plan(request, viewer, directory, form)


async def _run_plan(
    request: web.Request, viewer: Principal, directory: DirectoryOut, form: PlanForm
) -> web.Response:
    if form.request is None:
        return render(
            request, "office/plan.html", _plan_context(request, directory, form), status=422
        )
    req = form.request
    try:
        answer = await request.app[BOOKINGS].plan_regional(
            req, viewer, idempotency_key=form.values["idempotency_key"] if req.commit else None
        )
    except (InvalidRequest, BookingConflict, IdempotencyMismatch) as exc:
        status = 409 if isinstance(exc, BookingConflict) else 422
        if isinstance(exc, IdempotencyMismatch):
            form.values["idempotency_key"] = uuid.uuid4().hex
            problem = text_of(request, "office.err.resubmitted")
        else:
            problem = _plan_problem(request, exc, Names.of(directory))
        return render(
            request,
            "office/plan.html",
            _plan_context(request, directory, form, problem=problem),
            status=status,
        )
    plan = RegionalPlanOut.model_validate_json(answer.body)
    existing: list[SessionOut] = []
    if plan.proposals:
        tz = ZoneInfo(zone_name(request))
        first = min(p.start for p in plan.proposals).astimezone(tz).date()
        last = max(p.end for p in plan.proposals).astimezone(tz).date()
        existing = await sessions_between(
            request, viewer, _day_start(first, tz), _day_start(last + timedelta(days=1), tz)
        )
    return render(
        request,
        "office/plan.html",
        _plan_context(request, directory, form, plan=plan, existing=existing),
        status=201 if plan.committed else 200,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/office", timeline)
    router.add_get("/office/book", book_form)
    router.add_post("/office/book", book_submit)
    router.add_get("/office/book/check", book_check)
    router.add_get("/office/plan", plan_page)
    router.add_post("/office/plan", plan_commit)
