"""Pages: the office's timeline of sessions, a week or a month, one lane per region and one for
the leader groups. The week lists each day's sessions of a lane with their time and whole title;
the month counts them per day. Filters by region and site; a clash (two live sessions on one
claim) is the only thing edged in red. Also the grid the planner draws its round on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.booking.schemas import SessionOut
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.models import MAX_CLAIM_SPAN, Role, SessionStatus, Site
from orchestrator.web.pages.common import (
    form_date,
    language,
    render,
    text_of,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.office_clashes import Clash, find_clashes
from orchestrator.web.pages.office_common import (
    Names,
    day_heading,
    day_start,
    directory_of,
    name_key,
    range_label,
    sessions_between,
    site_order,
    today_in,
)

GROUPS_LANE = "groups"
NO_REGION_LANE = "none"

# the timeline, as data -------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """Something drawn on the timeline: a booked session or a proposed one. `clashes` says, in
    words, each claim it shares with another live session at the same time."""

    key: str
    title: str
    start: datetime
    end: datetime
    lanes: tuple[str, ...]
    href: str | None = None
    cancelled: bool = False
    proposed: bool = False
    clashes: tuple[str, ...] = ()
    series: bool = False  # an occurrence of a series (DESIGN 10), marked as such

    @property
    def clash(self) -> bool:
        return bool(self.clashes) and not self.cancelled


@dataclass
class Block:
    item: Item
    label: str  # "08:00–11:30" in the viewer's zone
    lane_names: tuple[str, ...] = ()  # a month's chip names the lanes it stands for


@dataclass
class Cell:
    day: date
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Lane:
    id: str
    name: str
    cells: list[Cell]

    @property
    def count(self) -> int:
        """The sessions of the lane, cancelled ones aside, each once."""
        return len({b.item.key for c in self.cells for b in c.blocks if not b.item.cancelled})


@dataclass
class CalendarDay:
    """A day of the month's calendar: each session once, whatever lanes it is drawn in."""

    day: date
    blocks: list[Block]
    column: int = 1  # its column in the calendar, from 1

    @property
    def count(self) -> int:
        return sum(1 for b in self.blocks if not b.item.cancelled)

    @property
    def clashes(self) -> int:
        return sum(1 for b in self.blocks if b.item.clash)

    @property
    def proposed(self) -> list[Block]:
        return [b for b in self.blocks if b.item.proposed]


@dataclass
class Grid:
    days: list[date]  # the days shown: a week's empty weekend days are left out
    lanes: list[Lane]
    compact: bool  # a month: a calendar of weeks, each day counting its sessions
    calendar: list[CalendarDay] = field(default_factory=list)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # the calendar's columns (0 is Monday)
    hidden: tuple[date, ...] = ()  # empty weekend days left out

    def day_count(self, day: date) -> int:
        """The sessions of `day` across the lanes, cancelled ones aside, each once."""
        keys = {
            b.item.key
            for lane in self.lanes
            for c in lane.cells
            if c.day == day
            for b in c.blocks
            if not b.item.cancelled
        }
        return len(keys)


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
    split at local midnight, in time order. Saturdays and Sundays without items are left out
    (a month keeps a weekend column when any of its Saturdays or Sundays has one).

    Lanes without items are dropped unless named in `keep_empty` (regions always show)."""
    tz = ZoneInfo(zone)
    day_set = set(days)
    pieces: dict[tuple[str, date], list[tuple[Item, datetime, datetime]]] = {}
    busy: set[date] = set()
    for item in items:
        local_start = item.start.astimezone(tz)
        local_end = item.end.astimezone(tz)
        day = local_start.date()
        while day <= local_end.date():
            begins = datetime.combine(day, time(0), tz)
            ends = datetime.combine(day + timedelta(days=1), time(0), tz)
            piece_start, piece_end = max(local_start, begins), min(local_end, ends)
            if day in day_set and piece_start < piece_end:
                busy.add(day)
                for lane in item.lanes:
                    pieces.setdefault((lane, day), []).append((item, piece_start, piece_end))
            day += timedelta(days=1)
    hidden = tuple(d for d in days if d.weekday() >= 5 and d not in busy)
    weekdays = tuple(
        w for w in range(7) if w < 5 or any(d.weekday() == w for d in days if d in busy)
    )
    shown = [d for d in days if (d.weekday() in weekdays if compact else d not in hidden)]
    out: list[Lane] = []
    for lane_id, lane_name in lanes:
        cells = []
        for day in shown:
            row = sorted(pieces.get((lane_id, day), []), key=lambda p: (p[1], p[2], p[0].key))
            cells.append(Cell(day, [Block(i, range_label(i.start, i.end, tz)) for i, _, _ in row]))
        if any(c.blocks for c in cells) or lane_id in keep_empty:
            out.append(Lane(lane_id, lane_name, cells))
    names = dict(lanes)
    calendar = [_calendar_day(i, day, out, names, weekdays) for i, day in enumerate(shown)]
    return Grid(shown, out, compact, calendar, weekdays, hidden)


def _calendar_day(
    index: int,
    day: date,
    lanes: Sequence[Lane],
    names: Mapping[str, str],
    weekdays: Sequence[int],
) -> CalendarDay:
    """The sessions of one day, each once, in time order, with the lanes it is drawn in."""
    seen: dict[str, Block] = {}
    for lane in lanes:
        for block in lane.cells[index].blocks:
            known = seen.get(block.item.key)
            name = names.get(lane.id, lane.id)
            if known is None:
                seen[block.item.key] = Block(block.item, block.label, lane_names=(name,))
            else:
                known.lane_names = (*known.lane_names, name)
    blocks = sorted(seen.values(), key=lambda b: (b.item.start, b.item.end, b.item.key))
    return CalendarDay(day, blocks, weekdays.index(day.weekday()) + 1)


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


def session_item(
    s: SessionOut, site_region: Mapping[str, str | None], clashes: tuple[str, ...] = ()
) -> Item:
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
        clashes=clashes,
        series=s.series_id is not None,
    )


def clash_words(
    request: web.Request, names: Names, clashes: Sequence[Clash], tz: ZoneInfo, lang: str
) -> tuple[str, ...]:
    """One sentence per other session: what it holds too, its title and time."""
    by_other: dict[str, list[Clash]] = {}
    for c in clashes:
        by_other.setdefault(c.other.id, []).append(c)
    out = []
    for same in by_other.values():
        other = same[0].other
        out.append(
            text_of(
                request,
                "office.conflict",
                who=", ".join(names.resource(request, c.resource) for c in same),
                title=other.title,
                time=range_label(other.start, other.end, tz),
                day=day_heading(other.start.astimezone(tz).date(), lang),
            )
        )
    return tuple(out)


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


@dataclass(frozen=True)
class Filters:
    """The page's query: what it shows and how; `link` keeps the rest when one part changes."""

    view: str
    anchor: date
    region: str | None = None  # a lane: a region, or the leader groups'
    site: str | None = None
    hide_cancelled: bool = False

    def link(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "view": self.view,
            "date": self.anchor.isoformat(),
            "region": self.region,
            "site": self.site,
            "cancelled": "hide" if self.hide_cancelled else None,
        }
        values.update(changes)
        return "/office?" + urlencode({k: v for k, v in values.items() if v})

    @property
    def active(self) -> bool:
        return bool(self.region or self.site)


def _filters(
    request: web.Request, lanes: Mapping[str, str], sites: Mapping[str, Site]
) -> tuple[Filters, bool, bool]:
    """The query read: (filters, the date was bad, a filter named nothing known)."""
    q = request.query
    view = "month" if q.get("view") == "month" else "week"
    asked = q.get("date")
    anchor = form_date(asked)
    region = (q.get("region") or "").strip() or None
    site = (q.get("site") or "").strip() or None
    unknown = (region is not None and region not in lanes) or (
        site is not None and site not in sites
    )
    filters = Filters(
        view,
        anchor or today_in(request, zone_name(request)),
        region if region in lanes else None,
        site if site in sites else None,
        q.get("cancelled") == "hide",
    )
    return filters, bool(asked) and anchor is None, unknown


def _sites_by_region(directory: DirectoryOut) -> list[tuple[str, list[Site]]]:
    """The site filter's choices: each region's sites, its head first, then those in none."""
    out = []
    for r in directory.regions:
        out.append(
            (r.name, site_order([s for s in directory.sites if s.region == r.id], r.head_site))
        )
    loose = [s for s in directory.sites if s.region is None]
    if loose:
        out.append(("", sorted(loose, key=lambda s: name_key(s.name))))
    return out


async def timeline(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    zone = zone_name(request)
    tz = ZoneInfo(zone)
    lang = language(request)
    directory = await directory_of(request, viewer)
    rows = lane_rows(request, directory)
    lane_names = dict(rows)
    sites = {s.id: s for s in directory.sites}
    site_region = {s.id: s.region for s in directory.sites}
    f, bad_date, unknown = _filters(request, lane_names, sites)
    days, previous, following = _period(f.view, f.anchor)
    start, end = day_start(days[0], tz), day_start(days[-1] + timedelta(days=1), tz)
    # a session holding its claims into the period starts at most MAX_CLAIM_SPAN before it
    sessions = await sessions_between(request, viewer, start - MAX_CLAIM_SPAN, end)
    clashes = find_clashes(sessions)
    names = Names.of(directory)
    items = []
    for s in sessions:
        if s.end <= start or (f.hide_cancelled and s.status is SessionStatus.CANCELLED):
            continue
        if f.site and all(x.site_id != f.site for x in s.sites):
            continue
        words = clash_words(request, names, clashes.get(s.id, []), tz, lang)
        item = session_item(s, site_region, words)
        if f.region and f.region not in item.lanes:
            continue
        items.append(item)
    keep = [r.id for r in directory.regions] + [GROUPS_LANE]
    lane = f.region or (site_region.get(f.site) if f.site else None)
    if lane:  # one lane holds every session the filter keeps
        rows = [(i, n) for i, n in rows if i == lane]
        keep = [lane]
    elif f.site:
        keep = []
    grid = build_grid(days, rows, items, zone, compact=f.view == "month", keep_empty=keep)
    return render(
        request,
        "office/timeline.html",
        {
            "grid": grid,
            "f": f,
            "view": f.view,
            "anchor": f.anchor,
            "today": today_in(request, zone),
            "previous": previous,
            "following": following,
            "bad_date": bad_date,
            "unknown_filter": unknown,
            "day_heading": lambda d: day_heading(d, lang),
            "count": sum(1 for i in items if not i.cancelled),
            "clashing": sum(1 for i in items if i.clash),
            "period_label": _period_label(f.view, days, lang),
            "regions": directory.regions,
            "lane_groups": lane_names[GROUPS_LANE],
            "site_choices": _sites_by_region(directory),
            "region_name": lane_names.get(f.region or "", ""),
            "site_name": sites[f.site].name if f.site else "",
        },
    )


def _period_label(view: str, days: Sequence[date], lang: str) -> str:
    if view == "month":
        return f"{days[0]:%m/%Y}" if lang == "vi" else f"{days[0]:%Y-%m}"
    if lang == "vi":
        return f"{days[0]:%d/%m/%Y} – {days[-1]:%d/%m/%Y}"
    return f"{days[0]:%Y-%m-%d} – {days[-1]:%Y-%m-%d}"
