"""Pages: the office's timeline of sessions, a week or a month, one lane per region and one for
the leader groups, so overlaps show at a glance; also the grid the planner draws its round on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.booking.schemas import SessionOut
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.models import Role, SessionStatus
from orchestrator.web.pages.common import (
    form_date,
    language,
    render,
    text_of,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.office_common import (
    day_heading,
    day_start,
    directory_of,
    range_label,
    sessions_between,
    today_in,
)

GROUPS_LANE = "groups"
NO_REGION_LANE = "none"
DAY_START_HOUR = 7  # the timeline shows at least 07:00-18:00 of each day
DAY_END_HOUR = 18

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
    lane_names: tuple[str, ...] = ()  # a month's chip names the lanes it stands for

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
class CalendarDay:
    """A day of the month's calendar: each session once, whatever lanes it is drawn in."""

    day: date
    blocks: list[Block]


@dataclass
class Grid:
    days: list[date]
    lanes: list[Lane]
    first_hour: int
    last_hour: int
    compact: bool  # a month: a calendar of weeks, each day listing its sessions
    calendar: list[CalendarDay] = field(default_factory=list)
    narrow_days: frozenset[date] = frozenset()  # empty weekend days get a narrow column


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
                    range_label(item.start, item.end, tz),
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
    names = dict(lanes)
    calendar = [_calendar_day(i, day, out, names) for i, day in enumerate(days)]
    busy = {c.day for c in calendar if c.blocks}
    narrow = frozenset(d for d in days if d.weekday() >= 5 and d not in busy)
    return Grid(list(days), out, first_hour, last_hour, compact, calendar, narrow)


def _calendar_day(
    index: int, day: date, lanes: Sequence[Lane], names: Mapping[str, str]
) -> CalendarDay:
    """The sessions of one day, each once, in time order, with the lanes it is drawn in and
    marked when it overlaps another session in any of them."""
    seen: dict[str, Block] = {}
    for lane in lanes:
        for block in lane.cells[index].blocks:
            known = seen.get(block.item.key)
            if known is None:
                seen[block.item.key] = Block(
                    block.item,
                    block.label,
                    block.left,
                    block.width,
                    overlap=block.overlap,
                    lane_names=(names.get(lane.id, lane.id),),
                )
            else:
                known.overlap = known.overlap or block.overlap
                known.lane_names = (*known.lane_names, names.get(lane.id, lane.id))
    blocks = sorted(seen.values(), key=lambda b: (b.item.start, b.item.end, b.item.key))
    return CalendarDay(day, blocks)


def _ceil_hour(at: datetime, day: date) -> int:
    if at.date() > day:
        return 24
    return at.hour + (1 if at.minute or at.second else 0)


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


# the timeline page ---------------------------------------------------------------------------


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


async def timeline(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    zone = zone_name(request)
    tz = ZoneInfo(zone)
    view = "month" if request.query.get("view") == "month" else "week"
    today = today_in(request, zone)
    asked = request.query.get("date")
    anchor = form_date(asked) or today
    days, previous, following = _period(view, anchor)
    start, end = day_start(days[0], tz), day_start(days[-1] + timedelta(days=1), tz)
    directory = await directory_of(request, viewer)
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
            "day_heading": lambda d: day_heading(d, lang),
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
