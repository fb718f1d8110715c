"""A reminder before a session, to every site's coordinator (in the site's language and zone,
with the site's own link) and to the chair (in Vietnamese, in the session's zone). Each
recipient is recorded once reached, so a retry mails only the ones still missing."""

from __future__ import annotations

from email.message import EmailMessage

from connectors.base import Mailer, PermanentConnectorError
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import Session, SessionStatus
from orchestrator.invites.dispatch import Outcome
from orchestrator.invites.letters import InviteSettings
from orchestrator.invites.links import MailLinks
from orchestrator.invites.wording import Language, describe_range, render_text, words
from orchestrator.store.base import OutboxItem, Store, UnitOfWork


class ReminderComposer:
    """Delivers the `reminder` kind. A reminder is dropped (done, `not sent: moot`) when the
    session is cancelled or has begun by the time it is taken."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        mailer: Mailer,
        settings: InviteSettings,
        links: MailLinks,
    ) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._s = settings
        self._links = links

    def _message(
        self,
        session: Session,
        to: str,
        zone: str,
        language: str,
        link: str | None,
        minutes: int,
        page: str | None = None,
    ) -> EmailMessage:
        lang: Language = "en" if language == "en" else "vi"
        message = EmailMessage()
        message["From"] = self._s.sender
        message["To"] = to
        message["Subject"] = words(lang)["subject.reminder"].format(summary=session.title)
        body = render_text(
            f"{lang}/reminder.txt",
            summary=session.title,
            when=describe_range(session.start, session.end, zone, lang),
            test_now=minutes <= session.buffer_before_minutes,
            join_url=link,
            page_url=page,
        )
        message.set_content(body)
        return message

    async def deliver(self, item: OutboxItem, *, final: bool) -> Outcome:
        async with self._store.read() as uow:
            session = await uow.sessions.get(item.session_id)
            sites = await uow.directory.get_sites(list(session.site_ids)) if session else {}
            done = await uow.actions.done_keys([item.session_id])
        await self._links.load()  # the page links' secret
        now = self._clock.now()
        if session is None or session.status is SessionStatus.CANCELLED or now >= session.start:
            return Outcome("done", "not sent: moot")  # too late or moot: dropped
        key = str(item.payload.get("key", f"reminder:{item.id}"))
        minutes = int(item.payload.get("minutes_before", 0))
        messages: list[tuple[str, EmailMessage]] = []
        for s in session.sites:
            site = sites.get(s.site_id)
            email = site.coordinator.email if site else None
            if site and email and f"{key}:{email}" not in done:
                page = self._links.page(session, site)
                message = self._message(
                    session, email, site.timezone, site.language, s.join_url, minutes, page
                )
                messages.append((email, message))
        chair = session.chair.email
        if f"{key}:{chair}" not in done and chair not in {e for e, _ in messages}:
            page = self._links.page(session)
            message = self._message(session, chair, session.timezone, "vi", None, minutes, page)
            messages.append((chair, message))
        results = await self._mailer.send_many([m for _, m in messages]) if messages else []
        transient = [
            f"{to}: {err}"
            for (to, _), err in zip(messages, results, strict=True)
            if err is not None and not isinstance(err, PermanentConnectorError)
        ]
        # A permanent refusal gives up on that recipient: retrying would not reach them.
        reached = [
            to
            for (to, _), err in zip(messages, results, strict=True)
            if err is None or isinstance(err, PermanentConnectorError)
        ]
        session_id = session.id

        async def record(uow: UnitOfWork) -> None:
            for to in reached:
                await uow.actions.mark_done(f"{key}:{to}", session_id, "reminded", now)

        if transient:
            return Outcome("retry", transient[0], record)
        return Outcome("done", None, record)
