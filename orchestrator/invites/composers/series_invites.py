"""The invites of one series change (DESIGN 10): each site named by the outbox row gets the
message the change calls for (the whole series, one occurrence, its cancellation, the series'
cancellation) at the series' SEQUENCE for that change, decided by the series as it is when sent.
Each site's result is recorded under the series' id, so a retry sends each site's message of one
change at most once; a series whose meetings are all over invites nobody (`skipped`, `ended`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage

from connectors.base import ConnectorError, Mailer, PermanentConnectorError
from orchestrator.domain.clock import Clock
from orchestrator.domain.join_keys import GatewayLinks, JoinSubject
from orchestrator.domain.models import Site
from orchestrator.invites.composers.invites import BATCH, ENDED
from orchestrator.invites.dispatch import Outcome
from orchestrator.invites.letters import sequence_of
from orchestrator.invites.links import MailLinks
from orchestrator.invites.series_letters import (
    MESSAGES,
    Message,
    SeriesLetters,
    SeriesState,
    parse_occurrence,
    sites_of,
)
from orchestrator.store.base import Delivery, OutboxItem, Store

log = logging.getLogger(__name__)


class SeriesInviteComposer:
    """Delivers the `series-invites` kind."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        mailer: Mailer,
        letters: SeriesLetters,
        links: MailLinks,
        gateway: GatewayLinks,
    ) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._letters = letters
        self._links = links
        self._gateway = gateway

    async def deliver(self, item: OutboxItem, *, final: bool) -> Outcome:
        payload = item.payload
        series_id = str(payload.get("series_id") or item.session_id)
        message = _MESSAGES.get(str(payload.get("message")))
        if message is None:
            return Outcome("failed", f"unknown series message {payload.get('message')!r}")
        try:
            original = parse_occurrence(payload.get("occurrence"))
        except ValueError as exc:
            return Outcome("failed", str(exc))
        async with self._store.read() as uow:
            series = await uow.series.get(series_id)
            occurrences = await uow.series.occurrences(series_id) if series else []
            state = SeriesState(series, tuple(occurrences)) if series else None
            wanted = sites_of(payload.get("site_ids"), state) if state else []
            sites = await uow.directory.get_sites(list(wanted))
            deliveries = await uow.invites.deliveries(series_id)
        if state is None:
            return Outcome("failed", "series gone")
        sequence = sequence_of(item.version)
        targets = [
            sites[s]
            for s in wanted
            if s in sites and not _already_sent(deliveries.get(s), sequence)
        ]
        now = self._clock.now()
        if state.over(now):
            skipped = [(t, sequence, "REQUEST", None) for t in targets]
            await self._record(series_id, skipped, now, skip=True, previous=deliveries)
            log.info(
                "series %s v%d: %d skipped, its meetings are over",
                series_id,
                item.version,
                len(skipped),
            )
            return Outcome("done", "not sent: the series has ended")
        urls = await self._gateway.urls(JoinSubject.SERIES, series_id, [t.id for t in targets])
        key = await self._links.load()
        sent = failed = 0
        transient: list[str] = []
        for start in range(0, len(targets), BATCH):
            batch = targets[start : start + BATCH]
            messages: list[EmailMessage] = []
            sendable: list[tuple[Site, str]] = []
            results: list[tuple[Site, int, str, ConnectorError | None]] = []
            for site in batch:
                try:
                    event = self._letters.event(state, site, urls[site.id], item.version, now)
                    composed, mail = self._letters.email(
                        state, event, message, original, now, key, self._links.page, site
                    )
                except ValueError as exc:  # a site without a coordinator email, an occurrence gone
                    results.append((site, sequence, "REQUEST", PermanentConnectorError(str(exc))))
                    continue
                messages.append(mail)
                sendable.append((site, composed.method.value))
            if messages:
                answers = await self._mailer.send_many(messages)
                results += [
                    (site, sequence, method, error)
                    for (site, method), error in zip(sendable, answers, strict=True)
                ]
            outcomes = []
            for site, seq, method, error in results:
                is_transient = error is not None and not isinstance(error, PermanentConnectorError)
                if error is None:
                    sent += 1
                elif is_transient:
                    transient.append(f"{site.id}: {error}")
                    if final:
                        failed += 1
                else:
                    failed += 1
                outcomes.append((site, seq, method, error))
            await self._record(series_id, outcomes, now, final=final, previous=deliveries)
        log.info(
            "series %s v%d (%s): %d sent, %d failed, %d to retry",
            series_id,
            item.version,
            message,
            sent,
            failed,
            0 if final else len(transient),
        )
        if transient and not final:
            return Outcome("retry", f"{len(transient)} invite(s) to retry: {transient[0]}")
        if transient:
            return Outcome("failed", transient[0])
        return Outcome("failed" if failed else "done")

    async def _record(
        self,
        series_id: str,
        outcomes: Sequence[tuple[Site, int, str, ConnectorError | None]],
        now: datetime,
        *,
        skip: bool = False,
        final: bool = True,
        previous: dict[str, Delivery] | None = None,
    ) -> None:
        """Each site's latest state under the series' id (the sessions' invite table)."""
        previous = previous or {}
        async with self._store.write() as uow:
            for site, sequence, method, error in outcomes:
                before = previous.get(site.id)
                same = before is not None and before.sequence == sequence
                attempts = (before.attempts if same and before else 0) + (0 if skip else 1)
                transient = error is not None and not isinstance(error, PermanentConnectorError)
                if skip:
                    state = "skipped"
                elif error is None:
                    state = "sent"
                elif transient and not final:
                    state = "queued"
                else:
                    state = "failed"
                last_error = ENDED if skip else (None if error is None else str(error))
                delivery = Delivery(
                    session_id=series_id,
                    site_id=site.id,
                    sequence=sequence,
                    method=method,
                    state=state,
                    attempts=attempts,
                    last_error=last_error,
                    updated_at=now,
                    sent_at=now if error is None and not skip else None,
                )
                await uow.invites.record_delivery(
                    delivery,
                    ok=error is None and not skip,
                    error=f"skipped: {ENDED}" if skip else last_error,
                )
                previous[site.id] = delivery


_MESSAGES: dict[str, Message] = {m: m for m in MESSAGES}


def _already_sent(previous: Delivery | None, sequence: int) -> bool:
    return (
        previous is not None
        and previous.sequence >= sequence
        and previous.state in ("sent", "failed", "skipped")
    )


__all__ = ["Message", "SeriesInviteComposer"]
