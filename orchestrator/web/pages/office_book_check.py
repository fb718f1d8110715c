"""Pages: the booking form's live check. As the form is filled, office.js asks
`/office/book/check` for an HTML fragment: the booking's dry run (`Bookings.check`) in words and
the earliest free times for the sites and groups picked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from orchestrator.booking.schemas import (
    BookSessionRequest,
    CheckOut,
    ConflictOut,
    SlotOut,
    SlotQuery,
)
from orchestrator.booking.slots import SUGGEST_WITHIN
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.errors import Breach, InvalidRequest, OrchestratorError
from orchestrator.domain.models import Chair, ConflictPolicy, Principal, Role, SessionKind
from orchestrator.web.keys import BOOKINGS, CLOCK
from orchestrator.web.pages.common import (
    invalid_summary,
    language,
    render,
    text_of,
    viewer_for,
    zone_name,
)
from orchestrator.web.pages.office_book import (
    BookingForm,
    breach_sentences,
    conflict_sentences,
    invalid_words,
    read_booking,
)
from orchestrator.web.pages.office_common import (
    PROVIDERS,
    Names,
    day_heading,
    directory_of,
    range_label,
)

SUGGESTIONS = 6
GUESSED_MINUTES = 120  # the length free times are sought for while the form names no valid window
# A dry run's chair until a valid address is typed: the reserved `.invalid` domain (RFC 2606) is
# nobody's, so its claim is never in anyone's way.
UNNAMED_CHAIR = Chair(name="—", email="chair@not-chosen.invalid")


def in_the_way(checked: CheckOut) -> list[ConflictOut]:
    """Every claim another session holds: those that refuse the booking and those of the sites it
    would be booked without, in the order of the booking's claims."""
    order = {r: i for i, r in enumerate(checked.resources)}
    found = [*checked.conflicts, *(c for s in checked.skipped for c in s.conflicts)]
    return sorted(found, key=lambda c: order.get(c.resource, len(order)))


def draft_request(request: web.Request, form: BookingForm, zone: str) -> BookSessionRequest | str:
    """The booking as typed so far, complete enough for a dry run; or, in words, what it lacks.

    What has no bearing on the verdict is filled in: a title, the host (the first site picked),
    the provider while none is named and, while no valid address is typed, a chair whose claim
    is nobody's."""
    for name in ("date", "start_time", "end_time", "region"):
        if name in form.errors:
            return form.errors[name]
    if not form.sites:
        return text_of(request, "office.err.host_needed")
    if form.start is None or form.end is None:
        return text_of(request, "office.err.time")
    v = form.values
    try:
        chair = Chair(name=v["chair_name"] or UNNAMED_CHAIR.name, email=v["chair_email"])
    except ValidationError:
        chair = UNNAMED_CHAIR
    try:
        return BookSessionRequest(
            title=v["title"] or "—",
            kind=SessionKind(v["kind"]),
            region=v["region"] or None,
            start=form.start,
            end=form.end,
            timezone=zone,
            host_site=v["host_site"] or form.sites[0],
            sites=form.sites,
            chair=chair,
            leader_groups=form.groups,
            provider=v["provider"] if v["provider"] in PROVIDERS else "static",
            buffer_before_minutes=form.buffer("buffer_before"),
            buffer_after_minutes=form.buffer("buffer_after"),
            conflict_policy=ConflictPolicy(v["conflict_policy"] or "all_or_nothing"),
            override_reason=v["override_reason"] or None,
        )
    except ValueError as exc:  # pydantic's ValidationError is one too
        detail = invalid_summary(request, exc) if isinstance(exc, ValidationError) else str(exc)
        return text_of(request, "office.err.invalid", detail=detail)


async def book_check(request: web.Request) -> web.StreamResponse:
    """An HTML fragment for office.js: the booking's dry run in words (the sessions in the way,
    a note when the time breaks the booking policy, or what the form lacks for a verdict) and
    the earliest free times for the chosen sites and groups.
    """
    viewer = await viewer_for(request, Role.OFFICE)
    directory = await directory_of(request, viewer)
    form = read_booking(request, request.query, directory)
    chk = await check_context(request, viewer, directory, form)
    return render(request, "office/_check.html", {"chk": chk})


async def check_context(
    request: web.Request, viewer: Principal, directory: DirectoryOut, form: BookingForm
) -> dict[str, Any]:
    """What `_check.html` shows for the form as it stands (also under the form's preview)."""
    zone = form.values["timezone"] if "timezone" not in form.errors else zone_name(request)
    picked = bool(form.sites or form.groups)
    problem: str | None = None
    conflicts: list[str] = []
    outside_policy = False
    rules: list[str] = []  # the booking rules the time breaks, each in words
    slots: Sequence[SlotOut] = []
    if picked:
        checked: CheckOut | None = None
        draft = draft_request(request, form, zone)
        if isinstance(draft, str):
            problem = draft
        else:
            try:
                checked = await request.app[BOOKINGS].check(draft, viewer, suggestions=SUGGESTIONS)
            except InvalidRequest as exc:
                problem = invalid_words(request, exc)
        if checked is None:
            slots = await _suggest(request, viewer, form, zone)
        else:
            names = Names.of(directory)
            conflicts = conflict_sentences(request, names, checked.holders, in_the_way(checked))
            outside_policy = bool(checked.breaches)
            rules = breach_sentences(
                request,
                names,
                [Breach(rule=b.rule, detail=b.detail, site_id=b.site_id) for b in checked.breaches],
            )
            slots = checked.suggestions
    tz = ZoneInfo(zone)
    lang = language(request)
    return {
        "picked": picked,
        "problem": problem,
        "conflicts": conflicts,
        "outside_policy": outside_policy,
        "rules": rules,
        "slots": [
            {
                "date": s.start.astimezone(tz).date().isoformat(),
                "start": f"{s.start.astimezone(tz):%H:%M}",
                "end": f"{s.end.astimezone(tz):%H:%M}",
                "label": f"{day_heading(s.start.astimezone(tz).date(), lang)} "
                f"{range_label(s.start, s.end, tz)}",
                "over_lunch": s.over_lunch,
            }
            for s in slots
        ],
        "slot_zone": zone,
    }


async def _suggest(
    request: web.Request, viewer: Principal, form: BookingForm, zone: str
) -> list[SlotOut]:
    """Free times for the sites and groups picked while the form is no booking to dry-run yet:
    for its length (or two hours), from its day (or now) over four weeks."""
    now = request.app[CLOCK].now()
    minutes = GUESSED_MINUTES
    if form.start and form.end and form.end > form.start:
        minutes = int((form.end - form.start).total_seconds() // 60)
    begin = max(now, form.start.replace(hour=0, minute=0) if form.start else now)
    try:
        q = SlotQuery(
            sites=form.sites,
            groups=form.groups,
            kind=SessionKind(form.values["kind"]),
            buffer_before_minutes=form.buffer("buffer_before"),
            buffer_after_minutes=form.buffer("buffer_after"),
            timezone=zone,
            duration_minutes=minutes,
            from_=begin,
            to=begin + SUGGEST_WITHIN,
            limit=SUGGESTIONS,
        )
        return list((await request.app[BOOKINGS].find_slots(q, viewer)).slots)
    except (ValidationError, OrchestratorError):
        return []
