"""Pages: the office's booking form. It answers a booking in words (the sessions in the way, the
rules broken, the fields to correct) and keeps what was typed; `office_book_check` answers the
live check office.js asks for as the form is filled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from orchestrator.booking.schemas import (
    MAX_BUFFER_MINUTES,
    BookSessionRequest,
    ConflictOut,
    HolderOut,
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
from orchestrator.domain.models import Chair, ConflictPolicy, Principal, Role, SessionKind
from orchestrator.web.keys import BOOKINGS, CATALOG
from orchestrator.web.pages.common import (
    ZONES,
    form_date,
    form_of,
    form_time,
    format_when,
    invalid_text,
    language,
    local_instant,
    render,
    text_of,
    valid_zone,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.office_common import (
    PROVIDERS,
    Names,
    directory_of,
    range_label,
    site_order,
    today_in,
)
from orchestrator.web.wording import reason_words

# the form, as typed --------------------------------------------------------------------------

LIST_FIELDS = ("sites", "region_all", "leader_groups", "byday")
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
    # a series (office_book_series): how it repeats and ends, what to do with occurrences in the way
    "repeat",
    "month_nth",
    "month_day",
    "ends",
    "count",
    "until",
    "series_policy",
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
    day = today_in(request, zone) + timedelta(days=1)
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
        "repeat": "none",
        "byday": [],
        "month_nth": "",
        "month_day": "",
        "ends": "count",
        "count": "8",
        "until": "",
        "series_policy": "all_or_nothing",
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
            if ends < starts:
                errors["end_time"] = say(
                    "office.err.end_before_start",
                    start=f"{starts.astimezone(tz):%H:%M}",
                    end=f"{ends.astimezone(tz):%H:%M}",
                )
            elif ends == starts:
                errors["end_time"] = say("office.err.end_is_start")
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
            errors.setdefault(name, invalid_text(request, problem))
        if not errors:
            errors["title"] = say("office.err.invalid", detail=str(exc))
        return None


# the sessions in the way and the rules broken, in words --------------------------------------


def conflict_sentences(
    request: web.Request,
    names: Names,
    holders: Sequence[HolderOut],
    conflicts: Sequence[ConflictOut],
) -> list[str]:
    """'Sở GD&ĐT Đà Nẵng đã có phiên «…» 08:00–11:30 (T5 10/12/2026)', one per session holding
    some of `conflicts`, earliest first."""
    held: dict[str, list[str]] = {}
    for c in conflicts:
        held.setdefault(c.session_id, [])
        if c.resource not in held[c.session_id]:
            held[c.session_id].append(c.resource)
    zone = zone_name(request)
    lang = language(request)
    lines = []
    for holder in holders:
        resources = held.get(holder.session_id)
        if not resources:
            continue
        lines.append(
            text_of(
                request,
                "office.conflict",
                who=", ".join(names.resource(request, r) for r in resources),
                title=holder.title,
                time=range_label(holder.start, holder.end, ZoneInfo(zone)),
                day=format_when(holder.start, lang, zone, "date"),
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


def form_context(
    request: web.Request, directory: DirectoryOut, form: BookingForm, **extra: Any
) -> dict[str, Any]:
    regions = [
        (r.id, r.name, site_order([s for s in directory.sites if s.region == r.id], r.head_site))
        for r in directory.regions
    ]
    loose = site_order(
        [
            s
            for s in directory.sites
            if not s.region or s.region not in {r.id for r in directory.regions}
        ]
    )
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
        "chk": None,  # a preview shown under Availability: one session's check
        "sp": None,  # or a series' occurrences
        **extra,
    }


async def book_form(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    directory = await directory_of(request, viewer)
    form = BookingForm(_default_values(request, zone_name(request)))
    return render(request, "office/book.html", form_context(request, directory, form))


async def book_submit(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    directory = await directory_of(request, viewer)
    form = read_booking(request, data, directory)
    req = booking_request(request, form)
    if req is None:
        return render(
            request,
            "office/book.html",
            form_context(
                request, directory, form, problems=[text_of(request, "office.err.fix_fields")]
            ),
            status=422,
        )
    names = Names.of(directory)
    try:
        answer = await request.app[BOOKINGS].book(
            req, viewer, idempotency_key=form.values["idempotency_key"] or None
        )
    except BookingConflict:
        lines = await _refusing(request, viewer, names, req) or [
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
        return _refused(request, directory, form, 422, problems=[invalid_words(request, exc)])
    session_id = answer.value.id
    raise web.HTTPSeeOther(f"/office/sessions/{session_id}")


async def _refusing(
    request: web.Request, viewer: Principal, names: Names, req: BookSessionRequest
) -> list[str]:
    """The sessions that refused `req`, in words, as its dry run finds them now (none when the
    one in the way has gone meanwhile)."""
    try:
        checked = await request.app[BOOKINGS].check(req, viewer)
    except OrchestratorError:
        return []
    return conflict_sentences(request, names, checked.holders, checked.conflicts)


def invalid_words(request: web.Request, exc: InvalidRequest) -> str:
    if exc.field == "provider":
        return text_of(request, "office.err.provider_off")
    said = reason_words(request.app[CATALOG], language(request), exc)
    return said or text_of(request, "office.err.invalid", detail=exc.message)


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
        form_context(request, directory, form, **shown),
        status=status,
    )
