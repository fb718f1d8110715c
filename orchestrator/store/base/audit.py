"""The audit area of the store: who did what to which target, and why."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from orchestrator.domain.models import AuditEntry


class AuditLog(Protocol):
    """The audit log (`uow.audit`), append only. Database failures surface when the unit of
    work ends."""

    async def record(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        reason: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        """Append one entry (in the change's own unit of work, so it is kept only if the change
        is). Raises pydantic's ValidationError for a naive `at`."""
        ...

    async def recent(self, *, target: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The latest `limit` entries (on one target), newest first."""
        ...
