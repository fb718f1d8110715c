"""What the invite endpoints read and answer: each site's invite state and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.invites.failures import FailureKind


class SiteInviteOut(BaseModel):
    site_id: str
    in_session: bool = Field(description="False for a site removed from the session")
    method: Literal["REQUEST", "CANCEL"]
    sequence: int = Field(description="The SEQUENCE this site's invite has (or will have)")
    state: Literal["queued", "sent", "failed", "skipped"]
    reason: Literal["ended"] | None = Field(
        default=None,
        description="Why a skipped invite is not sent: `ended`, the session was already over",
    )
    attempts: int = 0
    last_error: str | None = Field(
        default=None, description="Why the latest try failed, as the mail server or network said"
    )
    error_kind: FailureKind | None = Field(
        default=None,
        description=(
            "What kind of failure `last_error` is, a stable code to word it by: "
            "`connection_refused`, `timeout`, `host_unknown`, `tls`, `auth_refused`, "
            "`recipient_refused`, `message_refused`, `disconnected`, `no_address` (the site "
            "has no coordinator email) or `other`"
        ),
    )
    sent_at: datetime | None = None
    rsvp: Literal["needs-action", "accepted", "declined"] = "needs-action"
    rsvp_comment: str = ""
    rsvp_at: datetime | None = None


class InvitesOut(BaseModel):
    session_id: str
    series_id: str | None = Field(
        default=None,
        description="The series whose invites these are (DESIGN 10): a series' occurrences get"
        " no invite of their own, so for one of them this is its series' state",
    )
    version: int
    pending_changes: int
    sites: list[SiteInviteOut]


class RsvpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Literal["accepted", "declined"]
    comment: str = Field(default="", max_length=2000)
