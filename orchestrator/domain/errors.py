"""The product's error tree. Each error is data: it builds its message from its fields.

OrchestratorError
├── NotFound                 (SessionNotFound, SeriesNotFound, ...)
├── InvalidRequest           input that parses but makes no sense (unknown site, end before start)
├── BookingConflict          rule 1: claims already held (409); SeriesConflict per occurrence
├── InvalidState             the session's state forbids the change (409)
├── PolicyViolation          rule 4: a booking-policy breach (422); SeriesPolicyViolation
├── IdempotencyMismatch      an Idempotency-Key reused with another request (422)
├── AuthenticationRequired   no or bad credentials (401)
└── PermissionDenied         the caller's role may not do this (403)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_core import PydanticCustomError

from orchestrator.domain.timewords import local_range, local_time


def _iso(when: datetime) -> str:
    """UTC instants as JSON shows them everywhere else (`...Z`)."""
    return when.isoformat().replace("+00:00", "Z")


class OrchestratorError(Exception):
    """Base of every error the use cases raise on purpose.

    `message` is English. `reason` (a stable code such as `unknown_sites`) and `values` (its
    facts, as text) say the same as data, for readers that word it in another language; the API's
    `code` stays the class's."""

    status = 500
    code = "error"

    def __init__(
        self, message: str, *, reason: str | None = None, values: Mapping[str, object] = {}
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.values = {key: str(value) for key, value in values.items()}

    def extra(self) -> dict[str, object]:
        """Fields added to the problem+json body."""
        return {}


class NotFound(OrchestratorError):
    status = 404
    code = "not_found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} does not exist")
        self.kind = kind
        self.ident = ident


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__("session", session_id)


class SeriesNotFound(NotFound):
    def __init__(self, series_id: str) -> None:
        super().__init__("series", series_id)


class InvalidRequest(OrchestratorError):
    status = 422
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        values: Mapping[str, object] = {},
    ) -> None:
        super().__init__(message, reason=reason, values=values)
        self.field = field

    def extra(self) -> dict[str, object]:
        return {"field": self.field} if self.field else {}


@dataclass(frozen=True)
class DayOff:
    """A local day of a window that holds no meeting: a weekend day or a public holiday."""

    day: date
    rule: str  # "weekend" or "holiday"
    name: str | None = None  # the holiday's
    country: str = "VN"  # whose holiday, to name it in another language

    def as_json(self) -> dict[str, object]:
        return {"day": self.day.isoformat(), "rule": self.rule, "name": self.name}


@dataclass(frozen=True)
class Holder:
    """A session in the way, as a person recognises it (its times in the words' zone)."""

    session_id: str
    title: str
    start: datetime
    end: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


NO_ROOM_RULES = (
    "in_past",
    "min_notice",
    "max_duration",
    "weekend",
    "holiday",
    "working_hours",
    "conflict",
    "round",
)


class NoRoomForRegion(InvalidRequest):
    """The regional planner found no time for a region's meeting; `rule` is what refused it.

    `in_past`: the window is over. `min_notice`: the notice leaves no room (`earliest` is the
    first start it allows). `max_duration`: the meeting is longer than the policy allows.
    `weekend`/`holiday`: the window holds no working day (`days_off`). `working_hours`: the
    meeting fits no working window of its days. `conflict`: other bookings hold every time left
    (`holders`). `round`: the meetings placed for the round's earlier regions (`placed`) do.
    Times are worded in `zone`; `window` is `[start, end)`.
    """

    def __init__(
        self,
        region: str,
        rule: str,
        *,
        zone: str,
        window: tuple[datetime, datetime],
        duration_minutes: int,
        earliest: datetime | None = None,
        notice_days: float = 0,
        max_minutes: int = 0,
        hours: str = "",
        days_off: list[DayOff] | None = None,
        holders: list[Holder] | None = None,
        placed: list[str] | None = None,
    ) -> None:
        self.region, self.rule, self.zone = region, rule, zone
        self.window, self.duration_minutes = window, duration_minutes
        self.earliest, self.notice_days, self.max_minutes = earliest, notice_days, max_minutes
        self.hours = hours
        self.days_off = days_off or []
        self.holders = holders or []
        self.placed = placed or []
        super().__init__(f"no time for region {region}: {self._why()}", field="to")

    def window_words(self) -> str:
        tz = ZoneInfo(self.zone)
        first = self.window[0].astimezone(tz).date()
        last = (self.window[1] - timedelta(microseconds=1)).astimezone(tz).date()
        days = f"{first}" if first == last else f"{first} – {last}"
        return f"{days} ({self.zone})"

    def _why(self) -> str:
        win, minutes = self.window_words(), self.duration_minutes
        if self.rule == "in_past":
            return f"the window {win} is over; choose days ahead"
        if self.rule == "min_notice" and self.earliest is not None:
            return (
                f"regional meetings need {self.notice_days:g} days' notice, so the earliest "
                f"start is {local_time(self.earliest, self.zone)}, and the window {win} leaves "
                f"no room for a {minutes}-minute meeting after it; move the window later"
            )
        if self.rule == "max_duration":
            return f"a {minutes}-minute meeting is longer than the maximum of {self.max_minutes}"
        if self.rule in ("weekend", "holiday"):
            off = ", ".join(
                f"{d.day} (public holiday: {d.name})" if d.name else f"{d.day} (weekend)"
                for d in self.days_off
            )
            return f"the window {win} holds no working day: {off}; widen the window"
        if self.rule == "working_hours":
            return (
                f"a {minutes}-minute meeting fits within the working hours ({self.hours}) of no "
                f"working day in the window {win}; shorten the meetings or widen the window"
            )
        if self.rule == "conflict":
            held = "; ".join(
                f"«{h.title}» {local_range(h.start, h.end, self.zone)}" for h in self.holders[:5]
            )
            return (
                f"other bookings of its sites, leader groups, region or chair hold every free "
                f"time in the window {win}: {held}; widen the window"
            )
        return (
            f"the meetings just placed for {', '.join(self.placed)} take the time left in the "
            f"window {win}; widen the window"
        )

    def extra(self) -> dict[str, object]:
        out: dict[str, object] = {
            **super().extra(),
            "rule": self.rule,
            "region": self.region,
            "timezone": self.zone,
        }
        if self.earliest is not None:
            out["earliest"] = self.earliest.astimezone(ZoneInfo(self.zone)).isoformat()
        if self.days_off:
            out["days_off"] = [d.as_json() for d in self.days_off]
        if self.holders:
            out["holders"] = [h.as_json() for h in self.holders]
        if self.placed:
            out["placed"] = list(self.placed)
        return out


@dataclass(frozen=True)
class Conflict:
    """One claim that a booking wanted and another session holds (its buffered range)."""

    resource: str
    session_id: str
    start: datetime
    end: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "resource": self.resource,
            "session_id": self.session_id,
            "start": _iso(self.start),
            "end": _iso(self.end),
        }


class BookingConflict(OrchestratorError):
    status = 409
    code = "booking_conflict"

    def __init__(self, conflicts: list[Conflict]) -> None:
        shown = ", ".join(f"{c.resource} (held by session {c.session_id})" for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        if not shown:
            shown = "another booking committed first; try again"
        super().__init__(f"the requested time overlaps existing bookings: {shown}{more}")
        self.conflicts = conflicts

    def extra(self) -> dict[str, object]:
        return {"conflicts": [c.as_json() for c in self.conflicts]}


@dataclass(frozen=True)
class OccurrenceConflict:
    """A claim one occurrence of a series wanted and another session holds. `occurrence` is the
    occurrence's original start, in the series' zone."""

    occurrence: datetime
    conflict: Conflict

    def as_json(self) -> dict[str, object]:
        return {"occurrence": self.occurrence.isoformat(), **self.conflict.as_json()}


class SeriesConflict(BookingConflict):
    """Rule 1 for a series: claims of its occurrences already held (409), each named with the
    occurrence that wanted it."""

    def __init__(self, conflicts: list[OccurrenceConflict]) -> None:
        super().__init__([c.conflict for c in conflicts])
        dates = list(dict.fromkeys(c.occurrence.isoformat() for c in conflicts))
        shown = ", ".join(dates[:5]) + (f" and {len(dates) - 5} more" if len(dates) > 5 else "")
        if shown:
            self.message = f"{len(dates)} occurrence(s) overlap existing bookings: {shown}"
            self.args = (self.message,)
        self.occurrences = conflicts

    def extra(self) -> dict[str, object]:
        return {"conflicts": [c.as_json() for c in self.occurrences]}


@dataclass(frozen=True)
class Breach:
    """One broken booking rule (DESIGN rule 4)."""

    rule: str
    detail: str
    site_id: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"rule": self.rule, "detail": self.detail, "site_id": self.site_id}


POLICY_RULES = ("in_past", "max_duration", "min_notice", "weekend", "holiday", "working_hours")


class PolicyViolation(OrchestratorError):
    status = 422
    code = "policy_violation"

    def __init__(self, breaches: list[Breach]) -> None:
        first = breaches[0]
        super().__init__(
            f"booking policy breached ({first.rule}): {first.detail}; "
            "an office user may book anyway with a reason (override_reason in the API, "
            "--override-reason on the command line)"
        )
        self.breaches = breaches
        self.rule = first.rule

    def extra(self) -> dict[str, object]:
        return {"rule": self.rule, "violations": [b.as_json() for b in self.breaches]}


@dataclass(frozen=True)
class OccurrenceBreach:
    """A booking rule one occurrence of a series breaks; `occurrence` in the series' zone."""

    occurrence: datetime
    breach: Breach

    def as_json(self) -> dict[str, object]:
        return {"occurrence": self.occurrence.isoformat(), **self.breach.as_json()}


class SeriesPolicyViolation(PolicyViolation):
    """Rule 4 for a series (422): every occurrence's breaches, each naming the occurrence."""

    def __init__(self, breaches: list[OccurrenceBreach]) -> None:
        super().__init__([b.breach for b in breaches])
        first = breaches[0]
        self.message = (
            f"booking policy breached by the occurrence of {first.occurrence.isoformat()} "
            f"({first.breach.rule}): {first.breach.detail}"
            + (f" and {len(breaches) - 1} more" if len(breaches) > 1 else "")
            + "; an office user may book anyway with a reason (override_reason in the API, "
            "--override-reason on the command line)"
        )
        self.args = (self.message,)
        self.occurrences = breaches

    def extra(self) -> dict[str, object]:
        return {"rule": self.rule, "violations": [b.as_json() for b in self.occurrences]}


class IdempotencyMismatch(OrchestratorError):
    status = 422
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request; use a new key"
        )


class InvalidState(OrchestratorError):
    """The thing exists but its state forbids the change (a cancelled or ended session)."""

    status = 409
    code = "invalid_state"


class AuthenticationRequired(OrchestratorError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(OrchestratorError):
    status = 403
    code = "forbidden"


@dataclass(frozen=True)
class SkippedSite:
    site_id: str
    conflicts: list[Conflict] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"site_id": self.site_id, "conflicts": [c.as_json() for c in self.conflicts]}


def invalid_value(reason: str, message: str, **values: object) -> PydanticCustomError:
    """A validator's refusal as data: pydantic's `value_error` with `message` (English) as its
    words, as a `ValueError`'s would be, and `reason` and `values` in its context, for readers
    that word it in another language. Raise it where a validator would raise `ValueError`."""
    context = {key: str(value) for key, value in values.items()}
    return PydanticCustomError(
        "value_error", "Value error, {message}", {**context, "message": message, "reason": reason}
    )


def refusal_words(error: Mapping[str, Any]) -> str:
    """A pydantic error's English words as a person reads them: without the "Value error, "
    that pydantic puts before a validator's own message."""
    return str(error["msg"]).removeprefix("Value error, ")
