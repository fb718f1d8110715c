"""Pages: a series' rule in words ("Hằng tuần vào Thứ Năm, 8 buổi" / "Weekly on Thursday, 8
occurrences"), for the booking form's preview and the series page. A rule the form cannot make
(booked through the API with other parts) is shown as it is written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.web.pages.common import language, text_of

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
NTHS = ("1", "2", "3", "4", "-1")  # the week of the month a monthly rule names ("-1": the last)
_WORDED = {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST"}


def weekday_name(request: web.Request, code: str) -> str:
    """`TH` as `Thứ Năm` / `Thursday`."""
    return text_of(request, "series.weekdays").split(",")[WEEKDAYS.index(code)]


def nth_words(request: web.Request, nth: str, code: str) -> str:
    """The second Thursday of a month: `Thứ Năm tuần thứ hai` / `the second Thursday`."""
    key = "series.nth.last" if nth == "-1" else f"series.nth.{nth}"
    return text_of(request, key, weekday=weekday_name(request, code))


def nth_of(day: date) -> tuple[str, bool]:
    """Which week of its month `day` lies in ("1" to "5") and whether it is the last such
    weekday of the month."""
    week = (day.day - 1) // 7 + 1
    last = date.fromordinal(day.toordinal() + 7).month != day.month
    return str(week), last


def day_words(request: web.Request, day: date) -> str:
    lang = language(request)
    weekday = text_of(request, "series.weekdays").split(",")[day.weekday()]
    return f"{weekday} {day:%d/%m/%Y}" if lang == "vi" else f"{weekday} {day:%Y-%m-%d}"


def rule_words(request: web.Request, rule: str, first: datetime, zone: str) -> str:
    """The rule in the viewer's words, or the rule itself when it uses parts this cannot say.
    `first` is the first occurrence's start; `zone` the series'."""
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    if set(parts) - _WORDED:
        return rule
    local = first.astimezone(ZoneInfo(zone))
    n = int(parts.get("INTERVAL", "1") or "1")
    every = "" if n == 1 else "_n"
    freq = parts.get("FREQ", "")
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    if freq == "DAILY" and not days:
        said = text_of(request, f"series.rule.daily{every}", n=n)
    elif freq == "WEEKLY" and all(d in WEEKDAYS for d in days):
        names = [weekday_name(request, d) for d in days or [WEEKDAYS[local.weekday()]]]
        said = text_of(request, f"series.rule.weekly{every}", n=n, days=", ".join(names))
    elif freq == "MONTHLY" and len(days) == 1 and days[0][:-2] in NTHS:
        code = days[0][-2:]
        if code not in WEEKDAYS:
            return rule
        day = nth_words(request, days[0][:-2], code)
        said = text_of(request, f"series.rule.monthly{every}", n=n, day=day)
    elif freq == "MONTHLY" and not days:
        day = text_of(request, "series.rule.month_day", day=local.day)
        said = text_of(request, f"series.rule.monthly{every}", n=n, day=day)
    elif freq == "YEARLY" and not days and n == 1:
        said = text_of(request, "series.rule.yearly")
    else:
        return rule
    if "COUNT" in parts:
        return text_of(request, "series.rule.count", rule=said, count=parts["COUNT"])
    if "UNTIL" in parts:
        until = _until(parts["UNTIL"], zone)
        if until is None:
            return rule
        return text_of(request, "series.rule.until", rule=said, date=day_words(request, until))
    return said


def _until(part: str, zone: str) -> date | None:
    """The last local day an UNTIL names (stored in UTC, `20270331T165959Z`)."""
    try:
        if part.endswith("Z"):
            at = datetime.strptime(part, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return at.astimezone(ZoneInfo(zone)).date()
        return datetime.strptime(part[:8], "%Y%m%d").date()
    except ValueError:
        return None
