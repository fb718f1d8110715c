"""Pages: the booking form's repetition (DESIGN 10). The form may repeat weekly on chosen days or
monthly on the n-th weekday, for a number of occurrences or until a date; its preview lists
every occurrence with the sessions in its way and the booking rules it breaks (the series' dry
run), and *Đặt lịch* books the series and opens its page.

The form posts here whatever it does: a single session's booking goes on to `office_book`; the
preview (*Xem trước*) shows the form again with the check under *Availability*, which is how the
form works without JavaScript; office.js asks `/office/book/check`, answered here for a series
and by `office_book_check` for one session.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.booking.schemas import BookSessionRequest, BreachOut
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    OccurrenceCheckOut,
    SeriesCheckOut,
    SeriesConflictPolicy,
)
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.errors import (
    Breach,
    IdempotencyMismatch,
    InvalidRequest,
    SeriesConflict,
    SeriesPolicyViolation,
)
from orchestrator.domain.models import Principal, Role
from orchestrator.domain.policy import holiday_name
from orchestrator.web.keys import BOOKINGS
from orchestrator.web.pages import office_book, office_book_check
from orchestrator.web.pages.common import (
    form_date,
    form_of,
    format_when,
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
from orchestrator.web.pages.office_book_check import draft_request
from orchestrator.web.pages.office_common import Names, directory_of, range_label
from orchestrator.web.pages.series_words import (
    NTHS,
    WEEKDAYS,
    day_words,
    nth_of,
    nth_words,
    rule_words,
    weekday_name,
)

MAX_COUNT = 200  # the rule's own limit (recurrence.MAX_OCCURRENCES)
# The fields of the repetition, in the order the form shows them: a problem with the first one
# found is what the preview says.
REPEAT_FIELDS = ("byday", "month_nth", "count", "until", "conflict_policy")
PREVIEW_OVERRIDE = "—"  # the dry run's reason while the form has one: its text has no bearing


@dataclass(frozen=True)
class Repeat:
    """The repetition the form asks for: the RRULE value and what to do with occurrences in the
    way (or against the booking rules)."""

    rule: str
    policy: SeriesConflictPolicy


def read_repeat(request: web.Request, form: BookingForm) -> Repeat | None:
    """The form's repetition, or None for a single session. Its problems go to `form.errors`
    under their fields, in the viewer's words; the values are tidied for re-display (a weekly
    rule without a day repeats on the first date's weekday, which is then ticked)."""
    v, errors = form.values, form.errors

    def say(key: str, **kw: Any) -> str:
        return text_of(request, key, **kw)

    kind = v["repeat"] if v["repeat"] in ("weekly", "monthly") else "none"
    v["repeat"] = kind
    v["byday"] = [d for d in WEEKDAYS if d in v["byday"]]
    v["month_nth"] = v["month_nth"] if v["month_nth"] in NTHS else ""
    v["month_day"] = v["month_day"] if v["month_day"] in WEEKDAYS else ""
    v["ends"] = "until" if v["ends"] == "until" else "count"
    skipping = v["series_policy"] == SeriesConflictPolicy.SKIP_CONFLICTING_OCCURRENCES.value
    policy = (
        SeriesConflictPolicy.SKIP_CONFLICTING_OCCURRENCES
        if skipping
        else SeriesConflictPolicy.ALL_OR_NOTHING
    )
    v["series_policy"] = policy.value
    if kind == "none":
        return None
    first = form_date(v["date"])
    parts = [f"FREQ={kind.upper()}"]
    if kind == "weekly":
        days = list(v["byday"])
        if first is not None:
            mine = WEEKDAYS[first.weekday()]
            if not days:
                days = v["byday"] = [mine]
            elif mine not in days:
                errors["byday"] = say(
                    "series.err.not_on_days",
                    date=day_words(request, first),
                    days=", ".join(weekday_name(request, d) for d in days),
                )
        if days:
            parts.append("BYDAY=" + ",".join(days))
    elif first is not None:
        week, last = nth_of(first)
        code = WEEKDAYS[first.weekday()]
        nth = v["month_nth"] or ("-1" if week == "5" else week)
        day = v["month_day"] or code
        if day != code or not (nth == week or (nth == "-1" and last)):
            actual = nth_words(request, "-1" if week == "5" else week, code)
            errors["month_nth"] = say(
                "series.err.not_that_day",
                date=day_words(request, first),
                chosen=nth_words(request, nth, day),
                actual=actual,
            )
        parts.append(f"BYDAY={nth}{day}")
    if v["ends"] == "until":
        until = form_date(v["until"])
        if until is None:
            errors["until"] = say("series.err.until")
        elif first is not None and until < first:
            errors["until"] = say("series.err.until_before")
        else:
            parts.append(f"UNTIL={until:%Y%m%d}")
    else:
        count = v["count"]
        if not count.isdigit() or not 1 <= int(count) <= MAX_COUNT:
            errors["count"] = say("series.err.count", max=MAX_COUNT)
        else:
            parts.append(f"COUNT={int(count)}")
    if v["conflict_policy"] == "skip_conflicting":
        errors["conflict_policy"] = say("series.err.skip_sites")
    return Repeat(";".join(parts), policy)


def series_request(base: BookSessionRequest, repeat: Repeat) -> BookSeriesRequest:
    """The series whose first occurrence is `base`."""
    fields = base.model_dump(exclude={"conflict_policy"})
    return BookSeriesRequest.model_validate(
        {**fields, "recurrence": repeat.rule, "conflict_policy": repeat.policy}
    )


# the preview ------------------------------------------------------------------------------


async def preview(
    request: web.Request,
    viewer: Principal,
    directory: DirectoryOut,
    form: BookingForm,
    repeat: Repeat,
    *,
    overriding: bool,
) -> dict[str, Any]:
    """What `_series_check.html` shows: every occurrence the rule names with what stands in its
    way, and what *Đặt lịch* would do; or, in words, what the form lacks for that."""
    out: dict[str, Any] = {"picked": bool(form.sites or form.groups), "problem": None}
    if not out["picked"]:
        return out
    wrong = next((form.errors[f] for f in REPEAT_FIELDS if f in form.errors), None)
    zone = form.values["timezone"] if "timezone" not in form.errors else zone_name(request)
    draft = wrong or draft_request(request, form, zone)
    if isinstance(draft, str):
        out["problem"] = draft
        return out
    if overriding:
        draft = draft.model_copy(update={"override_reason": PREVIEW_OVERRIDE})
    try:
        checked = await request.app[BOOKINGS].series.check(series_request(draft, repeat), viewer)
    except InvalidRequest as exc:
        out["problem"] = invalid_words(request, exc)
        return out
    out.update(occurrences_of(request, directory, checked, repeat))
    return out


def occurrences_of(
    request: web.Request, directory: DirectoryOut, checked: SeriesCheckOut, repeat: Repeat
) -> dict[str, Any]:
    """The preview's rows and verdict, in words."""
    names = Names.of(directory)
    lang = language(request)
    zone = checked.timezone
    tz = ZoneInfo(zone)
    skipping = repeat.policy is SeriesConflictPolicy.SKIP_CONFLICTING_OCCURRENCES
    rows = []
    for o in checked.occurrences:
        blocking = bool(o.conflicts) or (bool(o.breaches) and not o.overridden)
        if not blocking:
            state = "overridden" if o.overridden else "free"
        elif skipping:
            state = "skipped"
        else:
            state = "conflict" if o.conflicts else "breach"
        rows.append(
            {
                "when": f"{format_when(o.start, lang, zone, 'date')} "
                f"{range_label(o.start, o.end, tz)}",
                "state": state,
                "why": [
                    *conflict_sentences(request, names, checked.holders, o.conflicts),
                    *_breach_lines(request, names, o.breaches, checked.holiday_country, o),
                ],
            }
        )
    total = len(rows)
    skipped = sum(r["state"] == "skipped" for r in rows)
    if checked.refused is not None and skipping:
        verdict, ok = text_of(request, "series.preview.none_left", total=total), False
    elif checked.refused == "policy":
        n = sum(r["state"] == "breach" for r in rows)
        verdict, ok = text_of(request, "series.preview.refused_policy", n=n, total=total), False
    elif checked.refused == "conflict":
        n = sum(r["state"] == "conflict" for r in rows)
        verdict, ok = text_of(request, "series.preview.refused_conflict", n=n, total=total), False
    elif skipped:
        verdict = text_of(
            request, "series.preview.some_skipped", booked=total - skipped, total=total, n=skipped
        )
        ok = True
    elif overridden := sum(r["state"] == "overridden" for r in rows):
        verdict = text_of(request, "series.preview.all_overridden", total=total, n=overridden)
        ok = True
    else:
        verdict, ok = text_of(request, "series.preview.all_free", total=total), True
    first = checked.occurrences[0].start
    return {
        "rule": rule_words(request, checked.recurrence, first, zone),
        "recurrence": checked.recurrence,
        "zone": zone,
        "rows": rows,
        "verdict": verdict,
        "ok": ok,
        "total": total,
    }


def _breach_lines(
    request: web.Request,
    names: Names,
    breaches: Sequence[BreachOut],
    country: str,
    occurrence: OccurrenceCheckOut,
) -> list[str]:
    """The rules an occurrence breaks; a holiday by its name."""
    lines = []
    others = []
    for b in breaches:
        if b.rule == "holiday":
            day = occurrence.start.date()
            lang = "vi" if language(request) == "vi" else "en_US"
            name = holiday_name(country, day, lang) or holiday_name(country, day) or ""
            line = text_of(request, "series.preview.holiday", name=name)
            if line not in lines:
                lines.append(line)
        else:
            others.append(b)
    said = [Breach(rule=b.rule, detail=b.detail, site_id=b.site_id) for b in others]
    return [*lines, *breach_sentences(request, names, said)]


# the handlers -----------------------------------------------------------------------------


async def book_check(request: web.Request) -> web.StreamResponse:
    """The form's live check for office.js: a series' preview when the form repeats, else one
    session's check (`office_book_check`)."""
    viewer = await viewer_for(request, Role.OFFICE)
    directory = await directory_of(request, viewer)
    form = read_booking(request, request.query, directory)
    repeat = read_repeat(request, form)
    if repeat is None:
        chk = await office_book_check.check_context(request, viewer, directory, form)
        return render(request, "office/_check.html", {"chk": chk})
    overriding = request.query.get("override") == "1"
    sp = await preview(request, viewer, directory, form, repeat, overriding=overriding)
    return render(request, "office/_series_check.html", {"sp": sp})


async def book_submit(request: web.Request) -> web.StreamResponse:
    """The form posted: the preview, a series booked, or one session (`office_book`)."""
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    directory = await directory_of(request, viewer)
    form = read_booking(request, data, directory)
    repeat = read_repeat(request, form)
    previewing = data.get("do") == "preview"
    if repeat is None and not previewing:
        return await office_book.book_submit(request)
    if repeat is None:
        chk = await office_book_check.check_context(request, viewer, directory, form)
        return _form(request, directory, form, 200, chk=chk)
    overriding = bool(form.values["override_reason"])
    if previewing:
        sp = await preview(request, viewer, directory, form, repeat, overriding=overriding)
        return _form(request, directory, form, 200, sp=sp)
    req = office_book.booking_request(request, form)
    if req is None or form.errors:
        sp = await preview(request, viewer, directory, form, repeat, overriding=overriding)
        fix = [text_of(request, "office.err.fix_fields")]
        return _form(request, directory, form, 422, sp=sp, problems=fix)
    try:
        answer = await request.app[BOOKINGS].series.book(
            series_request(req, repeat),
            viewer,
            idempotency_key=form.values["idempotency_key"] or None,
        )
    except (SeriesConflict, SeriesPolicyViolation) as exc:
        status = 409 if isinstance(exc, SeriesConflict) else 422
        sp = await preview(request, viewer, directory, form, repeat, overriding=overriding)
        if not sp.get("rows"):  # the one in the way has gone meanwhile
            return _form(request, directory, form, status, problems=[_raced(request)])
        key = "series.book.refused_conflict" if status == 409 else "series.book.refused_policy"
        return _form(request, directory, form, status, sp=sp, problems=[text_of(request, key)])
    except IdempotencyMismatch:
        form.values["idempotency_key"] = uuid.uuid4().hex
        again = [text_of(request, "office.err.resubmitted")]
        return _form(request, directory, form, 422, problems=again)
    except InvalidRequest as exc:
        said = [invalid_words(request, exc)]
        return _form(request, directory, form, 422, problems=said)
    raise web.HTTPSeeOther(f"/office/series/{answer.value.id}")


def _raced(request: web.Request) -> str:
    return text_of(request, "office.err.raced")


def _form(
    request: web.Request,
    directory: DirectoryOut,
    form: BookingForm,
    status: int,
    **shown: Any,
) -> web.Response:
    context = office_book.form_context(request, directory, form, **shown)
    return render(request, "office/book.html", context, status=status)
