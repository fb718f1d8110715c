"""A reminder of a preparation document, to the coordinator of the site that owes it: before its
due date, and once when it was missed."""

from __future__ import annotations

from email.message import EmailMessage

from connectors.base import Mailer
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import SessionStatus
from orchestrator.domain.preparation import TaskDue
from orchestrator.invites.dispatch import Outcome, send_one
from orchestrator.invites.letters import InviteSettings
from orchestrator.invites.wording import Language, describe_instant, render_text, words
from orchestrator.store.base import OutboxItem, Store


class TaskReminderComposer:
    """Delivers the `task-reminder` kind. Dropped (done, `not sent: moot`) when the session is
    cancelled, the site has no coordinator email any more, or the document has been submitted."""

    def __init__(
        self, store: Store, clock: Clock, mailer: Mailer, settings: InviteSettings
    ) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._s = settings

    async def deliver(self, item: OutboxItem, *, final: bool) -> Outcome:
        task = TaskDue.model_validate(item.payload["task"])
        async with self._store.read() as uow:
            session = await uow.sessions.get(item.session_id)
            sites = await uow.directory.get_sites([task.site_id])
            submitted = await uow.preparation.get_submissions(item.session_id)
        now = self._clock.now()
        site = sites.get(task.site_id)
        email = site.coordinator.email if site else None
        moot = session is None or session.status is SessionStatus.CANCELLED
        if moot or site is None or not email or task.id in submitted:
            return Outcome("done", "not sent: moot")
        assert session is not None
        lang: Language = "en" if site.language == "en" else "vi"
        title = task.title_en if lang == "en" else task.title_vi
        message = EmailMessage()
        message["From"] = self._s.sender
        message["To"] = email
        message["Subject"] = words(lang)["subject.task_reminder"].format(
            task=title, summary=session.title
        )
        body = render_text(
            f"{lang}/task_reminder.txt",
            site_name=site.name,
            task=title,
            summary=session.title,
            due=describe_instant(task.due, task.zone, lang),
            missed=now > task.due,
        )
        message.set_content(body)
        return await send_one(self._mailer, message)
