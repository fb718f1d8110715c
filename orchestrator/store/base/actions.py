"""The done-actions area of the store: actions that must happen once only (reminders,
lifecycle steps, single-use sign-in links)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class DoneActions(Protocol):
    """Once-only markers (`uow.actions`), keyed by a caller-chosen key. Database failures
    surface when the unit of work ends."""

    async def mark_done(self, key: str, session_id: str, kind: str, at: datetime) -> bool:
        """Record an action as done; False when it was done already (do not do it again)."""
        ...

    async def done_keys(self, session_ids: Sequence[str]) -> set[str]:
        """The keys of the actions done for these sessions."""
        ...
