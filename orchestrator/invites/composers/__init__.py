"""One composer per outbox kind: what each kind of mail says, to whom, and what is recorded of
each recipient. The dispatcher (`invites.dispatch`) runs them; bootstrap registers them."""

from orchestrator.invites.composers.attendance_record import AttendanceRecordComposer
from orchestrator.invites.composers.invites import InviteComposer
from orchestrator.invites.composers.reminder import ReminderComposer
from orchestrator.invites.composers.series_invites import SeriesInviteComposer
from orchestrator.invites.composers.task_reminder import TaskReminderComposer

__all__ = [
    "AttendanceRecordComposer",
    "InviteComposer",
    "ReminderComposer",
    "SeriesInviteComposer",
    "TaskReminderComposer",
]
