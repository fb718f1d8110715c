"""Pages: the regional-round planner. It proposes one slot per region, no two overlapping, drawn
on the timeline's grid beside the sessions already booked, and commits the round (all or none).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from orchestrator.booking.schemas import (
    ProposalOut,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionOut,
)
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.errors import (
    BookingConflict,
    IdempotencyMismatch,
    InvalidRequest,
    NoRoomForRegion,
    OrchestratorError,
)
from orchestrator.domain.models import Chair, Principal, Role
from orchestrator.web.keys import BOOKINGS, CATALOG
from orchestrator.web.pages.common import (
    form_date,
    form_of,
    format_when,
    invalid_summary,
    language,
    render,
    text_of,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.office_common import (
    PROVIDERS,
    Names,
    day_heading,
    day_start,
    directory_of,
    range_label,
    sessions_between,
    today_in,
)
from orchestrator.web.pages.office_timeline import (
    GROUPS_LANE,
    Grid,
    Item,
    build_grid,
    lane_rows,
    lanes_of,
    session_item,
)
from orchestrator.web.wording import no_room, reason_words


@dataclass
class PlanForm:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    request: RegionalPlanRequest | None = None


def read_plan(
    request: web.Request, data: MultiMapping[Any], directory: DirectoryOut, commit: bool
) -> PlanForm:
    getall = data.getall
    today = today_in(request, zone_name(request))
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
    chairs = _read_chairs(request, data, values["regions"], form)
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
        elif not (region.chair_email or head.coordinator.email or region_id in chairs):
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
    # A chair typed wrong is marked beside it and the round proposed again, never booked.
    chair_trouble = any(k.startswith("chair-") for k in form.errors)
    if chair_trouble:
        commit = False
    if {k for k in form.errors if not k.startswith("chair-")} or first is None or last is None:
        return form
    tz = ZoneInfo(zone_name(request))
    try:
        form.request = RegionalPlanRequest(
            regions=values["regions"],
            from_=day_start(first, tz),
            to=day_start(last + timedelta(days=1), tz),
            duration_minutes=duration,
            leader_groups=values["leader_groups"],
            title=values["title"] or text_of(request, "office.plan.default_title"),
            timezone=zone_name(request),
            provider=values["provider"],
            chairs=chairs,
            commit=commit,
        )
    except ValidationError as exc:
        form.errors["regions"] = text_of(
            request, "office.err.invalid", detail=invalid_summary(request, exc)
        )
    return form


def _read_chairs(
    request: web.Request, data: MultiMapping[Any], regions: Sequence[str], form: PlanForm
) -> dict[str, Chair]:
    """The chairs typed in the proposal's table (`chair_name-<region>`, `chair_email-<region>`),
    kept as typed in `form.values["chairs"]`; a wrong one is marked on its region."""
    typed: dict[str, dict[str, str]] = {}
    chairs: dict[str, Chair] = {}
    for region_id in regions:
        name = str(data.get(f"chair_name-{region_id}", "")).strip()
        email = str(data.get(f"chair_email-{region_id}", "")).strip()
        if not (name or email):
            continue
        typed[region_id] = {"name": name, "email": email}
        if not name:
            form.errors[f"chair-{region_id}"] = text_of(request, "office.plan.err_chair_name")
            continue
        try:
            chairs[region_id] = Chair(name=name, email=email)
        except ValidationError:
            form.errors[f"chair-{region_id}"] = text_of(request, "office.err.email")
    form.values["chairs"] = typed
    return chairs


def _plan_defaults(request: web.Request, directory: DirectoryOut) -> dict[str, Any]:
    """From the earliest day the 15-day notice allows, over four weeks; every region that has a
    head site; the leader groups."""
    first = today_in(request, zone_name(request)) + timedelta(days=16)
    heads = {s.id for s in directory.sites}
    return {
        "regions": [r.id for r in directory.regions if r.head_site in heads],
        "leader_groups": [g.id for g in directory.leader_groups],
        "from": first.isoformat(),
        "to": (first + timedelta(days=27)).isoformat(),
        "duration": "180",
        "title": text_of(request, "office.plan.default_title"),
        "provider": "static",
        "chairs": {},
        "idempotency_key": uuid.uuid4().hex,
    }


def _plan_problem(request: web.Request, exc: OrchestratorError, names: Names) -> str:
    if isinstance(exc, BookingConflict):
        return text_of(request, "office.plan.err_taken")
    if isinstance(exc, NoRoomForRegion):
        return no_room_words(request, exc, names)
    said = reason_words(request.app[CATALOG], language(request), exc)
    return said or text_of(request, "office.err.invalid", detail=exc.message)


def no_room_words(request: web.Request, exc: NoRoomForRegion, names: Names) -> str:
    """Why a region found no time, in the page's language and the request's zone."""
    lang = language(request)
    return no_room(
        request.app[CATALOG],
        lang,
        exc,
        names.regions,
        lambda at, what: format_when(at, lang, exc.zone, what),
    )


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
        typed = form.values.get("chairs", {})
        for p in plan.proposals:
            shown = typed.get(p.region) or {"name": p.chair.name, "email": p.chair.email}
            rows.append(
                {
                    "region_id": p.region,
                    "chair_source": p.chair_source,
                    "chair_typed": shown,
                    "chair_error": form.errors.get(f"chair-{p.region}"),
                    "region": names.regions.get(p.region, p.region),
                    "day": format_when(p.start, lang, zone, "date"),
                    "time": range_label(p.start, p.end, tz),
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
        "day_heading": lambda d: day_heading(d, lang),
        "today": today_in(request, zone),
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
    directory = await directory_of(request, viewer)
    if "regions" not in request.query and "from" not in request.query:
        form = PlanForm(_plan_defaults(request, directory))
        return render(request, "office/plan.html", _plan_context(request, directory, form))
    form = read_plan(request, request.query, directory, commit=False)
    return await _run_plan(request, viewer, directory, form)


async def plan_commit(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    directory = await directory_of(request, viewer)
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
    plan = answer.value
    existing: list[SessionOut] = []
    if plan.proposals:
        tz = ZoneInfo(zone_name(request))
        first = min(p.start for p in plan.proposals).astimezone(tz).date()
        last = max(p.end for p in plan.proposals).astimezone(tz).date()
        existing = await sessions_between(
            request, viewer, day_start(first, tz), day_start(last + timedelta(days=1), tz)
        )
    return render(
        request,
        "office/plan.html",
        _plan_context(request, directory, form, plan=plan, existing=existing),
        status=201 if plan.committed else 422 if form.errors else 200,
    )
