"""Pages for a chair (and the office): their sessions, and a session's live attendance board.

The board is drawn on the server as the record stands when the page loads, so it reads without
JavaScript, at any size: how many sites are in each state, overall and by region, then the sites
that match a search (`?q=`), a state (`?state=`) and a region (`?region=`), a page of tiles at a
time (`?page=`), grouped by region. `board.js` then filters in the page (keeping the address in
step), and follows the record's server-sent events for the counts and the tiles it shows.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from orchestrator.attendance.service import STATE_WORDS, BoardSnapshot
from orchestrator.domain.errors import NotFound, PermissionDenied
from orchestrator.domain.models import Principal, Role
from orchestrator.store.base import SessionQuery
from orchestrator.web.keys import ATTENDANCE, BOOKINGS, CATALOG, CLOCK
from orchestrator.web.pages.common import language, render, text_of, viewer_for
from orchestrator.web.pages.office_common import name_key

PAST_DAYS = 90
SHOWN = 100
PAGE_SIZE = 100  # tiles on one page of a board; a board with more sites shows its regions' table
MANY_SPANS = 8  # a tile with more connected intervals draws one bar and their count
Q_MAX = 100
CONNECTIONS = ("connected", "dropped", "waiting", "unknown")
STATUSES = ("not_started", "present", "partial", "absent", "unknown")
# The states a board filters and counts by (`state_of`), in the order it shows them.
FILTERS = ("connected", "dropped", "waiting", "unknown", "late", "left_early", "absent")
assert set(FILTERS) == set(STATE_WORDS)
# Strings board.js needs to redraw a tile, sent with the page in the viewer's language.
JS_STRINGS = (
    *(f"board.conn.{c}" for c in CONNECTIONS),
    *(f"board.status.{s}" for s in STATUSES),
    *(f"board.count.{s}" for s in FILTERS),
    "board.testing",
    "board.late",
    "board.left_early",
    "board.headcount",
    "board.no_headcount",
    "board.minutes",
    "board.reconnects",
    "board.timeline_none",
    "board.timeline",
    "board.timeline_many",
    "board.frozen",
    "board.late_events",
    "board.live_on",
    "board.live_lost",
    "board.updated",
    "board.unmatched_none",
    "board.unmatched_now",
    "board.unmatched_gone",
    "board.override",
    "board.host",
    "board.n_sites",
    "board.n_sites_one",
    "board.shown",
    "board.shown_none",
    "board.page_of",
    "board.prev",
    "board.next",
)


@dataclass(frozen=True)
class Span:
    """A connected interval drawn over the session window, in percent of its width."""

    left: float
    width: float
    start: datetime
    end: datetime


def spans(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[Span]:
    """`intervals` cut to the window [start, end) and placed on it (board.js does the same)."""
    total = (end - start).total_seconds()
    out: list[Span] = []
    if total <= 0:
        return out
    for a, b in intervals:
        a, b = max(a, start), min(b, end)
        if b <= a:
            continue
        left = (a - start).total_seconds() / total * 100
        width = (b - a).total_seconds() / total * 100
        out.append(Span(round(left, 3), round(max(width, 0.4), 3), a, b))
    return out


@dataclass(frozen=True)
class Bar:
    """A tile's time bar: its spans, or, past `MANY_SPANS`, one span from the first to the last
    with their count (`many`), so that a site that reconnected 70 times stays one bar."""

    spans: list[Span]
    many: int = 0


def bar(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> Bar:
    placed = spans(intervals, start, end)
    if len(placed) <= MANY_SPANS:
        return Bar(placed)
    first, last = placed[0], placed[-1]
    width = round(max(last.left + last.width - first.left, 0.4), 3)
    return Bar([Span(first.left, width, first.start, last.end)], len(placed))


@dataclass(frozen=True)
class Filter:
    """What a board shows of its sites: a search in their names and ids, a state, a region, a
    page. Anything it does not know is left out (the whole board)."""

    q: str = ""
    state: str = ""
    region: str = ""
    page: int = 1

    @classmethod
    def of(cls, query: Mapping[str, str], regions: Collection[str]) -> Filter:
        state, region = query.get("state", ""), query.get("region", "")
        try:
            page = int(query.get("page", "1"))
        except ValueError:
            page = 1
        return cls(
            q=" ".join(query.get("q", "").split())[:Q_MAX],
            state=state if state in FILTERS else "",
            region=region if region in regions else "",
            page=min(max(page, 1), 1_000_000),
        )

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.state or self.region)

    def query(self, projector: bool = False, **changed: Any) -> str:
        """This filter's address query (`?…`, or "" for the whole board), `changed` applied."""
        f = replace(self, **changed)
        pairs = [("q", f.q), ("state", f.state), ("region", f.region)]
        params = [(k, v) for k, v in pairs if v]
        if f.page > 1:
            params.append(("page", str(f.page)))
        if projector:
            params.append(("projector", "1"))
        return "?" + urlencode(params) if params else ""


def fold(text: str) -> str:
    """`text` as searches compare it: without marks (Đ as D), in lower case (board.js folds
    the same way)."""
    return name_key(text)[0]


async def _sessions(request: web.Request, principal: Principal) -> web.Response:
    now = request.app[CLOCK].now()
    bookings = request.app[BOOKINGS]
    current = await bookings.list_sessions(SessionQuery(start_from=now, limit=SHOWN), principal)
    earlier = await bookings.list_sessions(
        SessionQuery(start_from=now - timedelta(days=PAST_DAYS), start_to=now, limit=1000),
        principal,
    )
    past = [s for s in earlier if s.end <= now][::-1][:SHOWN]
    return render(request, "board/list.html", {"current": current, "past": past})


async def chair_home(request: web.Request) -> web.Response:
    """The chair's sessions (the office sees every session)."""
    principal = await viewer_for(request, Role.CHAIR, Role.OFFICE)
    return await _sessions(request, principal)


async def board_page(request: web.Request) -> web.Response:
    """One session's attendance board: live while it runs, the frozen record afterwards."""
    principal = await viewer_for(request, Role.CHAIR, Role.OFFICE)
    session_id = request.match_info["id"]
    try:
        board = await request.app[ATTENDANCE].board(session_id, principal)
    except (NotFound, PermissionDenied):
        raise web.HTTPNotFound(text=text_of(request, "board.no_session")) from None
    return render(request, "board/board.html", board_context(request, board))


def number(n: int, lang: str) -> str:
    """10.000 (vi) or 10,000 (en)."""
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "vi" else text


@dataclass(frozen=True)
class _Index:
    """What a board's page derives from who its sites are, once per board (kept in the labels'
    `memo`): the sites in the page's order (regions by name, those without one last; in each,
    the host first, then by name), each one's region (its place in `regions`), name and folded
    name, and those three as the JSON the page's script reads."""

    regions: list[str]
    order: list[str]
    rank: list[int]
    names: list[str]
    folded: list[str]
    json: str

    @classmethod
    def of(cls, board: BoardSnapshot) -> _Index:
        memo = board.labels.memo
        found = memo.get("page-index")
        if isinstance(found, _Index):
            return found
        labels, names = board.labels.sites, board.labels.regions
        host = board.session.host_site
        sites = board.site_ids
        # Each site's region, name and sort key, once (10,000 sites: a look-up of its label
        # each, not three; 45 ms of the names' keys).
        of_site: dict[str, tuple[str, str, tuple[str, str]]] = {}
        for s in sites:
            label = labels.get(s)
            region, name = (label.region or "", label.name) if label else ("", s)
            of_site[s] = (region, name, name_key(name))
        regions = sorted(
            {region for region, _, _ in of_site.values()},
            key=lambda r: (r == "", name_key(names.get(r) or r), r),
        )
        place = {r: i for i, r in enumerate(regions)}
        order = sorted(sites, key=lambda s: (place[of_site[s][0]], s != host, of_site[s][2], s))
        picked = [of_site[s] for s in order]
        rank = [place[region] for region, _, _ in picked]
        shown = [name for _, name, _ in picked]
        index = cls(
            regions=regions,
            order=order,
            rank=rank,
            names=shown,
            folded=[key[0] for _, _, key in picked],  # `fold` of each name
            json=json.dumps(
                [[s, n, r] for s, n, r in zip(order, shown, rank, strict=True)],
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        )
        memo["page-index"] = index
        return index


def board_context(request: web.Request, board: BoardSnapshot) -> dict[str, Any]:
    lang = language(request)
    catalog = request.app[CATALOG]
    session = board.session
    states = board.states
    projector = request.query.get("projector") == "1"
    index = _Index.of(board)
    elsewhere = catalog.text(lang, "board.no_region")
    region_names = [board.labels.regions.get(r, r) if r else elsewhere for r in index.regions]
    state_list = [states.get(s, "") for s in index.order]
    words = {st: st.split() for st in set(state_list)}

    # counts by region and state: the sites with one state in one region counted together
    by_region: list[Counter[str]] = [Counter() for _ in index.regions]
    for (r, st), n in Counter(zip(index.rank, state_list, strict=True)).items():
        counts = by_region[r]
        counts["sites"] += n
        for w in words[st]:
            counts[w] += n
    totals: Counter[str] = Counter()
    for counts in by_region:
        totals.update(counts)

    f = Filter.of(request.query, set(index.regions) - {""})
    wanted = fold(f.q)
    region = index.regions.index(f.region) if f.region else -1
    matches = [
        i
        for i, st in enumerate(state_list)
        if (not f.state or f.state in words[st])
        and (region < 0 or index.rank[i] == region)
        and (not wanted or wanted in index.folded[i] or wanted in index.order[i])
    ]
    pages = max(1, math.ceil(len(matches) / PAGE_SIZE))
    f = replace(f, page=min(f.page, pages))
    first = (f.page - 1) * PAGE_SIZE
    shown = matches[first : first + PAGE_SIZE]
    rows = {row.site_id: row for row in board.rows([index.order[i] for i in shown])}

    window_start, window_end = session.claimed_range.start, session.end
    groups: list[dict[str, Any]] = []
    for i in shown:
        r = index.rank[i]
        if not groups or groups[-1]["index"] != r:
            groups.append(
                {"index": r, "name": region_names[r], "counts": by_region[r], "tiles": []}
            )
        row = rows[index.order[i]]
        groups[-1]["tiles"].append(
            {
                "row": row,
                "name": index.names[i],
                "host": row.site_id == session.host_site,
                "bar": bar(row.intervals, window_start, window_end),
            }
        )

    path = request.path
    lang_query = "?lang=en" if lang == "en" else ""
    data = {
        "regions": [[r, n] for r, n in zip(index.regions, region_names, strict=True)],
        "states": state_list,
        "host": session.host_site,
        "page": PAGE_SIZE,
        "many": MANY_SPANS,
        "filter": {"q": f.q, "state": f.state, "region": f.region, "page": f.page},
        "shown": [index.order[i] for i in shown],
        "projector": projector,
    }
    return {
        "session": session,
        "record": board,
        "groups": groups,
        "regions": [
            {"id": r, "index": i, "name": region_names[i], "counts": by_region[i]}
            for i, r in enumerate(index.regions)
        ],
        "totals": totals,
        "filters": FILTERS,
        "filter": f,
        "matches": len(matches),
        "first": first,
        "shown": len(shown),
        "pages": pages,
        "table": len(index.order) > PAGE_SIZE,
        "link": lambda **changed: path + f.query(projector, **changed),
        "num": lambda n: number(n, lang),
        "summary": board.summary_en if lang == "en" else board.summary,
        "window_start": window_start,
        "window_end": window_end,
        "start_at": spans([(session.start, session.end)], window_start, window_end),
        "projector": projector,
        "csv_url": f"/api/sessions/{session.id}/attendance.csv{lang_query}",
        "xlsx_url": f"/api/sessions/{session.id}/attendance.xlsx{lang_query}",
        "stream_url": f"/api/sessions/{session.id}/attendance/stream",
        "js_strings": {k: catalog.text(lang, k) for k in JS_STRINGS},
        "board_data": _script_json(data, sites=index.json),
    }


def _script_json(data: dict[str, Any], *, sites: str) -> Markup:
    """`data`, with `sites` (JSON already) as its `sites`, as JSON to place in a `<script
    type="application/json">`: compact (a 10,000-site board's is half a megabyte), without a
    `<`, `>` or `&` that could end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = "".join((text[:-1], ',"sites":', sites, "}"))
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(safe)  # escaped above: nothing in it can end the script element
