"""The product's values: the directory (regions, sites, leader groups), sessions and their claims.

Every value here is validated once and frozen; every instant is an aware datetime in UTC.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from orchestrator.domain.errors import PermissionDenied, invalid_value
from orchestrator.domain.trusted import trusted

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise invalid_value(
            "slug",
            f"{value!r} is not a valid id: use 1-64 lowercase ASCII letters, digits and '-'",
            value=value,
        )
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid_value(
            "zone",
            f"unknown time zone {value!r} (use an IANA name such as Asia/Ho_Chi_Minh)",
            value=value,
        ) from exc
    return value


def _email(value: str) -> str:
    if not EMAIL_RE.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value.strip()


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset or zone, e.g. 2026-12-10T08:00:00+07:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise ValueError(f"{value.isoformat()} is outside the calendar") from None


Slug = Annotated[str, AfterValidator(_slug)]
ZoneName = Annotated[str, AfterValidator(_zone)]
Email = Annotated[str, AfterValidator(_email)]
Instant = Annotated[datetime, AfterValidator(_aware_utc)]

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionKind(enum.StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class ConflictPolicy(enum.StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    SKIP_CONFLICTING = "skip_conflicting"


class Role(enum.StrEnum):
    OFFICE = "office"
    CHAIR = "chair"
    COORDINATOR = "coordinator"


class Coordinator(Frozen):
    name: str = ""
    email: Email | None = None
    phone: str = ""


class Site(Frozen):
    """A place that connects to sessions (điểm cầu)."""

    id: Slug
    name: str = Field(min_length=1, max_length=200)
    region: Slug | None = None
    timezone: ZoneName = DEFAULT_TIMEZONE
    coordinator: Coordinator = Coordinator()
    capacity: int = Field(default=0, ge=0)
    room: str = ""
    language: str = Field(default="vi", pattern="^(vi|en)$")

    @property
    def coordinator_email(self) -> str | None:
        """Whom the site's join links name (as `SiteFacts` says it)."""
        return self.coordinator.email


class SiteFacts(NamedTuple):
    """What booking a session needs of each of its sites, read by the thousand (a national
    session has 10,000): the site's name and zone, and whom its join link names. Plain values,
    so neither building them nor the garbage collector's sweeps cost what 10,000 `Site`s do."""

    id: str
    name: str
    timezone: str
    coordinator_email: str | None

    @classmethod
    def of(cls, site: Site) -> SiteFacts:
        return cls(site.id, site.name, site.timezone, site.coordinator.email)


SiteLike = Site | SiteFacts
"""A site as a session's links and answer need it: the whole `Site` or its `SiteFacts`."""


class Region(Frozen):
    """A named group of sites (vùng); its head site hosts the region's meetings."""

    id: Slug
    name: str = Field(min_length=1, max_length=200)
    head_site: Slug | None = None
    chair_name: str = ""
    chair_email: Email | None = None


class LeaderGroup(Frozen):
    """People who join many sessions (lãnh đạo Bộ): one shared resource."""

    id: Slug
    name: str = Field(min_length=1, max_length=200)
    members: tuple[str, ...] = ()


class WorkingWindow(Frozen):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> WorkingWindow:
        if self.end <= self.start:
            raise invalid_value("window_order", "a working window must end after it starts")
        return self


class BookingPolicy(Frozen):
    """The booking rules of one session kind (DESIGN rule 4)."""

    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    working_hours: tuple[WorkingWindow, ...] = (
        WorkingWindow(start=time(7, 30), end=time(11, 30)),
        WorkingWindow(start=time(13, 30), end=time(17, 0)),
    )
    holidays: bool = True
    holiday_country: str = "VN"
    min_notice_minutes: int = Field(default=0, ge=0)
    max_duration_minutes: int = Field(default=10 * 60, gt=0)  # a full day, 07:30-17:00


DEFAULT_POLICIES: dict[SessionKind, BookingPolicy] = {
    SessionKind.NATIONAL: BookingPolicy(),
    SessionKind.REGIONAL: BookingPolicy(min_notice_minutes=15 * 24 * 60),
}


class Chair(Frozen):
    name: str = Field(min_length=1, max_length=200)
    email: Email


class SessionSite(Frozen):
    site_id: Slug
    join_url: str | None = None


# A session's site from values already valid (a request's checked ids, a link just issued, a
# stored row): a 10,000-site session makes tens of thousands of them (see `trusted`).
session_site = trusted(SessionSite)


class Session(Frozen):
    """One online meeting. `start`/`end` are the meeting itself; buffers widen its claims."""

    id: str
    title: str
    agenda: str = ""
    kind: SessionKind
    region: Slug | None = None
    start: Instant
    end: Instant
    timezone: ZoneName
    host_site: Slug
    chair: Chair
    sites: tuple[SessionSite, ...]
    leader_groups: tuple[Slug, ...] = ()
    # Sites that speak when the session has more sites than its provider's participant limit;
    # the host always speaks, every other site then joins as a visitor (DESIGN 6.1).
    speaking_sites: tuple[Slug, ...] = ()
    provider: str = "static"
    buffer_before_minutes: int = Field(default=0, ge=0)
    buffer_after_minutes: int = Field(default=0, ge=0)
    status: SessionStatus = SessionStatus.SCHEDULED
    room: str | None = None
    created_at: Instant
    updated_at: Instant
    version: int = 1
    # An occurrence of a series (DESIGN 10): the series, the occurrence's original start (its
    # RECURRENCE-ID forever, whatever it is moved to) and the fields changed on it alone.
    series_id: str | None = None
    occurrence: Instant | None = None
    exception_fields: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise ValueError("a session must end after it starts")
        return self

    @property
    def claimed_range(self) -> TimeRange:
        return claimed_range(
            self.start, self.end, self.buffer_before_minutes, self.buffer_after_minutes
        )

    @property
    def site_ids(self) -> tuple[str, ...]:
        return tuple(s.site_id for s in self.sites)

    def visitors(self, max_participants: int) -> frozenset[str]:
        """The sites that join as visitors under a provider limit of `max_participants`."""
        if len(self.sites) <= max_participants:
            return frozenset()
        speaking = {self.host_site, *self.speaking_sites}
        return frozenset(s for s in self.site_ids if s not in speaking)

    def status_at(self, now: datetime) -> SessionStatus:
        """The stored status, moved on by the clock where the scheduler has not done it yet."""
        if self.status is SessionStatus.CANCELLED:
            return self.status
        if now >= self.end:
            return SessionStatus.ENDED
        if now >= self.start:
            return SessionStatus.LIVE
        return SessionStatus.SCHEDULED


class TimeRange(Frozen):
    """A half-open range of instants `[start, end)`."""

    start: Instant
    end: Instant

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError("a time range must end after it starts")
        return self

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end


# The longest range one claim may cover (a session with its buffers). Bounding it lets every
# overlap query read only claims that start at most this long before the range it checks.
MAX_CLAIM_SPAN = timedelta(days=3)


def claimed_range(start: datetime, end: datetime, before_min: int, after_min: int) -> TimeRange:
    return TimeRange(
        start=start - timedelta(minutes=before_min), end=end + timedelta(minutes=after_min)
    )


class Claim(Frozen):
    """A (resource, time range) pair that a session holds."""

    resource: str
    session_id: str
    start: Instant
    end: Instant


class SeriesStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"  # never stored: every occurrence is over
    CANCELLED = "cancelled"


class SkippedOccurrence(Frozen):
    """An occurrence the rule names that was never booked: the claims in its way (`conflicts`)
    or the booking-policy rule it breaks (`rule`, e.g. `holiday`, with its `detail`)."""

    occurrence: Instant
    rule: str | None = None
    detail: str = ""
    conflicts: tuple[Claim, ...] = ()


class Series(Frozen):
    """The same meeting on a rhythm (DESIGN 10). `recurrence` is an RFC 5545 RRULE value
    expanded in `timezone` from `start`; the rule and the first occurrence (`start`, `end`)
    never change. Each occurrence is a session naming the series; `sites` and the other fields
    are what every occurrence gets unless it was changed alone."""

    id: str
    title: str
    agenda: str = ""
    kind: SessionKind
    region: Slug | None = None
    recurrence: str
    timezone: ZoneName
    start: Instant
    end: Instant
    host_site: Slug
    chair: Chair
    sites: tuple[Slug, ...]
    leader_groups: tuple[Slug, ...] = ()
    speaking_sites: tuple[Slug, ...] = ()
    provider: str = "static"
    buffer_before_minutes: int = Field(default=0, ge=0)
    buffer_after_minutes: int = Field(default=0, ge=0)
    status: SeriesStatus = SeriesStatus.ACTIVE
    skipped: tuple[SkippedOccurrence, ...] = ()
    created_at: Instant
    updated_at: Instant
    version: int = 1

    @model_validator(mode="after")
    def _ordered(self) -> Series:
        if self.end <= self.start:
            raise ValueError("a series' occurrences must end after they start")
        return self

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def site_resource(site_id: str) -> str:
    return f"site:{site_id}"


def region_resource(region_id: str) -> str:
    return f"region:{region_id}"


def group_resource(group_id: str) -> str:
    return f"group:{group_id}"


def chair_resource(email: str) -> str:
    return f"chair:{email.strip().lower()}"


def resources_for(
    *,
    sites: tuple[str, ...] | list[str],
    region: str | None,
    leader_groups: tuple[str, ...] | list[str],
    chair_email: str,
) -> list[str]:
    """Every claim a session holds (DESIGN rule 1), without repeats, in a stable order."""
    out = [site_resource(s) for s in sites]
    if region:
        out.append(region_resource(region))
    out.extend(group_resource(g) for g in leader_groups)
    out.append(chair_resource(chair_email))
    return list(dict.fromkeys(out))


class Principal(Frozen):
    """Who is calling: a role and, for coordinators and chairs, what they may see."""

    role: Role
    token_id: str
    site_id: str | None = None
    email: str | None = None
    label: str = ""

    @property
    def actor(self) -> str:
        who = self.email or self.site_id or self.label or self.token_id
        return f"{self.role.value}:{who}"


def require_office(principal: Principal) -> None:
    """Raise PermissionDenied (403) unless `principal` is the office: each use case that only the
    office may run calls this itself, so no caller has to remember to."""
    if principal.role is not Role.OFFICE:
        raise PermissionDenied("only the office may do this")


def may_see(principal: Principal, session: Session) -> bool:
    """Who may read a session: the office, its chair, and the coordinators of its sites."""
    if principal.role is Role.OFFICE:
        return True
    if principal.role is Role.CHAIR:
        return (
            bool(principal.email) and session.chair.email.lower() == (principal.email or "").lower()
        )
    return principal.role is Role.COORDINATOR and principal.site_id in session.site_ids


class AuditEntry(Frozen):
    id: int | None = None
    at: Instant
    actor: str
    action: str
    target: str
    reason: str | None = None
    detail: dict[str, object] = Field(default_factory=dict)
