"""The booking use cases' requests and answers: validated pydantic models shared by HTTP and CLI.

The OpenAPI document is generated from these same models.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from orchestrator.domain.errors import invalid_value
from orchestrator.domain.models import (
    DEFAULT_TIMEZONE,
    Chair,
    ConflictPolicy,
    Instant,
    Session,
    SessionKind,
    SessionStatus,
    SiteLike,
    Slug,
    ZoneName,
)
from orchestrator.domain.trusted import trusted

Provider = Literal["static", "jitsi", "jaas"]
MAX_BUFFER_MINUTES = 12 * 60

# The times a booking request may name: wide enough for any calendar in use, narrow enough that
# buffers, the slot search's steps and every zone's local time stay inside what `datetime` holds
# (years 1 to 9999). Without it, 9999-12-31T23:00Z with a buffer fails instead of being refused.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _in_calendar(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise invalid_value(
            "time_range",
            f"time must fall between {EARLIEST:%Y} and {LATEST.year - 1}",
            first=f"{EARLIEST:%Y}",
            last=LATEST.year - 1,
        )
    return value


CalendarInstant = Annotated[Instant, AfterValidator(_in_calendar)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BookingFields(Request):
    """What a session's booking and a series' booking both say (DESIGN 5.2). Times carry an
    offset; `timezone` is the zone it is shown in."""

    title: str = Field(min_length=1, max_length=500)
    agenda: str = Field(default="", max_length=20000)
    kind: SessionKind = SessionKind.NATIONAL
    region: Slug | None = None
    start: CalendarInstant
    end: CalendarInstant
    timezone: ZoneName = DEFAULT_TIMEZONE
    host_site: Slug
    sites: list[Slug] = Field(
        default_factory=list,
        description="Participating sites. The host site is added if missing. "
        "For a regional session an empty list means every site of the region.",
    )
    chair: Chair
    leader_groups: list[Slug] = Field(default_factory=list)
    speaking_sites: list[Slug] = Field(
        default_factory=list,
        description="When the session has more sites than the provider's participant limit, "
        "these (and the host) speak; the other sites join as visitors",
    )
    provider: Provider = "static"
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    override_reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end <= self.start:
            raise invalid_value("end_before_start", "end must be after start")
        if self.kind is SessionKind.REGIONAL and not self.region:
            raise invalid_value("region_needed", "a regional session needs its region")
        if self.override_reason is not None and not self.override_reason.strip():
            raise invalid_value("override_empty", "override_reason must not be empty")
        return self


class BookSessionRequest(BookingFields):
    """A booking (DESIGN 5.2). Times carry an offset; `timezone` is the zone it is shown in."""

    conflict_policy: ConflictPolicy = ConflictPolicy.ALL_OR_NOTHING


class UpdateSessionRequest(Request):
    """A change to a booked session (PATCH); every field is optional."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    agenda: str | None = Field(default=None, max_length=20000)
    start: CalendarInstant | None = None
    end: CalendarInstant | None = None
    timezone: ZoneName | None = None
    chair: Chair | None = None
    host_site: Slug | None = None
    add_sites: list[Slug] = Field(default_factory=list)
    remove_sites: list[Slug] = Field(default_factory=list)
    speaking_sites: list[Slug] | None = None
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    override_reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> UpdateSessionRequest:
        both = set(self.add_sites) & set(self.remove_sites)
        if both:
            raise invalid_value(
                "added_and_removed",
                f"sites both added and removed: {', '.join(sorted(both))}",
                ids=", ".join(sorted(both)),
            )
        if self.start and self.end and self.end <= self.start:
            raise invalid_value("end_before_start", "end must be after start")
        return self


class CancelRequest(Request):
    reason: str | None = Field(default=None, max_length=2000)


class SlotQuery(Request):
    sites: list[Slug] = Field(default_factory=list)
    groups: list[Slug] = Field(default_factory=list)
    duration_minutes: int = Field(gt=0, le=24 * 60)
    from_: CalendarInstant = Field(alias="from")
    to: CalendarInstant
    limit: int = Field(default=10, ge=1, le=200)
    kind: SessionKind = SessionKind.NATIONAL
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    step_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    timezone: ZoneName = DEFAULT_TIMEZONE

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> SlotQuery:
        if not self.sites and not self.groups:
            raise invalid_value("nothing_to_search", "name at least one site or leader group")
        if self.to <= self.from_:
            raise invalid_value("to_before_from", "'to' must be after 'from'")
        if (self.to - self.from_).days > 400:
            raise invalid_value(
                "window_too_long", "the search window is at most 400 days", days=400
            )
        return self


class RegionalPlanRequest(Request):
    """A round of regional meetings: one slot per region, no two overlapping."""

    regions: list[Slug] = Field(min_length=1)
    from_: CalendarInstant = Field(alias="from")
    to: CalendarInstant
    duration_minutes: int = Field(gt=0, le=24 * 60)
    leader_groups: list[Slug] = Field(default_factory=list)
    title: str = Field(default="Giao ban vùng", min_length=1, max_length=400)
    timezone: ZoneName = DEFAULT_TIMEZONE
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    provider: Provider = "static"
    chairs: dict[Slug, Chair] = Field(
        default_factory=dict,
        description="The chair to book per region (region id: name and email), instead of the "
        "directory's region chair or, without one, the head site's coordinator",
    )
    commit: bool = False

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> RegionalPlanRequest:
        if self.to <= self.from_:
            raise invalid_value("to_before_from", "'to' must be after 'from'")
        if len(set(self.regions)) != len(self.regions):
            raise invalid_value("regions_repeat", "regions must not repeat")
        strangers = sorted(set(self.chairs) - set(self.regions))
        if strangers:
            raise invalid_value(
                "chairs_not_planned",
                f"chairs name regions not planned: {', '.join(strangers)}",
                ids=", ".join(strangers),
            )
        return self


# answers -------------------------------------------------------------------------------


class SessionSiteOut(BaseModel):
    site_id: str
    name: str | None = None
    timezone: str | None = None
    local_start: datetime | None = Field(default=None, description="Start in the site's zone")
    local_end: datetime | None = None
    host: bool = False
    role: Literal["participant", "visitor"] = "participant"
    join_url: str | None = None


_site_out = trusted(SessionSiteOut)


class RangeOut(BaseModel):
    start: datetime
    end: datetime


class ConflictOut(BaseModel):
    resource: str
    session_id: str
    start: datetime
    end: datetime


class SkippedOut(BaseModel):
    site_id: str
    conflicts: list[ConflictOut]


class SessionOut(BaseModel):
    id: str
    title: str
    agenda: str
    kind: SessionKind
    region: str | None
    start: datetime
    end: datetime
    timezone: str
    host_site: str
    chair: Chair
    leader_groups: list[str]
    speaking_sites: list[str]
    provider: str
    buffer_before_minutes: int
    buffer_after_minutes: int
    claimed: RangeOut = Field(description="The buffered range every claim of the session holds")
    status: SessionStatus
    room: str | None
    sites: list[SessionSiteOut]
    version: int
    created_at: datetime
    updated_at: datetime
    series_id: str | None = Field(
        default=None, description="The series this session is an occurrence of, if any"
    )
    occurrence: datetime | None = Field(
        default=None,
        description="An occurrence's original start (its RECURRENCE-ID), whatever it was moved to",
    )

    @classmethod
    def build(
        cls,
        session: Session,
        sites: Mapping[str, SiteLike],
        now: datetime,
        visitors: frozenset[str] = frozenset(),
    ) -> Self:
        """The answer for `session`; its sites are built from values already validated (the
        session's and the directory's), without validating them again."""
        zone = ZoneInfo(session.timezone)
        claimed = session.claimed_range
        start, end, host = session.start, session.end, session.host_site
        # The session's times in each zone its sites are in (one or a few for 10,000 sites);
        # a site no longer in the directory is shown in the session's.
        local: dict[str | None, tuple[datetime, datetime]] = {}
        out_sites = []
        for s in session.sites:
            site = sites.get(s.site_id)
            site_zone = site.timezone if site else None
            times = local.get(site_zone)
            if times is None:
                in_zone = ZoneInfo(site_zone) if site_zone else zone
                times = local[site_zone] = (start.astimezone(in_zone), end.astimezone(in_zone))
            out_sites.append(
                _site_out(
                    site_id=s.site_id,
                    name=site.name if site else None,
                    timezone=site_zone,
                    local_start=times[0],
                    local_end=times[1],
                    host=s.site_id == host,
                    role="visitor" if s.site_id in visitors else "participant",
                    join_url=s.join_url,
                )
            )
        return cls(
            id=session.id,
            title=session.title,
            agenda=session.agenda,
            kind=session.kind,
            region=session.region,
            start=session.start.astimezone(zone),
            end=session.end.astimezone(zone),
            timezone=session.timezone,
            host_site=session.host_site,
            chair=session.chair,
            leader_groups=list(session.leader_groups),
            speaking_sites=list(session.speaking_sites),
            provider=session.provider,
            buffer_before_minutes=session.buffer_before_minutes,
            buffer_after_minutes=session.buffer_after_minutes,
            claimed=RangeOut(
                start=claimed.start.astimezone(zone), end=claimed.end.astimezone(zone)
            ),
            status=session.status_at(now),
            room=session.room,
            sites=out_sites,
            version=session.version,
            created_at=session.created_at,
            updated_at=session.updated_at,
            series_id=session.series_id,
            occurrence=session.occurrence.astimezone(zone) if session.occurrence else None,
        )


class BookingOut(SessionOut):
    skipped: list[SkippedOut] = Field(default_factory=list)
    policy_overridden: list[str] = Field(
        default_factory=list, description="Rules broken and overridden with override_reason"
    )


class SessionListOut(BaseModel):
    sessions: list[SessionOut]
    count: int


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    over_lunch: bool = Field(
        default=False,
        description="The slot runs through the break between two working-hour windows (lunch) "
        "in at least one site's zone: allowed, but worth knowing",
    )


class SlotsOut(BaseModel):
    slots: list[SlotOut]
    duration_minutes: int
    resources: list[str]


ChairSource = Literal["request", "directory", "fallback"]


class ProposalOut(BaseModel):
    region: str
    host_site: str
    sites: list[str]
    chair: Chair
    chair_source: ChairSource = Field(
        default="directory",
        description="Where the chair comes from: `request` (the plan's `chairs`), `directory` "
        "(the region's chair_email) or `fallback` (no region chair in the directory: the head "
        "site's coordinator, named 'Trưởng vùng <region>')",
    )
    start: datetime
    end: datetime


class RegionalPlanOut(BaseModel):
    proposals: list[ProposalOut]
    committed: bool
    sessions: list[SessionOut] = Field(default_factory=list)


class BreachOut(BaseModel):
    rule: str
    detail: str
    site_id: str | None = None


class HolderOut(BaseModel):
    """A session holding a claim the checked booking wants, as a person recognises it."""

    session_id: str
    title: str
    start: datetime
    end: datetime


class CheckOut(BaseModel):
    """A booking's dry run: what booking it now would answer, with nothing written."""

    resources: list[str] = Field(description="Every claim the booking would hold")
    claimed: RangeOut = Field(description="The buffered range its claims would cover")
    conflicts: list[ConflictOut] = Field(
        description="The claims held by others that refuse the booking (its 409 would name them)"
    )
    skipped: list[SkippedOut] = Field(
        description="Under skip_conflicting, the sites in conflict it would be booked without"
    )
    holders: list[HolderOut] = Field(
        description="The sessions behind `conflicts` and `skipped`, earliest first"
    )
    breaches: list[BreachOut] = Field(description="The booking policy's rules it breaks")
    overridden: bool = Field(description="Breaches there are, and override_reason books anyway")
    suggestions: list[SlotOut] = Field(
        default_factory=list,
        description="The earliest free times for the same claims, length and buffers",
    )

    @property
    def bookable(self) -> bool:
        return not self.conflicts and (not self.breaches or self.overridden)
