"""The product's error tree. Each error is data: it builds its message from its fields.

OrchestratorError
├── NotFound                 (SessionNotFound, SiteNotFound, ...)
├── InvalidRequest           input that parses but makes no sense (unknown site, end before start)
├── BookingConflict          rule 1: claims already held (409)
├── InvalidState             the session's state forbids the change (409)
├── PolicyViolation          rule 4: a booking-policy breach (422)
├── IdempotencyMismatch      an Idempotency-Key reused with another request (422)
├── AuthenticationRequired   no or bad credentials (401)
└── PermissionDenied         the caller's role may not do this (403)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


def _iso(when: datetime) -> str:
    """UTC instants as JSON shows them everywhere else (`...Z`)."""
    return when.isoformat().replace("+00:00", "Z")


class OrchestratorError(Exception):
    """Base of every error the use cases raise on purpose."""

    status = 500
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

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


class InvalidRequest(OrchestratorError):
    status = 422
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, object]:
        return {"field": self.field} if self.field else {}


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
