"""A frozen attendance record, to the session's chair: the summary in both languages, one line
per site, the link to the board, and the record as `attendance.csv`."""

from __future__ import annotations

from email.message import EmailMessage

from connectors.base import Mailer
from orchestrator.domain.outbox import RecordMailParts
from orchestrator.invites.dispatch import Outcome, send_one
from orchestrator.invites.letters import InviteSettings
from orchestrator.invites.links import MailLinks
from orchestrator.invites.wording import render_text, words
from orchestrator.store.base import OutboxItem, Store


class AttendanceRecordComposer:
    """Delivers the `attendance-record` kind; the record comes through `RecordMailParts`.
    Failed (`no record`) when the session or its frozen record is gone."""

    def __init__(
        self,
        store: Store,
        mailer: Mailer,
        settings: InviteSettings,
        links: MailLinks,
        records: RecordMailParts,
    ) -> None:
        self._store = store
        self._mailer = mailer
        self._s = settings
        self._links = links
        self._records = records

    async def deliver(self, item: OutboxItem, *, final: bool) -> Outcome:
        async with self._store.read() as uow:
            session = await uow.sessions.get(item.session_id)
        record = await self._records.mail_parts(item.session_id) if session else None
        if session is None or record is None:
            return Outcome("failed", "no record")
        message = EmailMessage()
        message["From"] = self._s.sender
        message["To"] = session.chair.email
        # One text for both languages: the chair's record goes in Vietnamese and English.
        message["Subject"] = words("vi")["subject.attendance_record"].format(summary=session.title)
        await self._links.load()  # the page links' secret
        body = render_text(
            "attendance_record.txt",
            summary=record.summary,
            summary_en=record.summary_en,
            sites=record.sites,
            board_url=self._links.page(session),
        )
        message.set_content(body)
        message.add_attachment(
            record.csv, maintype="text", subtype="csv", filename="attendance.csv"
        )
        return await send_one(self._mailer, message)
