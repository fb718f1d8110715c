"""Delivering the outbox: due items claimed, each handed to the composer of its kind, and
settled by what came of it: done, failed, or retried later with a growing delay (DESIGN 8).

An item is claimed under a lease (another worker skips it until the lease ends) and its attempts
counted as it is claimed, so a worker that dies mid-item leaves it to be tried again, and an
item that keeps failing is given up after `Retries.max_attempts`. The mail server being down
delays mail but loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Literal, Protocol

from connectors.base import ConnectorError, Mailer, PermanentConnectorError
from orchestrator.domain.clock import Clock
from orchestrator.domain.outbox import OutboxKind
from orchestrator.store.base import OutboxItem, Store, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retries:
    """How often and how late an item is tried: after a temporary failure, again after
    `backoff`, doubling up to `max_backoff`, at most `max_attempts` times in all; `lease` is how
    long a claimed item is left to the worker that claimed it."""

    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """The wait before the attempt after `attempts` tries."""
        delay: timedelta = self.backoff * (2 ** max(0, attempts - 1))
        return min(delay, self.max_backoff)


@dataclass(frozen=True)
class Outcome:
    """What one attempt at an item came to: `done` (sent, or nothing left worth sending),
    `failed` (never to be tried again) or `retry` (a temporary failure: tried again later, or
    failed when this was the last attempt). `error` is kept with the item; `record` is written
    in the same transaction as the item's new state (e.g. the recipients reached)."""

    status: Literal["done", "failed", "retry"]
    error: str | None = None
    record: Callable[[UnitOfWork], Awaitable[None]] | None = None


class Composer(Protocol):
    """Turns the outbox items of one kind into mail and sends it."""

    async def deliver(self, item: OutboxItem, *, final: bool) -> Outcome:
        """Compose the mail `item` asks for, send it through the mailer and say how it went;
        the dispatcher settles the item by the answer. `final`: this is the item's last attempt
        (what is still failing then is failed for good). Raises nothing for a mail server's
        refusal (that is the outcome); any other error is the dispatcher's to log, and the item
        is tried again later."""
        ...


async def send_one(mailer: Mailer, message: EmailMessage) -> Outcome:
    """Send one message: done, `retry` on a temporary failure, `failed` on a refusal."""
    try:
        await mailer.send(message)
    except ConnectorError as exc:
        permanent = isinstance(exc, PermanentConnectorError)
        return Outcome("failed" if permanent else "retry", str(exc))
    return Outcome("done")


class OutboxDispatcher:
    """Claims due outbox items and delivers each through the composer registered for its kind."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        composers: Mapping[OutboxKind, Composer],
        retries: Retries | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._composers = {kind.value: composer for kind, composer in composers.items()}
        self._retries = retries or Retries()

    async def deliver_due(self, limit: int = 10) -> int:
        """Deliver up to `limit` due items, of every kind; the number of items handled."""
        now = self._clock.now()
        async with self._store.write() as uow:
            items = await uow.outbox.claim(now, self._retries.lease, limit)
        for item in items:
            try:
                await self._deliver(item)
            except Exception:  # one broken item must not stop the others
                log.exception("delivering outbox item %s failed", item.id)
                await self._settle(item, Outcome("retry", "internal error, see the log"))
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        composer = self._composers.get(item.kind)
        if composer is None:
            log.error("outbox item %s: nothing delivers the kind %r", item.id, item.kind)
            await self._settle(item, Outcome("failed", f"unknown kind {item.kind!r}"))
            return
        final = item.attempts >= self._retries.max_attempts
        await self._settle(item, await composer.deliver(item, final=final))

    async def _settle(self, item: OutboxItem, outcome: Outcome) -> None:
        now = self._clock.now()
        final = item.attempts >= self._retries.max_attempts
        async with self._store.write() as uow:
            if outcome.record is not None:
                await outcome.record(uow)
            if outcome.status == "retry" and not final:
                await uow.outbox.settle(
                    item.id,
                    status="pending",
                    at=now,
                    error=outcome.error,
                    retry_at=now + self._retries.delay(item.attempts),
                )
            else:
                status = "done" if outcome.status == "done" else "failed"
                await uow.outbox.settle(item.id, status=status, at=now, error=outcome.error)
