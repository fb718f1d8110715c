"""Idempotent creates (rule 5): an answer stored under the caller's `Idempotency-Key` in the same
unit of work as what it answers, and replayed verbatim when the same request comes again.

The use case returns a value (`Created`), never JSON: each edge serialises it. The stored answer
is written with `wire_json`, the one serialiser the HTTP edge sends with too, so a replay parsed
back into its model is sent byte for byte as the first answer was."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from orchestrator.booking.common import retrying
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import BookingConflict, IdempotencyMismatch
from orchestrator.domain.models import Principal
from orchestrator.domain.wire import wire_json
from orchestrator.store.base import ClaimOverlap, DuplicateAnswer, Store, StoredAnswer, UnitOfWork

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Created(Generic[M]):
    """A create's answer: the value, the status it is sent with (201 created, 200 a proposal),
    and whether it is the stored first answer replayed for a repeated Idempotency-Key."""

    value: M
    status: int = 201
    replayed: bool = False


def fingerprint(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


class Idempotency:
    """Runs a create once per (caller, key): the first answer is stored beside the change and
    every repeat of the same request gets it back; the same key with another request is refused.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def once(
        self,
        principal: Principal,
        key: str | None,
        payload: BaseModel,
        work: Callable[[UnitOfWork], Awaitable[Created[M]]],
        out: type[M],
    ) -> Created[M]:
        """Run `work` in one write unit; with a key, store its answer there and replay it later.

        `out` is the answer's model, to read a stored answer back. Raises IdempotencyMismatch (the
        key was used for another request) and whatever `work` raises."""
        # Without a key nothing is stored or compared: the request is not serialised again.
        print_ = fingerprint(payload.model_dump_json()) if key else ""

        async def attempt() -> Created[M]:
            async with self._store.write() as uow:
                if key:
                    stored = await uow.answers.get(_scope(principal), key)
                    if stored is not None:
                        return _replay(stored, print_, key, out)
                answer = await work(uow)
                if key:
                    await uow.answers.put(
                        _scope(principal),
                        key,
                        StoredAnswer(print_, answer.status, wire_json(answer.value)),
                        self._clock.now(),
                    )
                return answer

        try:
            return await retrying(attempt)
        except (BookingConflict, ClaimOverlap, DuplicateAnswer):
            if key:
                # A concurrent retry of the same request may have won: answer as it did.
                async with self._store.read() as uow:
                    stored = await uow.answers.get(_scope(principal), key)
                if stored is not None:
                    return _replay(stored, print_, key, out)
            raise


def _scope(principal: Principal) -> str:
    """Idempotency keys are the caller's own: one token's keys never answer for another's."""
    return f"{principal.role.value}:{principal.token_id}"


def _replay(stored: StoredAnswer, print_: str, key: str, out: type[M]) -> Created[M]:
    if stored.fingerprint != print_:
        raise IdempotencyMismatch(key)
    return Created(out.model_validate_json(stored.body), stored.status, replayed=True)
