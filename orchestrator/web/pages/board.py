"""Pages for a chair (and the office): their sessions, and a session's live attendance board.

The board is drawn on the server as the record stands when the page loads (so it reads without
JavaScript); `board.js` then follows the record's server-sent events and redraws tiles in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from orchestrator.attendance.service import AttendanceOut
from orchestrator.booking.schemas import SessionOut
from orchestrator.domain.errors import NotFound, PermissionDenied
from orchestrator.domain.models import Principal, Role
from orchestrator.store.base import SessionQuery
from orchestrator.web.keys import ATTENDANCE, BOOKINGS, CATALOG, CLOCK
from orchestrator.web.pages.common import language, render, text_of, viewer_for

PAST_DAYS = 90
SHOWN = 100
CONNECTIONS = ("connected", "dropped", "waiting", "unknown")
STATUSES = ("not_started", "present", "partial", "absent", "unknown")
# Strings board.js needs to redraw a tile, sent with the page in the viewer's language.
JS_STRINGS = (
    *(f"board.conn.{c}" for c in CONNECTIONS),
    *(f"board.status.{s}" for s in STATUSES),
    "board.testing",
    "board.late",
    "board.left_early",
    "board.headcount",
    "board.no_headcount",
    "board.minutes",
    "board.reconnects",
    "board.timeline_none",
    "board.timeline",
    "board.frozen",
    "board.late_events",
    "board.live_on",
    "board.live_lost",
    "board.updated",
    "board.unmatched_none",
    "board.unmatched_now",
    "board.unmatched_gone",
    "board.override",
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
        session = await request.app[BOOKINGS].get(session_id, principal)
        record = await request.app[ATTENDANCE].record(session_id, principal)
    except (NotFound, PermissionDenied):
        raise web.HTTPNotFound(text=text_of(request, "board.no_session")) from None
    return render(request, "board/board.html", board_context(request, session, record))


def board_context(
    request: web.Request, session: SessionOut, record: AttendanceOut
) -> dict[str, Any]:
    lang = language(request)
    catalog = request.app[CATALOG]
    names = {s.site_id: s.name or s.site_id for s in session.sites}
    window_start, window_end = session.claimed.start, session.end
    tiles = [
        {
            "row": row,
            "name": names.get(row.site_id, row.site_id),
            "host": row.site_id == session.host_site,
            "spans": spans(row.intervals, window_start, window_end),
        }
        for row in record.sites
    ]
    projector = request.query.get("projector") == "1"
    lang_query = "?lang=en" if lang == "en" else ""
    return {
        "session": session,
        "record": record,
        "tiles": tiles,
        "names": names,
        "summary": record.summary_en if lang == "en" else record.summary,
        "window_start": window_start,
        "window_end": window_end,
        "start_at": spans([(session.start, session.end)], window_start, window_end),
        "projector": projector,
        "csv_url": f"/api/sessions/{session.id}/attendance.csv{lang_query}",
        "xlsx_url": f"/api/sessions/{session.id}/attendance.xlsx{lang_query}",
        "stream_url": f"/api/sessions/{session.id}/attendance/stream",
        "js_strings": {k: catalog.text(lang, k) for k in JS_STRINGS},
    }
