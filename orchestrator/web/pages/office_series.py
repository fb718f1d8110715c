"""Pages: a series as the office sees it (DESIGN 10), and the office's changes to it.

The page lists every occurrence its rule named: those booked with their status and what was
changed on them alone, those skipped with why; the per-site verdicts of the occurrences that
have happened, as a grid; and four small forms: move one occurrence or cancel it (an exception
to the series, through the session's use cases), change the title or time of every occurrence
not yet started, cancel every occurrence not yet started. Each posts to its own route and comes
back to the page with a notice, or shows the page again with the problem in words and what was
typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDictProxy

from orchestrator.booking.schemas import UpdateSessionRequest
from orchestrator.booking.series.schemas import (
    OccurrenceOut,
    SeriesOut,
    SkippedOccurrenceOut,
    UpdateSeriesRequest,
)
from orchestrator.domain.errors import (
    BookingConflict,
    NotFound,
    OrchestratorError,
    PolicyViolation,
    SeriesConflict,
    SeriesPolicyViolation,
)
from orchestrator.domain.models import Principal, Role, SeriesStatus, SessionStatus
from orchestrator.domain.policy import holiday_name
from orchestrator.web.keys import ATTENDANCE, BOOKINGS, DIRECTORY
from orchestrator.web.pages.common import (
    form_date,
    form_of,
    form_time,
    language,
    local_instant,
    render,
    text_of,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.form_changes import FormPage, Problem, change, refuse
from orchestrator.web.pages.series_words import rule_words

DONE = ("moved", "cancelled_one", "changed", "cancelled")
HOLIDAYS = "VN"  # whose public holidays a skipped date is named from
GRID_MAX = 12  # the latest occurrences that happened shown in the verdicts' grid
# A session's attendance status, as the grid's badges name it.
VERDICTS = ("present", "partial", "absent", "unknown")
ATTENDED = ("present", "partial")
# The field a form problem belongs to (the others are about the whole form).
FIELD_OF = {
    "series.error.date": "date",
    "series.error.time": "start",
    "series.error.end_before_start": "end",
    "series.error.nothing": "title",
}


def series_path(series_id: str) -> str:
    return f"/office/series/{series_id}"


# what the page shows --------------------------------------------------------------------------


def _next_time(series: SeriesOut) -> OccurrenceOut | None:
    """The occurrence whose time the series' time of day is now: the first not yet started and
    not moved alone (a series change of the time sets it on each)."""
    upcoming = [o for o in series.occurrences if o.status is SessionStatus.SCHEDULED]
    return next((o for o in upcoming if "time" not in o.changed), upcoming[0] if upcoming else None)


async def _skip_words(
    request: web.Request, viewer: Principal, names: Mapping[str, str], k: SkippedOccurrenceOut
) -> list[str]:
    """Why an occurrence was left out: the holiday by its name, the rule, or the sessions in the
    way."""
    if k.rule == "holiday":
        # The skipped date keeps the policy's words in English (`... a public holiday (Name)`);
        # the page names Vietnam's holidays, the directory's, in its own language.
        lang = "vi" if language(request) == "vi" else "en_US"
        day = k.occurrence.date()
        stored = (k.detail or "").rpartition("(")[2].rstrip(")")
        name = holiday_name(HOLIDAYS, day, lang) or stored
        return [text_of(request, "series.preview.holiday", name=name)]
    if k.rule:
        return [text_of(request, f"office.rule.{k.rule}")]
    lines = []
    for session_id in dict.fromkeys(c.session_id for c in k.conflicts):
        held = [c.resource for c in k.conflicts if c.session_id == session_id]
        try:
            holder = await request.app[BOOKINGS].get(session_id, viewer)
            title = holder.title
        except NotFound:
            title = session_id
        who = ", ".join(_resource(request, names, r) for r in dict.fromkeys(held))
        lines.append(text_of(request, "series.skipped.held", who=who, title=title))
    return lines


def _resource(request: web.Request, names: Mapping[str, str], resource: str) -> str:
    kind, _, ident = resource.partition(":")
    if kind == "chair":
        return text_of(request, "office.res_chair", email=ident)
    if kind == "region":
        return text_of(request, "office.res_region", name=names.get(resource, ident))
    return names.get(resource, ident)


# The fields changed alone, as the page names them (a move has its own note).
_SAID_AS = {"timezone": "time", "speaking_sites": "sites"}


def _alone(o: OccurrenceOut) -> list[str]:
    return [f for f in dict.fromkeys(_SAID_AS.get(f, f) for f in o.changed) if f != "time"]


async def _grid(
    request: web.Request, viewer: Principal, series: SeriesOut, site_names: Mapping[str, str]
) -> dict[str, Any] | None:
    """The per-site verdicts of the latest occurrences that have happened, or None before any
    has."""
    happened = [o for o in series.occurrences if o.status is SessionStatus.ENDED][-GRID_MAX:]
    if not happened:
        return None
    columns: list[tuple[OccurrenceOut, dict[str, str]]] = []
    sites = [s.site_id for s in series.sites]
    for o in happened:
        try:
            record = await request.app[ATTENDANCE].record(o.session_id, viewer)
        except OrchestratorError:
            verdicts: dict[str, str] = {}
        else:
            verdicts = {s.site_id: s.status for s in record.sites}
        for site_id in verdicts:
            if site_id not in sites:
                sites.append(site_id)
        columns.append((o, verdicts))
    rows = []
    for site_id in sites:
        cells = [verdicts.get(site_id) for _, verdicts in columns]
        judged = [v for v in cells if v in VERDICTS and v != "unknown"]
        rows.append(
            {
                "site_id": site_id,
                "name": site_names.get(site_id, site_id),
                "cells": cells,
                "attended": sum(v in ATTENDED for v in judged),
                "judged": len(judged),
            }
        )
    total = sum(o.status is SessionStatus.ENDED for o in series.occurrences)
    shown = [o for o, _ in columns]
    return {"columns": shown, "rows": rows, "shown": len(shown), "total": total}


async def _context(request: web.Request, viewer: Principal, series: SeriesOut) -> dict[str, Any]:
    directory = await request.app[DIRECTORY].view(viewer)
    site_names = {s.id: s.name for s in directory.sites}
    names = {f"site:{k}": v for k, v in site_names.items()}
    names |= {f"region:{r.id}": r.name for r in directory.regions}
    names |= {f"group:{g.id}": g.name for g in directory.leader_groups}
    rows: list[dict[str, Any]] = [
        {
            "kind": "booked",
            "o": o,
            "occurrence": o.occurrence,
            "moved": "time" in o.changed,
            "alone": _alone(o),
            "upcoming": o.status is SessionStatus.SCHEDULED,
        }
        for o in series.occurrences
    ]
    for k in series.skipped:
        why = await _skip_words(request, viewer, names, k)
        rows.append({"kind": "skipped", "k": k, "occurrence": k.occurrence, "why": why})
    rows.sort(key=lambda r: r["occurrence"])
    upcoming = [o for o in series.occurrences if o.status is SessionStatus.SCHEDULED]
    statuses = [o.status for o in series.occurrences]
    return {
        "s": series,
        "rule": rule_words(request, series.recurrence, series.start, series.timezone),
        "rows": rows,
        "upcoming": upcoming,
        "counts": {
            "booked": len(series.occurrences),
            "skipped": len(series.skipped),
            "upcoming": len(upcoming),
            "ended": statuses.count(SessionStatus.ENDED),
            "cancelled": statuses.count(SessionStatus.CANCELLED),
            "changed": sum(bool(o.changed) for o in series.occurrences),
        },
        "grid": await _grid(request, viewer, series, site_names),
        "site_names": site_names,
        "group_names": {g.id: g.name for g in directory.leader_groups},
        "region_names": {r.id: r.name for r in directory.regions},
        "open": series.status is SeriesStatus.ACTIVE and bool(upcoming),
    }


def _values(request: web.Request, series: SeriesOut, chosen: str | None) -> dict[str, Any]:
    """What the forms hold before anything is typed: the occurrence chosen (`?one=`) or the next
    one, at its time in the viewer's zone; the series' time of day in its own zone."""
    upcoming = [o for o in series.occurrences if o.status is SessionStatus.SCHEDULED]
    one = next((o for o in upcoming if o.session_id == chosen), upcoming[0] if upcoming else None)
    zone = ZoneInfo(zone_name(request))
    own = ZoneInfo(series.timezone)
    timed = _next_time(series)
    start = (timed.start if timed else series.start).astimezone(own)
    end = (timed.end if timed else series.end).astimezone(own)
    move: dict[str, Any] = {"occurrence": "", "date": "", "start": "", "end": ""}
    if one is not None:
        begins, ends = one.start.astimezone(zone), one.end.astimezone(zone)
        move = {
            "occurrence": one.session_id,
            "date": begins.date().isoformat(),
            "start": f"{begins:%H:%M}",
            "end": f"{ends:%H:%M}",
        }
    return {
        "move": {**move, "override_reason": ""},
        "cancel_one": {"occurrence": move["occurrence"], "reason": "", "confirm": False},
        "change": {
            "title": series.title,
            "start": f"{start:%H:%M}",
            "end": f"{end:%H:%M}",
            "override_reason": "",
        },
        "cancel": {"reason": "", "confirm": False},
    }


async def _show(
    request: web.Request,
    viewer: Principal,
    series_id: str,
    *,
    problem: Problem | None = None,
    status: int = 200,
) -> web.Response:
    series = await request.app[BOOKINGS].series.get(series_id, viewer)
    context = await _context(request, viewer, series)
    values = _values(request, series, request.query.get("one"))
    if problem is not None:
        values[problem["form"]] = problem["values"]
    done = request.query.get("done")
    context.update(
        {
            "problem": problem,
            "values": values,
            "done": done if done in DONE else None,
            "chosen": request.query.get("one"),
        }
    )
    return render(request, "office/series.html", context, status=status)


async def series_page(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    return await _show(request, viewer, request.match_info["id"])


async def back_to_page(request: web.Request) -> web.StreamResponse:
    """A GET on a form's address (a reload, a language switch) goes back to the page."""
    raise web.HTTPSeeOther(series_path(request.match_info["id"]))


# the changes ----------------------------------------------------------------------------------


async def _conflicts(
    request: web.Request,
    viewer: Principal,
    exc: BookingConflict,
) -> list[dict[str, Any]]:
    """Each claim in the way with its holder's title (linked) and time, and for a series the
    occurrence that wanted it."""
    pairs: Sequence[tuple[datetime | None, Any]] = (
        [(c.occurrence, c.conflict) for c in exc.occurrences]
        if isinstance(exc, SeriesConflict)
        else [(None, c) for c in exc.conflicts]
    )
    titles: dict[str, str | None] = {}
    out = []
    for occurrence, c in pairs:
        if c.session_id not in titles:
            try:
                titles[c.session_id] = (await request.app[BOOKINGS].get(c.session_id, viewer)).title
            except NotFound:
                titles[c.session_id] = None
        kind, _, ident = c.resource.partition(":")
        out.append(
            {
                "occurrence": occurrence,
                "kind": kind,
                "ident": ident,
                "session_id": c.session_id,
                "title": titles[c.session_id],
                "start": c.start,
                "end": c.end,
            }
        )
    return out


def _breaches(exc: PolicyViolation) -> list[dict[str, Any]]:
    """One entry per broken rule (per occurrence for a series), naming the sites it concerns."""
    pairs = (
        [(b.occurrence, b.breach) for b in exc.occurrences]
        if isinstance(exc, SeriesPolicyViolation)
        else [(None, b) for b in exc.breaches]
    )
    entries: dict[tuple[datetime | None, str], dict[str, Any]] = {}
    for occurrence, b in pairs:
        entry = entries.setdefault(
            (occurrence, b.rule), {"occurrence": occurrence, "rule": b.rule, "sites": []}
        )
        if b.site_id and b.site_id not in entry["sites"]:
            entry["sites"].append(b.site_id)
    return list(entries.values())


def _page(request: web.Request, viewer: Principal) -> FormPage:
    """This page's ways of answering its forms."""
    series_id = request.match_info["id"]

    async def show(problem: Problem, status: int) -> web.StreamResponse:
        return await _show(request, viewer, series_id, problem=problem, status=status)

    async def conflicts(exc: BookingConflict) -> list[dict[str, Any]]:
        return await _conflicts(request, viewer, exc)

    return FormPage(
        show=show,
        conflicts=conflicts,
        breaches=_breaches,
        path=series_path(series_id),
        fields=FIELD_OF,
        state_worded=True,
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


def _text(data: MultiDictProxy[Any], name: str, limit: int = 100) -> str:
    return str(data.get(name, "")).strip()[:limit]


async def _occurrence_of(
    request: web.Request, viewer: Principal, data: MultiDictProxy[Any]
) -> str | None:
    """The occurrence a form names, if it is one of this series'."""
    chosen = _text(data, "occurrence")
    series = await request.app[BOOKINGS].series.get(request.match_info["id"], viewer)
    return chosen if chosen in {o.session_id for o in series.occurrences} else None


async def move_one(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values: dict[str, Any] = {k: _text(data, k) for k in ("occurrence", "date", "start", "end")}
    values["override_reason"] = _text(data, "override_reason", 2000)
    session_id = await _occurrence_of(request, viewer, data)
    if session_id is None:
        return await _refuse(request, viewer, "move", values, "series.error.occurrence")
    zone = ZoneInfo(zone_name(request))
    day = form_date(values["date"])
    if day is None:
        return await _refuse(request, viewer, "move", values, "series.error.date")
    start_t, end_t = form_time(values["start"]), form_time(values["end"])
    start = local_instant(day, start_t, zone) if start_t else None
    end = local_instant(day, end_t, zone) if end_t else None
    if start is None or end is None:
        return await _refuse(request, viewer, "move", values, "series.error.time")
    if end <= start:
        return await _refuse(request, viewer, "move", values, "series.error.end_before_start")

    async def action() -> object:
        reason = values["override_reason"] or None
        req = UpdateSessionRequest(start=start, end=end, override_reason=reason)
        return await request.app[BOOKINGS].update(session_id, req, viewer)

    return await _change(request, viewer, "move", values, action, "moved")


async def cancel_one(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values: dict[str, Any] = {
        "occurrence": _text(data, "occurrence"),
        "reason": _text(data, "reason", 2000),
        "confirm": data.get("confirm") == "yes",
    }
    session_id = await _occurrence_of(request, viewer, data)
    if session_id is None:
        return await _refuse(request, viewer, "cancel_one", values, "series.error.occurrence")
    if not values["confirm"]:
        return await _refuse(request, viewer, "cancel_one", values, "series.error.confirm_one")
    reason = str(values["reason"]) or None
    return await _change(
        request,
        viewer,
        "cancel_one",
        values,
        lambda: request.app[BOOKINGS].cancel(session_id, viewer, reason),
        "cancelled_one",
    )


async def change_all(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values: dict[str, Any] = {
        "title": _text(data, "title", 600),
        "start": _text(data, "start"),
        "end": _text(data, "end"),
        "override_reason": _text(data, "override_reason", 2000),
    }
    series = await request.app[BOOKINGS].series.get(request.match_info["id"], viewer)
    start_t, end_t = form_time(values["start"]), form_time(values["end"])
    if start_t is None or end_t is None:
        return await _refuse(request, viewer, "change", values, "series.error.time")
    minutes = (end_t.hour * 60 + end_t.minute) - (start_t.hour * 60 + start_t.minute)
    if minutes <= 0:
        return await _refuse(request, viewer, "change", values, "series.error.end_before_start")
    before = _values(request, series, None)["change"]
    changes: dict[str, Any] = {}
    if values["title"] != series.title:
        changes["title"] = values["title"]
    if values["start"] != before["start"] or values["end"] != before["end"]:
        changes["start_time"] = start_t
        changes["duration_minutes"] = minutes
    if not changes:
        return await _refuse(request, viewer, "change", values, "series.error.nothing")

    async def action() -> object:
        req = UpdateSeriesRequest(**changes, override_reason=values["override_reason"] or None)
        return await request.app[BOOKINGS].series.update(series.id, req, viewer)

    return await _change(request, viewer, "change", values, action, "changed")


async def cancel_all(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    values: dict[str, Any] = {
        "reason": _text(data, "reason", 2000),
        "confirm": data.get("confirm") == "yes",
    }
    if not values["confirm"]:
        return await _refuse(request, viewer, "cancel", values, "series.error.confirm_all")
    reason = str(values["reason"]) or None
    series_id = request.match_info["id"]
    return await _change(
        request,
        viewer,
        "cancel",
        values,
        lambda: request.app[BOOKINGS].series.cancel(series_id, viewer, reason),
        "cancelled",
    )
