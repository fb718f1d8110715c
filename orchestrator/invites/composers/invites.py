"""The invites of one booking change: one per site at the change's SEQUENCE, sent in batches,
each site's result recorded, so a retry or a restart sends each site's invite of one change at
most once. A session already over invites nobody: its sites' invites are recorded `skipped`
(reason `ended`), whether it was booked in the past or ended while a retry waited. With
`[invites] join_gateway` on, each invite carries the site's gateway link; a rotated link sends
that site's invite again (`resend_sites`) at the same SEQUENCE, under a Message-ID of its own."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import NamedTuple

from connectors.base import ConnectorError, Mailer, PermanentConnectorError
from orchestrator.domain.clock import Clock
from orchestrator.domain.join_keys import GatewayLinks, JoinSubject
from orchestrator.domain.models import Session, Site
from orchestrator.invites.dispatch import Outcome
from orchestrator.invites.letters import InviteLetters, Target
from orchestrator.invites.links import MailLinks
from orchestrator.store.base import Delivery, OutboxItem, Store

log = logging.getLogger(__name__)

BATCH = 200  # invites per round trip to the mail server (and per transaction recording them)
ENDED = "ended"  # the reason an invite of a session already over is skipped


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    transient: list[str] = field(default_factory=list)


class InviteComposer:
    """Delivers the `invites` kind: every site's invite of a booking change."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        mailer: Mailer,
        letters: InviteLetters,
        links: MailLinks,
        gateway: GatewayLinks | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._letters = letters
        self._links = links
        self._gateway = gateway

    async def deliver(self, item: OutboxItem, *, final: bool) -> Outcome:
        async with self._store.read() as uow:
            session = await uow.sessions.get(item.session_id)
            if session is None:
                deliveries: dict[str, Delivery] = {}
                sites: dict[str, Site] = {}
            else:
                removed = [str(r) for r in item.payload.get("removed_sites", [])]
                sites = await uow.directory.get_sites([*session.site_ids, *removed])
                deliveries = await uow.invites.deliveries(session.id)
        if session is None:
            return Outcome("failed", "session gone")
        if session.series_id is not None:  # DESIGN 10: its series' invite carries it
            return Outcome("done", "not sent: an occurrence of a series")
        resend = {str(s) for s in item.payload.get("resend_sites", [])}
        gateway = await gateway_links(self._gateway, session)
        targets = [
            t
            for t in self._letters.targets(
                session, sites, removed, item.version, gateway.urls, gateway.rotations
            )
            if (t.site.id in resend if resend else not _already_sent(deliveries.get(t.site.id), t))
        ]
        if self._clock.now() >= session.end:
            await self._skip(session, targets, deliveries)
            log.info(
                "invites of session %s v%d: %d skipped, the session has ended",
                session.id,
                item.version,
                len(targets),
            )
            return Outcome("done", "not sent: the session has ended")
        key = await self._links.load()
        tally = _Tally()
        for start in range(0, len(targets), BATCH):
            batch = targets[start : start + BATCH]
            await self._send_batch(session, batch, deliveries, key, tally, final)
        log.info(
            "invites of session %s v%d: %d sent, %d failed, %d to retry",
            session.id,
            item.version,
            tally.sent,
            tally.failed,
            len(tally.transient),
        )
        if tally.transient and not final:
            first = tally.transient[0]
            return Outcome("retry", f"{len(tally.transient)} invite(s) to retry: {first}")
        if tally.transient:
            return Outcome("failed", tally.transient[0])
        return Outcome("failed" if tally.failed else "done")

    async def _skip(
        self, session: Session, targets: list[Target], deliveries: dict[str, Delivery]
    ) -> None:
        """Record `targets` as not sent: the session is over (the reason is kept where a
        failure's would be)."""
        now = self._clock.now()
        async with self._store.write() as uow:
            for target in targets:
                previous = deliveries.get(target.site.id)
                same = previous is not None and previous.sequence == target.sequence
                delivery = Delivery(
                    session_id=session.id,
                    site_id=target.site.id,
                    sequence=target.sequence,
                    method=target.method.value,
                    state="skipped",
                    attempts=previous.attempts if previous is not None and same else 0,
                    last_error=ENDED,
                    updated_at=now,
                    sent_at=None,
                )
                await uow.invites.record_delivery(delivery, ok=False, error=f"skipped: {ENDED}")

    async def _send_batch(
        self,
        session: Session,
        batch: list[Target],
        deliveries: dict[str, Delivery],
        key: bytes,
        tally: _Tally,
        final: bool,
    ) -> None:
        messages: list[EmailMessage] = []
        sendable: list[Target] = []
        results: list[tuple[Target, ConnectorError | None]] = []
        for target in batch:
            # (an invite sent again with its rotated link has a higher SEQUENCE, hence a
            # Message-ID of its own: mail services drop a message whose Message-ID they know)
            try:
                messages.append(self._letters.email(session, target, key, self._links.page)[1])
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
                    state, tally.sent = "sent", tally.sent + 1
                elif transient and not final:
                    state = "queued"
                    tally.transient.append(f"{target.site.id}: {error}")
                else:
                    state, tally.failed = "failed", tally.failed + 1
                    if transient:
                        tally.transient.append(f"{target.site.id}: {error}")
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
                await uow.invites.record_delivery(
                    delivery, ok=error is None, error=delivery.last_error
                )
                deliveries[target.site.id] = delivery


def _already_sent(previous: Delivery | None, target: Target) -> bool:
    return (
        previous is not None
        and previous.sequence >= target.sequence
        and previous.state in ("sent", "failed", "skipped")
    )


class SiteLinks(NamedTuple):
    """What a single session's invites carry of the join gateway: each site's gateway link, and
    how many times it was rotated (its invite's SEQUENCE is raised by as much)."""

    urls: dict[str, str]
    rotations: dict[str, int]


async def gateway_links(gateway: GatewayLinks | None, session: Session) -> SiteLinks:
    """The session's sites' gateway links when single sessions' invites carry them, else none
    (each invite then carries the site's own link)."""
    if gateway is None or not gateway.sessions_enabled or session.series_id is not None:
        return SiteLinks({}, {})
    return SiteLinks(
        await gateway.urls(JoinSubject.SESSION, session.id, session.site_ids),
        await gateway.rotations(JoinSubject.SESSION, session.id),
    )
