"""The series use cases' requests and answers (DESIGN 10), shared by HTTP and the CLI; the
OpenAPI document is generated from them."""

from __future__ import annotations

import enum
from datetime import datetime, time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from orchestrator.booking.schemas import (
    MAX_BUFFER_MINUTES,
    BookingFields,
    BookSessionRequest,
    BreachOut,
    ConflictOut,
    HolderOut,
    Request,
)
from orchestrator.domain.errors import invalid_value
from orchestrator.domain.models import (
    Chair,
    ConflictPolicy,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    Slug,
)


class SeriesConflictPolicy(enum.StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    SKIP_CONFLICTING_OCCURRENCES = "skip_conflicting_occurrences"


class BookSeriesRequest(BookingFields):
    """A series: the booking of DESIGN 5.2, whose `start` and `end` are the first occurrence's,
    and the rule that repeats it."""

    recurrence: str = Field(
        min_length=1,
        max_length=500,
        description="An RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=TH;COUNT=8: FREQ DAILY, "
        "WEEKLY, MONTHLY or YEARLY, COUNT or UNTIL, at most 200 occurrences within 2 years; "
        "expanded in `timezone`, `start` being the first occurrence",
    )
    conflict_policy: SeriesConflictPolicy = Field(
        default=SeriesConflictPolicy.ALL_OR_NOTHING,
        description="all_or_nothing: any occurrence breaking the policy (422) or in conflict "
        "(409) refuses the series; skip_conflicting_occurrences: those are left out and listed "
        "in `skipped`",
    )

    @field_validator("conflict_policy", mode="before")
    @classmethod
    def _no_site_skipping(cls, value: Any) -> Any:
        if value == ConflictPolicy.SKIP_CONFLICTING.value:
            raise invalid_value(
                "series_skip_sites",
                "a series books every site of each occurrence or none: use "
                "skip_conflicting_occurrences to leave out the occurrences in conflict",
            )
        return value

    def first_session(self) -> BookSessionRequest:
        """The booking of the first occurrence, as a single session's."""
        fields = self.model_dump(exclude={"recurrence", "conflict_policy"})
        return BookSessionRequest.model_validate(
            {**fields, "conflict_policy": ConflictPolicy.ALL_OR_NOTHING}
        )


class UpdateSeriesRequest(Request):
    """A change to every occurrence of a series that has not started (PATCH); every field is
    optional. The rule and the first occurrence never change."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    agenda: str | None = Field(default=None, max_length=20000)
    start_time: time | None = Field(
        default=None,
        description="A new local time of day (HH:MM, in the series' zone) for every occurrence "
        "not yet started, each on its own original day",
    )
    duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    chair: Chair | None = None
    host_site: Slug | None = None
    add_sites: list[Slug] = Field(default_factory=list)
    remove_sites: list[Slug] = Field(default_factory=list)
    speaking_sites: list[Slug] | None = None
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=MAX_BUFFER_MINUTES)
    override_reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> UpdateSeriesRequest:
        both = set(self.add_sites) & set(self.remove_sites)
        if both:
            raise invalid_value(
                "added_and_removed",
                f"sites both added and removed: {', '.join(sorted(both))}",
                ids=", ".join(sorted(both)),
            )
        if self.start_time is not None and self.start_time.tzinfo is not None:
            raise invalid_value(
                "series_time_of_day",
                "start_time is a local time of day in the series' zone, without an offset",
            )
        if self.override_reason is not None and not self.override_reason.strip():
            raise invalid_value("override_empty", "override_reason must not be empty")
        return self


# answers -------------------------------------------------------------------------------


class OccurrenceOut(BaseModel):
    session_id: str
    occurrence: datetime = Field(
        description="The occurrence's original start (its RECURRENCE-ID), in the series' zone"
    )
    start: datetime
    end: datetime
    status: SessionStatus
    changed: list[str] = Field(
        default_factory=list,
        description="The fields changed on this occurrence alone (through the session endpoints)",
    )


class SkippedOccurrenceOut(BaseModel):
    occurrence: datetime
    conflicts: list[ConflictOut] = Field(
        default_factory=list, description="The claims held by others that left it out"
    )
    rule: str | None = Field(default=None, description="The booking-policy rule it breaks")
    detail: str | None = None


class SeriesSiteOut(BaseModel):
    site_id: str
    name: str | None = None
    join_gateway_url: str | None = Field(
        default=None, description="The site's join link for the whole series (DESIGN 10)"
    )


class OverwrittenOut(BaseModel):
    """An occurrence changed alone whose fields a series change replaced."""

    session_id: str
    occurrence: datetime
    fields: list[str]


class SeriesOut(BaseModel):
    id: str
    title: str
    agenda: str
    kind: SessionKind
    region: str | None
    recurrence: str
    timezone: str
    start: datetime = Field(description="The first occurrence's start (DTSTART)")
    end: datetime
    host_site: str
    chair: Chair
    leader_groups: list[str]
    speaking_sites: list[str]
    provider: str
    buffer_before_minutes: int
    buffer_after_minutes: int
    status: SeriesStatus
    sites: list[SeriesSiteOut]
    occurrences: list[OccurrenceOut]
    skipped: list[SkippedOccurrenceOut] = Field(default_factory=list)
    version: int
    created_at: datetime
    updated_at: datetime
    policy_overridden: list[str] = Field(
        default_factory=list, description="Rules broken and overridden with override_reason"
    )
    overwritten: list[OverwrittenOut] = Field(
        default_factory=list,
        description="After a change: the occurrences changed alone whose fields it replaced",
    )


class SeriesListOut(BaseModel):
    series: list[SeriesOut]
    count: int


class OccurrenceCheckOut(BaseModel):
    """One occurrence of a series' dry run: the rules it breaks, the claims others hold over it,
    and whether booking the series now would book it."""

    occurrence: datetime = Field(description="Its original start, in the series' zone")
    start: datetime
    end: datetime
    booked: bool = Field(description="Booking the series now would book this occurrence")
    conflicts: list[ConflictOut] = Field(description="Claims others hold over it")
    breaches: list[BreachOut] = Field(description="The booking rules it breaks")
    overridden: bool = Field(description="Its breaches are overridden by override_reason")


class SeriesCheckOut(BaseModel):
    """A series' dry run (the booking form's preview): every occurrence with its conflicts and
    breaches, and what booking it now would answer, with nothing written."""

    recurrence: str = Field(description="The rule as it would be stored")
    timezone: str
    resources: list[str] = Field(description="Every claim each occurrence would hold")
    occurrences: list[OccurrenceCheckOut]
    refused: Literal["policy", "conflict"] | None = Field(
        description="Booking now would be refused: for the policy (422) or a conflict (409)"
    )
    holders: list[HolderOut] = Field(
        description="The sessions holding the occurrences' conflicts, earliest first"
    )
    holiday_country: str = Field(description="Whose public holidays the policy observes")
