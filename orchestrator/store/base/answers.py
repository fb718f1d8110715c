"""The idempotency area of the store: answers kept under (actor, Idempotency-Key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredAnswer:
    """A write's answer as sent, and the fingerprint of the request that earned it."""

    fingerprint: str
    status: int
    body: str


class Answers(Protocol):
    """Idempotent answers (`uow.answers`). Database failures surface when the unit of work
    ends."""

    async def get(self, actor: str, key: str) -> StoredAnswer | None:
        """The answer stored under (actor, key), or None."""
        ...

    async def put(self, actor: str, key: str, answer: StoredAnswer, at: datetime) -> None:
        """Store the answer under (actor, key). Raises `DuplicateAnswer` when one is stored
        already (a concurrent twin won; the unit of work is then spoiled)."""
        ...
