"""Refusals in the reader's language: pydantic's validation errors (by their `type` and context)
and the domain's errors (by their class and fields), worded from the page catalog.

Pages word every refusal in their own language; the API words `detail` by `Accept-Language`
(English when absent, as pydantic and the domain word it). `code`, `rule` and `field` are data
and never translated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from orchestrator.domain.errors import (
    NO_ROOM_RULES,
    AuthenticationRequired,
    BookingConflict,
    IdempotencyMismatch,
    InvalidRequest,
    InvalidState,
    NoRoomForRegion,
    NotFound,
    OrchestratorError,
    PermissionDenied,
    PolicyViolation,
    SeriesConflict,
    SeriesPolicyViolation,
    refusal_words,
)
from orchestrator.domain.policy import holiday_name

LANGUAGES = ("vi", "en")


class Words(Protocol):
    """The page catalog (`orchestrator.web.pages.common.Catalog`)."""

    def text(self, lang: str, key: str, **values: Any) -> str: ...

    def known(self) -> set[str]: ...


# pydantic's error types, by the catalog key that words them
_TYPES = {
    "missing": "missing",
    "string_too_long": "string_too_long",
    "string_too_short": "string_too_short",
    "too_long": "too_long",
    "too_short": "too_short",
    "greater_than_equal": "greater_than_equal",
    "greater_than": "greater_than",
    "less_than_equal": "less_than_equal",
    "less_than": "less_than",
    "int_parsing": "int",
    "int_type": "int",
    "int_from_float": "int",
    "float_parsing": "number",
    "float_type": "number",
    "decimal_parsing": "number",
    "bool_parsing": "bool",
    "bool_type": "bool",
    "string_type": "string",
    "literal_error": "one_of",
    "enum": "one_of",
    "datetime_parsing": "datetime",
    "datetime_from_date_parsing": "datetime",
    "datetime_type": "datetime",
    "timezone_aware": "timezone_aware",
    "date_parsing": "date",
    "date_from_datetime_parsing": "date",
    "date_type": "date",
    "time_parsing": "time",
    "time_type": "time",
    "extra_forbidden": "extra",
    "string_pattern_mismatch": "pattern",
    "json_invalid": "json",
    "model_type": "object",
    "model_attributes_type": "object",
    "dict_type": "object",
    "list_type": "list",
    "uuid_parsing": "uuid",
    "uuid_type": "uuid",
}
_LIMITS = ("max_length", "min_length", "ge", "gt", "le", "lt")


def accepted_language(header: str | None, default: str = "en") -> str:
    """`vi` or `en`, whichever an `Accept-Language` header prefers (by its q weights), else
    `default`."""
    best, weight = default, -1.0
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGUAGES:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > weight and q > 0:
            best, weight = lang, q - position * 1e-6  # the first of equal weights wins
    return best


def field_of(error: ErrorDetails) -> str:
    """A dotted path of the error's location, without pydantic's validator tags."""
    parts = [str(p) for p in error["loc"] if isinstance(p, int) or "[" not in str(p)]
    return ".".join(parts)


def invalid(words: Words, lang: str, error: ErrorDetails) -> str:
    """One validation error in words, without its field (pages put it beside the field)."""
    message = refusal_words(error)
    return _typed(words, lang, error["type"], error.get("ctx") or {}, message)


def coded(words: Words, lang: str, code: str, values: Mapping[str, str], message: str) -> str:
    """A problem said as data (a directory file's: `DirectoryProblem.code` and `values`) in
    `lang`; in English its own message."""
    if lang == "en":
        return message
    key = f"dirprob.{code}"
    if key in words.known():
        return words.text(lang, key, **values)
    return _typed(words, lang, code, values, values.get("detail", message))


def _typed(words: Words, lang: str, kind: str, ctx: Mapping[str, Any], message: str) -> str:
    reason = ctx.get("reason") if kind == "value_error" else (None if kind in _TYPES else kind)
    if isinstance(reason, str) and f"invalid.{reason}" in words.known():
        # a validator's own refusal (`domain.errors.invalid_value`), or a loader's code
        values = {k: v for k, v in ctx.items() if k not in ("reason", "message")}
        return words.text(lang, f"invalid.{reason}", **values)
    if kind == "value_error" and "email" in message.lower():
        return words.text(lang, "invalid.email")
    key = _TYPES.get(kind)
    if key is None:
        if lang == "en":
            return message
        return words.text(lang, "invalid.other", detail=message)
    limit = next((ctx[name] for name in _LIMITS if name in ctx), "")
    expected = str(ctx.get("expected", "")).replace("'", "")
    return words.text(lang, f"invalid.{key}", limit=limit, expected=expected)


def invalid_list(words: Words, lang: str, exc: ValidationError) -> list[str]:
    """Each error of `exc` in words, its field first when it has one."""
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        where = field_of(error)
        said = invalid(words, lang, error)
        out.append(f"{where}: {said}" if where else said)
    return out


_KINDS = {
    "session": "kind.session",
    "series": "kind.series",
    "site": "kind.site",
    "site of this session": "kind.site_of_session",
    "task": "kind.task",
    "answer": "kind.answer",
}


def reason_words(words: Words, lang: str, exc: OrchestratorError) -> str | None:
    """What the error says in `lang` (English too), worded from its `reason` and `values`;
    None when it has no reason the catalog words (`refused.<reason>`)."""
    key = f"refused.{exc.reason}"
    if exc.reason is not None and key in words.known():
        return words.text(lang, key, **exc.values)
    return None


def refusal(words: Words, lang: str, exc: OrchestratorError) -> str:
    """The domain's refusal in `lang`: its own message in English; in Vietnamese worded from its
    fields, or from its `reason` and `values` (what only exists as English text is quoted after
    the Vietnamese words)."""
    if lang == "en":
        return exc.message
    said = reason_words(words, lang, exc)
    if said is not None:
        return said
    if isinstance(exc, NotFound):
        kind = _KINDS.get(exc.kind)
        what = words.text(lang, kind) if kind else exc.kind
        return words.text(lang, "refused.not_found", what=what, ident=exc.ident)
    if isinstance(exc, SeriesConflict) and exc.occurrences:
        dates = _occurrences(c.occurrence for c in exc.occurrences)
        return words.text(
            lang, "refused.series_conflict", dates=dates, held=_held(words, lang, exc)
        )
    if isinstance(exc, SeriesPolicyViolation):
        dates = _occurrences(b.occurrence for b in exc.occurrences)
        rules = "; ".join(
            dict.fromkeys(words.text(lang, f"office.rule.{b.rule}") for b in exc.breaches)
        )
        return words.text(lang, "refused.series_policy", dates=dates, rules=rules)
    if isinstance(exc, BookingConflict):
        held = _held(words, lang, exc)
        if not held:
            return words.text(lang, "refused.raced")
        return words.text(lang, "refused.conflict", held=held)
    if isinstance(exc, PolicyViolation):
        rules = "; ".join(
            dict.fromkeys(words.text(lang, f"office.rule.{b.rule}") for b in exc.breaches)
        )
        return words.text(lang, "refused.policy", rules=rules)
    if isinstance(exc, IdempotencyMismatch):
        return words.text(lang, "refused.idempotency")
    if isinstance(exc, AuthenticationRequired):
        return words.text(lang, "refused.unauthenticated")
    if isinstance(exc, PermissionDenied):
        return words.text(lang, "refused.forbidden")
    if isinstance(exc, NoRoomForRegion):
        return no_room(words, lang, exc)
    if isinstance(exc, InvalidState):
        return words.text(lang, "refused.state", detail=exc.message)
    if isinstance(exc, InvalidRequest):
        return words.text(lang, "refused.invalid", detail=exc.message)
    return words.text(lang, "refused.other", detail=exc.message)


def _occurrences(when: Iterable[datetime]) -> str:
    """A series' occurrences as their local dates and times (they carry the series' zone)."""
    return ", ".join(dict.fromkeys(at.strftime("%Y-%m-%d %H:%M") for at in when))


def _held(words: Words, lang: str, exc: BookingConflict) -> str:
    shown: Sequence[str] = [
        words.text(lang, "refused.held_by", resource=c.resource, session=c.session_id)
        for c in exc.conflicts[:5]
    ]
    more = len(exc.conflicts) - 5
    extra = words.text(lang, "refused.and_more", count=more) if more > 0 else ""
    return ", ".join(shown) + extra


def http_refusal(words: Words, lang: str, status: int, text: str) -> str:
    """aiohttp's refusals (a body that is not JSON, too large, a wrong media type...)."""
    if lang == "en":
        return text
    key = f"refused.http_{status}"
    return words.text(lang, key) if key in words.known() else words.text(lang, "refused.http")


Say = Callable[[datetime, str], str]  # an instant in words: `what` is "date", "time" or "datetime"


_ISO = {"date": "%Y-%m-%d", "time": "%H:%M", "datetime": "%Y-%m-%d %H:%M"}


def _iso_words(zone: str) -> Say:
    def say(at: datetime, what: str) -> str:
        return at.astimezone(ZoneInfo(zone)).strftime(_ISO[what])

    return say


def no_room(
    words: Words,
    lang: str,
    exc: NoRoomForRegion,
    regions: Mapping[str, str] | None = None,
    when: Say | None = None,
) -> str:
    """Why the planner found no time for a region, in `lang`, its times in the request's zone
    (`when` words an instant; pages pass their own; by default `2026-12-08 09:00`)."""
    zone, names = exc.zone, regions or {}
    say = when or _iso_words(zone)
    first, last = exc.window[0], exc.window[1] - timedelta(microseconds=1)
    window = say(first, "date")
    if first.astimezone(ZoneInfo(zone)).date() != last.astimezone(ZoneInfo(zone)).date():
        window = f"{window} – {say(last, 'date')}"
    said: dict[str, Any] = {
        "region": names.get(exc.region, exc.region),
        "window": window,
        "zone": zone,
        "minutes": exc.duration_minutes,
    }
    if exc.rule == "min_notice" and exc.earliest is not None:
        said.update(days=f"{exc.notice_days:g}", earliest=say(exc.earliest, "datetime"))
    elif exc.rule == "max_duration":
        said.update(max=exc.max_minutes)
    elif exc.rule in ("weekend", "holiday"):
        holiday_language = "vi" if lang == "vi" else "en_US"
        said.update(
            days=", ".join(
                words.text(
                    lang,
                    "office.plan.day_holiday",
                    day=say(_noon(d.day, zone), "date"),
                    name=holiday_name(d.country, d.day, holiday_language) or d.name,
                )
                if d.name
                else words.text(
                    lang, "office.plan.day_weekend", day=say(_noon(d.day, zone), "date")
                )
                for d in exc.days_off
            )
        )
    elif exc.rule == "working_hours":
        said.update(hours=exc.hours)
    elif exc.rule == "conflict":
        said.update(
            held="; ".join(
                f"«{h.title}» {say(h.start, 'datetime')}–{say(h.end, 'time')}"
                for h in exc.holders[:5]
            )
        )
    elif exc.rule == "round":
        said.update(placed=", ".join(names.get(r, r) for r in exc.placed))
    key = f"office.plan.no_room.{exc.rule}"
    if exc.rule not in NO_ROOM_RULES or (exc.rule == "min_notice" and exc.earliest is None):
        key = "office.plan.no_room.round"
        said.setdefault("placed", "")
    return words.text(lang, key, **said)


def _noon(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(12), tzinfo=ZoneInfo(zone))
