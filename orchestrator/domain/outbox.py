"""The outbox's kinds of mail, and what mailing them needs of other use cases (DESIGN 8).

A use case queues a row of one kind in the same transaction as the change it reports; the
notifications deliver it through the composer registered for that kind. The values are the
strings stored in `outbox.kind`: never change one, or the rows already queued are orphaned.
"""

from __future__ import annotations

import enum


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
