"""Invite use cases: deliver queued invites, show their state, downloads, RSVPs and feeds.

Each booking change leaves one outbox item (written with the change). The worker turns it into
one invite per site at SEQUENCE = the session's version minus 1 (0 when booked; it only grows),
sends them in batches, and records each site's result, so a retry or a restart sends each site's
invite of one change at most once, and a mail server that is down delays invites but loses none.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import ConnectorError, Mailer, PermanentConnectorError
from orchestrator.access.signin import LinkMaker, SignIn
from orchestrator.attendance.service import RECORD, AttendanceOut, to_csv
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    AuthenticationRequired,
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
    SessionNotFound,
)
from orchestrator.domain.models import (
    AuditEntry,
    Principal,
    Role,
    Session,
    SessionStatus,
    Site,
    may_see,
)
from orchestrator.invites.ics import (
    DEFAULT_ALARMS,
    InviteEvent,
    InviteMethod,
    Language,
    Party,
    describe_instant,
    describe_range,
    render_calendar,
    render_feed,
    site_invite,
)
from orchestrator.invites.imip import build_invite_email
from orchestrator.lifecycle.service import REMINDER, TASK_REMINDER
from orchestrator.preparation.rules import TaskDue
from orchestrator.store.base import Delivery, OutboxItem, Rsvp, SessionQuery, Store, UnitOfWork

# Links to the pages in emails work until this long after the session ends.
PAGE_LINK_DAYS = timedelta(days=30)

log = logging.getLogger(__name__)

INVITES = "invites"
BATCH = 200
FEED_PAST = timedelta(days=90)


@dataclass(frozen=True)
class InviteSettings:
    """What the invites need from the service's settings."""

    base_url: str
    organizer_email: str
    organizer_name: str = "Văn phòng"
    alarms: tuple[int, ...] = DEFAULT_ALARMS
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).hostname or "orchestrator.invalid"


class SiteInviteOut(BaseModel):
    site_id: str
    in_session: bool = Field(description="False for a site removed from the session")
    method: Literal["REQUEST", "CANCEL"]
    sequence: int = Field(description="The SEQUENCE this site's invite has (or will have)")
    state: Literal["queued", "sent", "failed"]
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    rsvp: Literal["needs-action", "accepted", "declined"] = "needs-action"
    rsvp_comment: str = ""
    rsvp_at: datetime | None = None


class InvitesOut(BaseModel):
    session_id: str
    version: int
    pending_changes: int
    sites: list[SiteInviteOut]


class RsvpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Literal["accepted", "declined"]
    comment: str = Field(default="", max_length=2000)


@dataclass
class _Target:
    site: Site
    method: InviteMethod
    sequence: int
    join_url: str


@dataclass
class _Outcome:
    sent: int = 0
    failed: int = 0
    transient: list[str] = field(default_factory=list)


class Invites:
    """Per-site invites: delivery through the outbox, downloads, RSVPs and calendar feeds."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        mailer: Mailer,
        settings: InviteSettings,
        signin: SignIn | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._s = settings
        self._signin = signin
        self._links: LinkMaker | None = None

    def _page_link(self, session: Session, *, site: Site | None = None) -> str | None:
        """The signed link to a coordinator's session page (`site_id`) or the chair's board;
        None until the link secret is loaded (`_signing_key`) or without sign-in links."""
        if self._links is None:
            return None
        until = session.end + PAGE_LINK_DAYS
        if site is not None:
            return self._links(
                role=Role.COORDINATOR,
                site_id=site.id,
                email=site.coordinator.email,
                next_path=f"/site/sessions/{session.id}",
                until=until,
            )
        return self._links(
            role=Role.CHAIR,
            email=session.chair.email,
            next_path=f"/chair/sessions/{session.id}",
            until=until,
        )

    # rendering -------------------------------------------------------------------------
    @property
    def organizer(self) -> Party:
        return Party(self._s.organizer_name, self._s.organizer_email)

    def _event(self, session: Session, target: _Target) -> InviteEvent:
        return site_invite(
            session,
            target.site,
            join_url=target.join_url,
            method=target.method,
            sequence=target.sequence,
            domain=self._s.domain,
            organizer=self.organizer,
            dtstamp=self._clock.now(),
            alarms=self._s.alarms,
        )

    async def _signing_key(self) -> bytes:
        if self._signin is not None and self._links is None:
            self._links = await self._signin.link_maker()
        async with self._store.write() as uow:
            return (await uow.secret("rsvp-links", secrets.token_hex(32))).encode()

    def _signature(self, key: bytes, session_id: str, site_id: str, response: str) -> str:
        message = f"{session_id}/{site_id}/{response}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    def _rsvp_url(self, key: bytes, session_id: str, site_id: str, response: str) -> str:
        sig = self._signature(key, session_id, site_id, response)
        return f"{self._s.base_url.rstrip('/')}/rsvp/{session_id}/{site_id}/{response}?sig={sig}"

    def _email(self, session: Session, target: _Target, key: bytes) -> tuple[bytes, EmailMessage]:
        event = self._event(session, target)
        ics = render_calendar(event)
        request = target.method is InviteMethod.REQUEST
        message = build_invite_email(
            event,
            ics=ics,
            rsvp_accept_url=self._rsvp_url(key, session.id, target.site.id, "accepted")
            if request
            else None,
            rsvp_decline_url=self._rsvp_url(key, session.id, target.site.id, "declined")
            if request
            else None,
            page_url=self._page_link(session, site=target.site) if request else None,
        )
        return ics, message

    def _targets(
        self, session: Session, sites: dict[str, Site], removed: Sequence[str], version: int
    ) -> list[_Target]:
        method = (
            InviteMethod.CANCEL
            if session.status is SessionStatus.CANCELLED
            else InviteMethod.REQUEST
        )
        out = [
            _Target(
                sites[s.site_id],
                method,
                _sequence(session.version),
                s.join_url or self._page(session),
            )
            for s in session.sites
            if s.site_id in sites
        ]
        current = set(session.site_ids)
        out.extend(
            _Target(sites[r], InviteMethod.CANCEL, _sequence(version), self._page(session))
            for r in removed
            if r not in current and r in sites
        )
        return out

    def _page(self, session: Session) -> str:
        return f"{self._s.base_url.rstrip('/')}/api/sessions/{session.id}"

    # delivery --------------------------------------------------------------------------
    async def deliver_due(self, limit: int = 10) -> int:
        """Deliver the invites of up to `limit` due changes; the number of changes handled."""
        now = self._clock.now()
        async with self._store.write() as uow:
            items = await uow.claim_outbox(now, self._s.lease, limit)
        for item in items:
            try:
                await self._deliver(item)
            except Exception:  # one broken change must not stop the others
                log.exception("delivering outbox item %s failed", item.id)
                final = item.attempts >= self._s.max_attempts
                async with self._store.write() as uow:
                    await uow.settle_outbox(
                        item.id,
                        status="failed" if final else "pending",
                        at=self._clock.now(),
                        error="internal error, see the log",
                        retry_at=self._clock.now() + self._backoff(item.attempts),
                    )
        return len(items)

    async def _send_one(self, item: OutboxItem, message: EmailMessage, now: datetime) -> None:
        """Send the one message of `item`, then settle it: done, retried later, or failed."""
        try:
            await self._mailer.send(message)
        except ConnectorError as exc:
            final = item.attempts >= self._s.max_attempts or isinstance(
                exc, PermanentConnectorError
            )
            async with self._store.write() as uow:
                await uow.settle_outbox(
                    item.id,
                    status="failed" if final else "pending",
                    at=now,
                    error=str(exc),
                    retry_at=now + self._backoff(item.attempts),
                )
            return
        async with self._store.write() as uow:
            await uow.settle_outbox(item.id, status="done", at=now)

    def _backoff(self, attempts: int) -> timedelta:
        delay: timedelta = self._s.backoff * (2 ** max(0, attempts - 1))
        return min(delay, self._s.max_backoff)

    async def _deliver(self, item: OutboxItem) -> None:
        if item.kind == RECORD:
            await self._send_record(item)
            return
        if item.kind == REMINDER:
            await self._send_reminders(item)
            return
        if item.kind == TASK_REMINDER:
            await self._send_task_reminder(item)
            return
        await self._deliver_invites(item)

    async def _send_record(self, item: OutboxItem) -> None:
        """Mail a frozen attendance record to the session's chair, with the CSV attached."""
        async with self._store.read() as uow:
            session = await uow.get_session(item.session_id)
            stored = await uow.get_record(item.session_id)
        now = self._clock.now()
        if session is None or stored is None:
            async with self._store.write() as uow:
                await uow.settle_outbox(item.id, status="failed", at=now, error="no record")
            return
        record = AttendanceOut.model_validate_json(stored[1])
        message = EmailMessage()
        message["From"] = f"{self._s.organizer_name} <{self._s.organizer_email}>"
        message["To"] = session.chair.email
        message["Subject"] = f"Kết quả điểm danh / Attendance: {session.title}"
        lines = [record.summary, record.summary_en, ""]
        lines += [
            f"{s.site_id}: {s.status}{' (muộn/late)' if s.late else ''}"
            f"{' (về sớm/left early)' if s.left_early else ''}, {s.connected_minutes:g} min"
            for s in record.sites
        ]
        await self._signing_key()
        board = self._page_link(session)
        if board:
            lines += ["", f"Bảng điểm danh / Attendance board: {board}"]
        message.set_content("\n".join(lines))
        message.add_attachment(
            to_csv(record), maintype="text", subtype="csv", filename="attendance.csv"
        )
        await self._send_one(item, message, now)

    def _reminder(
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
        when = describe_range(session.start, session.end, zone, lang)
        message = EmailMessage()
        message["From"] = f"{self._s.organizer_name} <{self._s.organizer_email}>"
        message["To"] = to
        if lang == "vi":
            message["Subject"] = f"Nhắc lịch họp: {session.title}"
            lines = [f"Phiên họp “{session.title}” diễn ra lúc {when}."]
            if minutes <= session.buffer_before_minutes:
                lines.append("Đã đến giờ kiểm tra kết nối: xin mời điểm cầu vào phòng họp.")
            if link:
                lines.append(f"Đường dẫn của điểm cầu: {link}")
            if page:
                lines.append(f"Trang phiên họp: {page}")
        else:
            message["Subject"] = f"Reminder: {session.title}"
            lines = [f"The session “{session.title}” takes place {when}."]
            if minutes <= session.buffer_before_minutes:
                lines.append("The connection test starts now: please join the room.")
            if link:
                lines.append(f"Your site's link: {link}")
            if page:
                lines.append(f"The session's page: {page}")
        message.set_content("\n".join(lines))
        return message

    async def _send_reminders(self, item: OutboxItem) -> None:
        """A reminder to every site's coordinator (its language, zone and link) and the chair.

        Each recipient is recorded once reminded, so a retry reaches only the ones not yet.
        """
        async with self._store.read() as uow:
            session = await uow.get_session(item.session_id)
            sites = await uow.get_sites(list(session.site_ids)) if session else {}
            done = await uow.done_keys([item.session_id])
        await self._signing_key()  # loads the page-link secret too
        now = self._clock.now()
        if session is None or session.status is SessionStatus.CANCELLED or now >= session.start:
            async with self._store.write() as uow:  # too late or moot: drop it
                await uow.settle_outbox(item.id, status="done", at=now, error="not sent: moot")
            return
        key = str(item.payload.get("key", f"reminder:{item.id}"))
        minutes = int(item.payload.get("minutes_before", 0))
        messages: list[tuple[str, EmailMessage]] = []
        for s in session.sites:
            site = sites.get(s.site_id)
            email = site.coordinator.email if site else None
            if site and email and f"{key}:{email}" not in done:
                messages.append(
                    (
                        email,
                        self._reminder(
                            session,
                            email,
                            site.timezone,
                            site.language,
                            s.join_url,
                            minutes,
                            self._page_link(session, site=site),
                        ),
                    )
                )
        chair = session.chair.email
        if f"{key}:{chair}" not in done and chair not in {e for e, _ in messages}:
            messages.append(
                (
                    chair,
                    self._reminder(
                        session,
                        chair,
                        session.timezone,
                        "vi",
                        None,
                        minutes,
                        self._page_link(session),
                    ),
                )
            )
        results = await self._mailer.send_many([m for _, m in messages]) if messages else []
        transient = [
            f"{to}: {err}"
            for (to, _), err in zip(messages, results, strict=True)
            if err is not None and not isinstance(err, PermanentConnectorError)
        ]
        async with self._store.write() as uow:
            for (to, _), err in zip(messages, results, strict=True):
                if err is None or isinstance(err, PermanentConnectorError):
                    await uow.mark_done(f"{key}:{to}", session.id, "reminded", now)
            final = item.attempts >= self._s.max_attempts
            if transient and not final:
                await uow.settle_outbox(
                    item.id,
                    status="pending",
                    at=now,
                    error=transient[0],
                    retry_at=now + self._backoff(item.attempts),
                )
            else:
                await uow.settle_outbox(
                    item.id,
                    status="failed" if transient else "done",
                    at=now,
                    error=transient[0] if transient else None,
                )

    async def _send_task_reminder(self, item: OutboxItem) -> None:
        """Remind the site that owes a preparation document (unless it has been submitted)."""
        task = TaskDue.model_validate(item.payload["task"])
        async with self._store.read() as uow:
            session = await uow.get_session(item.session_id)
            sites = await uow.get_sites([task.site_id])
            submitted = await uow.get_submissions(item.session_id)
        now = self._clock.now()
        site = sites.get(task.site_id)
        email = site.coordinator.email if site else None
        moot = session is None or session.status is SessionStatus.CANCELLED
        if moot or site is None or not email or task.id in submitted:
            async with self._store.write() as uow:
                await uow.settle_outbox(item.id, status="done", at=now, error="not sent: moot")
            return
        assert session is not None
        lang: Language = "en" if site.language == "en" else "vi"
        due = describe_instant(task.due, task.zone, lang)
        message = EmailMessage()
        message["From"] = f"{self._s.organizer_name} <{self._s.organizer_email}>"
        message["To"] = email
        missed = now > task.due
        if lang == "vi":
            message["Subject"] = f"Nhắc nộp tài liệu: {task.title_vi} – {session.title}"
            body = (
                f"{site.name} chưa nộp “{task.title_vi}” cho phiên “{session.title}”: "
                f"đã quá hạn {due}. Xin nộp sớm."
                if missed
                else f"{site.name} cần nộp “{task.title_vi}” cho phiên “{session.title}” "
                f"trước {due}."
            )
        else:
            message["Subject"] = f"Document due: {task.title_en} – {session.title}"
            body = (
                f"{site.name} has not sent “{task.title_en}” for “{session.title}”: it was due "
                f"{due}. Please send it soon."
                if missed
                else f"{site.name} owes “{task.title_en}” for “{session.title}” by {due}."
            )
        message.set_content(body)
        await self._send_one(item, message, now)

    async def _deliver_invites(self, item: OutboxItem) -> None:
        async with self._store.read() as uow:
            session = await uow.get_session(item.session_id)
            if session is None:
                deliveries: dict[str, Delivery] = {}
                sites: dict[str, Site] = {}
            else:
                removed = [str(r) for r in item.payload.get("removed_sites", [])]
                sites = await uow.get_sites([*session.site_ids, *removed])
                deliveries = await uow.get_deliveries(session.id)
        if session is None:
            async with self._store.write() as uow:
                await uow.settle_outbox(
                    item.id, status="failed", at=self._clock.now(), error="session gone"
                )
            return
        targets = [
            t
            for t in self._targets(session, sites, removed, item.version)
            if not _already_sent(deliveries.get(t.site.id), t)
        ]
        key = await self._signing_key()
        outcome = _Outcome()
        final = item.attempts >= self._s.max_attempts
        for start in range(0, len(targets), BATCH):
            batch = targets[start : start + BATCH]
            await self._send_batch(session, batch, deliveries, key, outcome, final)
        now = self._clock.now()
        async with self._store.write() as uow:
            if outcome.transient and not final:
                await uow.settle_outbox(
                    item.id,
                    status="pending",
                    at=now,
                    error=f"{len(outcome.transient)} invite(s) to retry: {outcome.transient[0]}",
                    retry_at=now + self._backoff(item.attempts),
                )
            else:
                status = "failed" if outcome.transient or outcome.failed else "done"
                error = outcome.transient[0] if outcome.transient else None
                await uow.settle_outbox(item.id, status=status, at=now, error=error)
        log.info(
            "invites of session %s v%d: %d sent, %d failed, %d to retry",
            session.id,
            item.version,
            outcome.sent,
            outcome.failed,
            len(outcome.transient),
        )

    async def _send_batch(
        self,
        session: Session,
        batch: list[_Target],
        deliveries: dict[str, Delivery],
        key: bytes,
        outcome: _Outcome,
        final: bool,
    ) -> None:
        messages: list[EmailMessage] = []
        sendable: list[_Target] = []
        results: list[tuple[_Target, ConnectorError | None]] = []
        for target in batch:
            try:
                messages.append(self._email(session, target, key)[1])
                sendable.append(target)
            except ValueError as exc:  # e.g. a site without a coordinator email
                results.append((target, PermanentConnectorError(str(exc))))
        if messages:
            sent = await self._mailer.send_many(messages)
            results.extend(zip(sendable, sent, strict=True))
        now = self._clock.now()
        async with self._store.write() as uow:
            for target, error in results:
                previous = deliveries.get(target.site.id)
                attempts = (
                    previous.attempts if previous and previous.sequence == target.sequence else 0
                ) + 1
                transient = error is not None and not isinstance(error, PermanentConnectorError)
                if error is None:
                    state, outcome.sent = "sent", outcome.sent + 1
                elif transient and not final:
                    state = "queued"
                    outcome.transient.append(f"{target.site.id}: {error}")
                else:
                    state, outcome.failed = "failed", outcome.failed + 1
                    if transient:
                        outcome.transient.append(f"{target.site.id}: {error}")
                delivery = Delivery(
                    session_id=session.id,
                    site_id=target.site.id,
                    sequence=target.sequence,
                    method=target.method.value,
                    state=state,
                    attempts=attempts,
                    last_error=None if error is None else str(error),
                    updated_at=now,
                    sent_at=now if error is None else None,
                )
                await uow.record_delivery(delivery, ok=error is None, error=delivery.last_error)
                deliveries[target.site.id] = delivery

    # reading ---------------------------------------------------------------------------
    async def _session(self, uow: UnitOfWork, session_id: str, principal: Principal) -> Session:
        session = await uow.get_session(session_id)
        if session is not None and may_see(principal, session):
            return session
        raise SessionNotFound(session_id)

    async def status(self, session_id: str, principal: Principal) -> InvitesOut:
        """Each site's invite: queued, sent or failed (with the reason), and its RSVP."""
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
            deliveries = await uow.get_deliveries(session_id)
            rsvps = await uow.get_rsvps(session_id)
            pending = await uow.pending_outbox(session_id)
        method = "CANCEL" if session.status is SessionStatus.CANCELLED else "REQUEST"
        out: list[SiteInviteOut] = []
        current = set(session.site_ids)
        for site_id in [*session.site_ids, *(d for d in deliveries if d not in current)]:
            if principal.role is Role.COORDINATOR and site_id != principal.site_id:
                continue
            d = deliveries.get(site_id)
            in_session = site_id in current
            current_seq = _sequence(session.version)
            wanted = current_seq if in_session else (d.sequence if d else current_seq)
            state: Literal["queued", "sent", "failed"] = "queued"
            if d is not None and d.sequence >= wanted and d.state in ("sent", "failed"):
                state = "sent" if d.state == "sent" else "failed"
            r = rsvps.get(site_id)
            out.append(
                SiteInviteOut(
                    site_id=site_id,
                    in_session=in_session,
                    method=method if in_session else "CANCEL",
                    sequence=wanted,
                    state=state,
                    attempts=d.attempts if d else 0,
                    last_error=d.last_error if d else None,
                    sent_at=d.sent_at if d else None,
                    rsvp=r.response if r else "needs-action",
                    rsvp_comment=r.comment if r else "",
                    rsvp_at=r.at if r else None,
                )
            )
        return InvitesOut(
            session_id=session.id, version=session.version, pending_changes=pending, sites=out
        )

    async def _site_target(
        self, session_id: str, site_id: str, principal: Principal
    ) -> tuple[Session, _Target]:
        if principal.role is Role.COORDINATOR and principal.site_id != site_id:
            raise PermissionDenied("a coordinator may only fetch their own site's invite")
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
            sites = await uow.get_sites([site_id])
        if site_id not in session.site_ids or site_id not in sites:
            raise NotFound("site of this session", site_id)
        targets = self._targets(session, sites, (), session.version)
        return session, next(t for t in targets if t.site.id == site_id)

    async def invite_ics(self, session_id: str, site_id: str, principal: Principal) -> bytes:
        """The site's current invite as an .ics (REQUEST, or CANCEL once cancelled)."""
        session, target = await self._site_target(session_id, site_id, principal)
        try:
            return render_calendar(self._event(session, target))
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="site") from exc

    async def export(self, session_id: str, principal: Principal) -> dict[str, tuple[bytes, bytes]]:
        """Every site's (.ics, .eml) of the session's current state, by site id."""
        async with self._store.read() as uow:
            session = await self._session(uow, session_id, principal)
            sites = await uow.get_sites(list(session.site_ids))
        key = await self._signing_key()
        out: dict[str, tuple[bytes, bytes]] = {}
        for target in self._targets(session, sites, (), session.version):
            try:
                ics, message = self._email(session, target, key)
            except ValueError as exc:
                log.warning("no invite for site %s: %s", target.site.id, exc)
                continue
            out[target.site.id] = (ics, message.as_bytes())
        return out

    # RSVP ------------------------------------------------------------------------------
    async def rsvp(
        self, session_id: str, site_id: str, req: RsvpRequest, principal: Principal
    ) -> InvitesOut:
        """A coordinator accepts or declines for their site."""
        if principal.role is not Role.COORDINATOR or principal.site_id != site_id:
            raise PermissionDenied("only the site's coordinator answers its invite")
        await self._record_rsvp(session_id, site_id, req, principal.actor)
        return await self.status(session_id, principal)

    async def rsvp_by_link(
        self, session_id: str, site_id: str, response: str, signature: str
    ) -> None:
        """The one-click answer from the email's signed link. Raises AuthenticationRequired."""
        if response not in ("accepted", "declined"):
            raise NotFound("answer", response)
        key = await self._signing_key()
        expected = self._signature(key, session_id, site_id, response)
        if not hmac.compare_digest(expected, signature or ""):
            raise AuthenticationRequired("this answer link is not valid")
        await self._record_rsvp(
            session_id,
            site_id,
            RsvpRequest.model_validate({"response": response}),
            f"link:{site_id}",
        )

    async def _record_rsvp(
        self, session_id: str, site_id: str, req: RsvpRequest, actor: str
    ) -> None:
        now = self._clock.now()
        async with self._store.write() as uow:
            session = await uow.get_session(session_id)
            if session is None or site_id not in session.site_ids:
                raise SessionNotFound(session_id)
            if session.status is SessionStatus.CANCELLED:
                raise InvalidState("the session was cancelled: there is nothing to answer")
            await uow.put_rsvp(session_id, Rsvp(site_id, req.response, req.comment, now, actor))
            await uow.audit(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action="invite.rsvp",
                    target=f"session:{session_id}",
                    detail={"site_id": site_id, "response": req.response, "comment": req.comment},
                )
            )

    # feeds -----------------------------------------------------------------------------
    async def create_feed(self, site_id: str, principal: Principal) -> str:
        """A new subscription URL for the site's calendar; the previous one stops working."""
        if principal.role is not Role.OFFICE and principal.site_id != site_id:
            raise PermissionDenied("only the office or the site's coordinator")
        token = secrets.token_urlsafe(24)
        now = self._clock.now()
        async with self._store.write() as uow:
            if not await uow.get_sites([site_id]):
                raise NotFound("site", site_id)
            await uow.set_feed_token(site_id, _hash(token), now)
            await uow.audit(
                AuditEntry(
                    at=now, actor=principal.actor, action="feed.create", target=f"site:{site_id}"
                )
            )
        return f"{self._s.base_url.rstrip('/')}/api/sites/{site_id}/calendar.ics?token={token}"

    async def feed(self, site_id: str, token: str | None) -> bytes:
        """The site's sessions (cancelled ones as cancelled). Raises AuthenticationRequired."""
        if not token:
            raise AuthenticationRequired("the feed URL carries its token (?token=...)")
        async with self._store.read() as uow:
            if await uow.site_for_feed_token(_hash(token)) != site_id:
                raise AuthenticationRequired("unknown or replaced feed token")
            sites = await uow.get_sites([site_id])
            sessions = await uow.list_sessions(
                SessionQuery(site=site_id, start_from=self._clock.now() - FEED_PAST, limit=1000)
            )
        site = sites[site_id]
        events = []
        for session in sessions:
            target = self._targets(session, {site_id: site}, (), session.version)[0]
            try:
                events.append(self._event(session, target))
            except ValueError:
                continue
        return render_feed(events, name=site.name)


def _sequence(version: int) -> int:
    """An invite's SEQUENCE at a session version: 0 for the first invite (RFC 5545's start),
    then one more for every later change of the session, never lowered."""
    return version - 1


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _already_sent(previous: Delivery | None, target: _Target) -> bool:
    return (
        previous is not None
        and previous.sequence >= target.sequence
        and previous.state in ("sent", "failed")
    )
