"""Pages: one session as the office sees it, and the office's changes to it.

The page shows the session, each site's invite, RSVP and join link, the preparation board and the
attendance exports. Small forms reschedule it, add or remove sites and cancel it; each posts to
its own route and comes back to the page with a notice, or shows the page again with the
problem in words and what was typed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDictProxy

from orchestrator.booking.schemas import SessionOut, UpdateSessionRequest
from orchestrator.domain.errors import (
    BookingConflict,
    NotFound,
    PolicyViolation,
)
from orchestrator.domain.models import Principal, Role, SessionStatus
from orchestrator.web.keys import BOOKINGS, DIRECTORY, INVITES, PREPARATION
from orchestrator.web.pages.common import (
    form_date,
    form_of,
    form_time,
    local_instant,
    render,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.form_changes import FormPage, Problem, change, refuse
from orchestrator.web.pages.preparation_words import due_words

DONE = ("rescheduled", "sites_added", "sites_removed", "cancelled")
# A task's status on the board, as the shared badge classes name it.
TASK_BADGE = {
    "pending": "waiting",
    "due_soon": "due",
    "overdue": "overdue",
    "submitted": "done",
    "late": "late",
}

# The field a form problem belongs to (the others are about the whole form).
FIELD_OF = {
    "session.error.date": "date",
    "session.error.time": "start",
    "session.error.end_before_start": "end",
}


def _path(session_id: str) -> str:
    return f"/office/sessions/{session_id}"


async def _context(request: web.Request, session: SessionOut, viewer: Principal) -> dict[str, Any]:
    """Everything the page shows besides the session itself: invites, board, directory."""
    invites = await request.app[INVITES].status(session.id, viewer)
    board = await request.app[PREPARATION].board(session.id, viewer)
    directory = await request.app[DIRECTORY].view(viewer)
    sites = {s.id: s for s in directory.sites}
    invite_of = {i.site_id: i for i in invites.sites}
    in_session = {s.site_id for s in session.sites}
    # An occurrence of a series names it: changes here are to this occurrence alone.
    series = None
    if session.series_id is not None:
        try:
            series = await request.app[BOOKINGS].series.get(session.series_id, viewer)
        except NotFound:
            series = None
    # A cancelled session's banner counts what the rows show: cancellations sent, queued, failed.
    cancels = Counter(i.state for i in invites.sites if i.in_session and i.method == "CANCEL")
    return {
        "cancels": {
            "sent": cancels["sent"],
            "queued": cancels["queued"],
            "failed": cancels["failed"],
            "count": cancels["sent"] + cancels["queued"] + cancels["failed"],
        },
        "s": session,
        "series": series,
        "invite_of": invite_of,
        "removed": [i for i in invites.sites if not i.in_session],
        "pending_changes": invites.pending_changes,
        "board": board,
        "due_words": lambda task: due_words(request, task, session.created_at),
        "task_badge": TASK_BADGE,
        "site_names": {i: s.name for i, s in sites.items()},
        "region_names": {r.id: r.name for r in directory.regions},
        "group_names": {g.id: g.name for g in directory.leader_groups},
        "addable": [s for s in directory.sites if s.id not in in_session],
        "removable": [s for s in session.sites if not s.host],
        "open": session.status in (SessionStatus.SCHEDULED, SessionStatus.LIVE),
    }


async def _show(
    request: web.Request,
    viewer: Principal,
    session_id: str,
    *,
    problem: Problem | None = None,
    status: int = 200,
) -> web.Response:
    session = await request.app[BOOKINGS].get(session_id, viewer)
    context = await _context(request, session, viewer)
    zone = ZoneInfo(zone_name(request))
    start, end = session.start.astimezone(zone), session.end.astimezone(zone)
    values: dict[str, dict[str, Any]] = {
        "reschedule": {
            "date": start.date().isoformat(),
            "start": start.strftime("%H:%M"),
            "end": end.strftime("%H:%M"),
            "override_reason": "",
        },
        "add": {"sites": [], "override_reason": ""},
        "remove": {"sites": []},
        "cancel": {"reason": "", "confirm": False},
    }
    if problem is not None:
        values[problem["form"]] = problem["values"]
    done = request.query.get("done")
    context.update(
        {
            "problem": problem,
            "values": values,
            "done": done if done in DONE else None,
        }
    )
    return render(request, "session/page.html", context, status=status)


async def session_page(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    return await _show(request, viewer, request.match_info["id"])


async def back_to_page(request: web.Request) -> web.StreamResponse:
    """A GET on a form's address (a reload, a language switch) goes back to the page."""
    raise web.HTTPSeeOther(_path(request.match_info["id"]))


def _sites_of(data: MultiDictProxy[Any]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in data.getall("site", []) if str(v).strip()))


def _reason_of(data: MultiDictProxy[Any]) -> str:
    return str(data.get("override_reason", "")).strip()[:2000]


async def _describe_conflicts(
    request: web.Request, viewer: Principal, exc: BookingConflict
) -> list[dict[str, Any]]:
    """Each conflicting claim with the holder's title and buffered time, for the template."""
    out = []
    titles: dict[str, str | None] = {}
    for c in exc.conflicts:
        if c.session_id not in titles:
            try:
                holder = await request.app[BOOKINGS].get(c.session_id, viewer)
                titles[c.session_id] = holder.title
            except NotFound:
                titles[c.session_id] = None
        kind, _, ident = c.resource.partition(":")
        out.append(
            {
                "kind": kind,
                "ident": ident,
                "session_id": c.session_id,
                "title": titles[c.session_id],
                "start": c.start,
                "end": c.end,
            }
        )
    return out


def _describe_breaches(exc: PolicyViolation) -> list[dict[str, Any]]:
    """One entry per broken rule, naming every site it concerns."""
    by_rule: dict[str, dict[str, Any]] = {}
    for b in exc.breaches:
        entry = by_rule.setdefault(b.rule, {"rule": b.rule, "sites": [], "details": []})
        if b.site_id and b.site_id not in entry["sites"]:
            entry["sites"].append(b.site_id)
        if b.detail not in entry["details"]:
            entry["details"].append(b.detail)
    return list(by_rule.values())


def _page(request: web.Request, viewer: Principal) -> FormPage:
    """This page's ways of answering its forms."""
    session_id = request.match_info["id"]

    async def show(problem: Problem, status: int) -> web.StreamResponse:
        return await _show(request, viewer, session_id, problem=problem, status=status)

    async def conflicts(exc: BookingConflict) -> list[dict[str, Any]]:
        return await _describe_conflicts(request, viewer, exc)

    return FormPage(
        show=show,
        conflicts=conflicts,
        breaches=_describe_breaches,
        path=_path(session_id),
        fields=FIELD_OF,
        state_worded=False,
    )


async def _change(
    request: web.Request,
    viewer: Principal,
    form: str,
    values: Mapping[str, Any],
    action: Callable[[], Awaitable[object]],
    done: str,
) -> web.StreamResponse:
    """Run `action`; on success back to the page with a notice, else the page with the problem."""
    return await change(request, _page(request, viewer), form, values, action, done)


async def _refuse(
    request: web.Request, viewer: Principal, form: str, values: Mapping[str, Any], key: str
) -> web.StreamResponse:
    """The form is wrong before any use case is asked: say which field, keep what was typed."""
    return await refuse(_page(request, viewer), form, values, key)


def _parse_times(values: Mapping[str, str], zone: ZoneInfo) -> tuple[datetime, datetime] | str:
    """The new start and end in `zone`, or the catalog key of what is wrong."""
    day = form_date(values["date"])
    if day is None:
        return "session.error.date"
    start, end = form_time(values["start"]), form_time(values["end"])
    if start is None or end is None:
        return "session.error.time"
    begins, ends = local_instant(day, start, zone), local_instant(day, end, zone)
    if begins is None or ends is None:
        return "session.error.time"
    if ends <= begins:
        return "session.error.end_before_start"
    return begins, ends


async def reschedule(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values = {k: str(data.get(k, "")).strip()[:100] for k in ("date", "start", "end")} | {
        "override_reason": _reason_of(data)
    }
    parsed = _parse_times(values, ZoneInfo(zone_name(request)))
    if isinstance(parsed, str):
        return await _refuse(request, viewer, "reschedule", values, parsed)
    start, end = parsed

    async def action() -> object:
        reason = values["override_reason"] or None
        req = UpdateSessionRequest(start=start, end=end, override_reason=reason)
        return await request.app[BOOKINGS].update(request.match_info["id"], req, viewer)

    return await _change(request, viewer, "reschedule", values, action, "rescheduled")


async def add_sites(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values = {"sites": _sites_of(data), "override_reason": _reason_of(data)}
    if not values["sites"]:
        return await _refuse(request, viewer, "add", values, "session.error.no_sites")

    async def action() -> object:
        req = UpdateSessionRequest(
            add_sites=values["sites"], override_reason=values["override_reason"] or None
        )
        return await request.app[BOOKINGS].update(request.match_info["id"], req, viewer)

    return await _change(request, viewer, "add", values, action, "sites_added")


async def remove_sites(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values = {"sites": _sites_of(data)}
    if not values["sites"]:
        return await _refuse(request, viewer, "remove", values, "session.error.no_sites")
    session = await request.app[BOOKINGS].get(request.match_info["id"], viewer)
    if session.host_site in values["sites"]:
        return await _refuse(request, viewer, "remove", values, "session.error.remove_host")

    async def action() -> object:
        req = UpdateSessionRequest(remove_sites=values["sites"])
        return await request.app[BOOKINGS].update(request.match_info["id"], req, viewer)

    return await _change(request, viewer, "remove", values, action, "sites_removed")


async def cancel(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values = {
        "reason": str(data.get("reason", "")).strip()[:2000],
        "confirm": data.get("confirm") == "yes",
    }
    if not values["confirm"]:
        return await _refuse(request, viewer, "cancel", values, "session.error.confirm")
    return await _change(
        request,
        viewer,
        "cancel",
        values,
        lambda: request.app[BOOKINGS].cancel(
            request.match_info["id"], viewer, str(values["reason"]) or None
        ),
        "cancelled",
    )
