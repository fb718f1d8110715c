"""The outbox's kinds of mail, and what mailing them needs of other use cases (DESIGN 8).

A use case queues a row of one kind in the same transaction as the change it reports; the
notifications deliver it through the composer registered for that kind. The values are the
strings stored in `outbox.kind`: never change one, or the rows already queued are orphaned.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orchestrator.domain.models import Role


class OutboxKind(enum.StrEnum):
    """What an outbox row asks to be mailed."""

    INVITES = "invites"
    """A booking change: every site's invite (REQUEST or CANCEL) at the session's version."""
    REMINDER = "reminder"
    """A reminder before a session to every site's coordinator and to the chair."""
    TASK_REMINDER = "task-reminder"
    """A reminder of a preparation document to the site that owes it."""
    ATTENDANCE_RECORD = "attendance-record"
    """A frozen attendance record, to the session's chair."""
    SERIES_INVITES = "series-invites"
    """A series change (DESIGN 10): `session_id` is the series' id, `version` its version after
    the change, the payload `{"series_id", "message", "occurrence", "site_ids"}` with `message`
    one of `series` (booked, or the series changed: the whole object to each site),
    `occurrence` (one occurrence moved or changed alone), `cancel-occurrence` (one occurrence
    cancelled, or `site_ids` removed from it), `cancel-series` (the series cancelled, or
    `site_ids` removed from it); `occurrence` is the occurrence's original start (RFC 3339) or
    null, `site_ids` the sites concerned or null for every site of the series."""


# What mailing needs of other use cases: the use case that mails depends on these ports only,
# and the composition root passes the other use case in.


class PageLink(Protocol):
    """Makes signed links to the service's pages, its secret loaded (no I/O per link)."""

    def __call__(
        self,
        *,
        role: Role,
        next_path: str,
        until: datetime,
        site_id: str | None = None,
        email: str | None = None,
    ) -> str:
        """A link that signs a coordinator (of `site_id`, addressed to `email`) or a chair
        (`email`) in and opens `next_path`; it works until `until`. Raises `InvalidRequest` for
        a role without what it needs (a coordinator's site, a chair's email) and for the office.
        """
        ...


class PageLinks(Protocol):
    """Where mail gets the links to the pages of the people it is sent to."""

    async def link_maker(self) -> PageLink:
        """A `PageLink` with the signing secret loaded (made and stored on first use, shared by
        every instance). May raise the store's errors."""
        ...


@dataclass(frozen=True)
class RecordLine:
    """One site's line of an attendance record, as its mail shows it."""

    site_id: str
    status: str
    late: bool
    left_early: bool
    connected_minutes: float


@dataclass(frozen=True)
class RecordMail:
    """A frozen attendance record as the chair's mail carries it: the summary in both
    languages, one line per site, and the record as CSV (Vietnamese headers)."""

    summary: str
    summary_en: str
    sites: tuple[RecordLine, ...]
    csv: bytes


class RecordMailParts(Protocol):
    """The frozen attendance records, for the mail that takes each to its session's chair."""

    async def mail_parts(self, session_id: str) -> RecordMail | None:
        """The frozen record of `session_id` as its mail shows it; None when the session has no
        frozen record (or no longer exists). May raise the store's errors."""
        ...
