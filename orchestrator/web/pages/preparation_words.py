"""Pages: how a preparation task's due date came about, in words, so a due date that a short
notice or a weekend moved close to the booking is explained, not silently "due tomorrow"."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.preparation.service import TaskOut
from orchestrator.web.pages.common import WEEKDAYS, language, text_of

SHORT_DAYS = 3  # at most this many days between booking and the due date: say how few


def _day(day: date, lang: str) -> str:
    weekday = WEEKDAYS[lang][day.weekday()]
    return f"{weekday} {day:%d/%m/%Y}" if lang == "vi" else f"{weekday} {day:%Y-%m-%d}"


def due_words(request: web.Request, task: TaskOut, booked_at: datetime) -> str:
    """The rule, the date it counted, any move to a working day, and how little time the booking
    left (or that the date had passed when the meeting was booked)."""
    if task.days is None or task.counted_date is None or task.due_date is None:
        return ""
    lang = language(request)
    working = "_working" if task.counting == "working" else ""
    anchor = task.anchor or "before_start"
    words = [
        text_of(
            request,
            f"prep.rule.{anchor}{working}",
            days=task.days,
            date=_day(task.counted_date, lang),
        )
    ]
    if task.due_date != task.counted_date:
        key = "prep.rolled_back" if task.due_date < task.counted_date else "prep.rolled_on"
        words.append(text_of(request, key, due=_day(task.due_date, lang)))
    if anchor == "before_start":
        booked = booked_at.astimezone(ZoneInfo(task.zone)).date()
        left = (task.due_date - booked).days
        shown = _day(booked, lang)
        if left < 0:
            words.append(text_of(request, "prep.passed", booked=shown))
        elif left == 0:
            words.append(text_of(request, "prep.same_day", booked=shown))
        elif left <= SHORT_DAYS:
            words.append(text_of(request, "prep.short", booked=shown, n=left))
    return " ".join(words)
