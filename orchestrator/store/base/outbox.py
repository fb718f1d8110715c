"""The outbox area of the store: changes waiting to be delivered (rule 8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol


@dataclass(frozen=True)
class OutboxItem:
    """One change waiting to be delivered (e.g. a session's invites at one version)."""

    id: int
    kind: str
    session_id: str
    version: int
    payload: dict[str, Any]
    attempts: int


class Outbox(Protocol):
    """The outbox (`uow.outbox`): an item is `pending` until settled `done` or `failed`.
    Database failures surface when the unit of work ends."""

    async def add(
        self, kind: str, session_id: str, version: int, payload: dict[str, Any], at: datetime
    ) -> None:
        """Queue a change for delivery, due at `at`, in the change's own unit of work."""
        ...

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        """Take up to `limit` due items, oldest first, count the attempt, and hide them from
        other workers for `lease` (an item whose worker dies comes back when the lease ends).
        Returns them with their attempts counted."""
        ...

    async def settle(
        self,
        item_id: int,
        *,
        status: str,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Mark an item `done` or `failed`, or (status `pending`) due again at `retry_at`."""
        ...

    async def pending(self, session_id: str) -> int:
        """How many of the session's changes are still to be delivered."""
        ...
