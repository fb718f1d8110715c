"""Turns, in this process, at claiming resources: one booking or change at a time per resource.

Rule 1 is kept by the database (an advisory lock per resource, then the exclusion constraint);
this only spares it a queue. When many requests race for one slot, each one that reaches the
advisory locks holds them while its answers travel back and forth, and every other one waits
behind it: 200 losers queued behind one another cost 200 round trips in a row. So a request
waits here while another request of this process has its turn on any of its resources, holding
no connection and no lock, and goes on to the locks only in a turn of its own.

A turn ends telling what it learned was committed (`Turn.held`): the claims of the booking it
committed, or those that refused it. A request that waited for it and wants any of those claims
over an overlapping time is refused with them at once, without asking the database again:
under a race, once the winner has committed, every request that waited is answered from memory.
Otherwise it looks at the database (`Store.peek`) before it takes its own turn. Across processes
the advisory locks still decide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.domain.errors import BookingConflict, Conflict


@dataclass(eq=False)
class Turn:
    """A request's turn on its resources, until `ClaimGate.leave`."""

    resources: tuple[str, ...]
    over: asyncio.Event = field(default_factory=asyncio.Event)
    held: Sequence[Conflict] = ()
    """Claims known committed when the turn ended: those it claimed, or those that refused it."""


class ClaimGate:
    """Who of this process is claiming which resources now."""

    def __init__(self) -> None:
        self._taken: dict[str, Turn] = {}

    def enter(self, resources: Iterable[str]) -> Turn | None:
        """The turn on every one of `resources`, or None when another request has one of them
        (then `wait` and try again). All or none: no deadlock."""
        wanted = tuple(dict.fromkeys(resources))
        if any(r in self._taken for r in wanted):
            return None
        turn = Turn(wanted)
        for r in wanted:
            self._taken[r] = turn
        return turn

    async def wait(self, resources: Iterable[str]) -> list[Turn]:
        """Until no turn holds any of `resources` (at once if none does): the turns waited for."""
        wanted = tuple(resources)
        ended: list[Turn] = []
        while True:
            turn = next((t for r in wanted if (t := self._taken.get(r)) is not None), None)
            if turn is None:
                return ended
            await turn.over.wait()
            ended.append(turn)

    @contextmanager
    def leaving_on_error(self, turn: Turn | None) -> Iterator[None]:
        """Leave `turn` (if any) when the block raises, telling the claims that refused it when
        it raises BookingConflict (they were read committed)."""
        try:
            yield
        except BookingConflict as exc:
            if turn is not None:
                self.leave(turn, exc.conflicts)
            raise
        except BaseException:
            if turn is not None:
                self.leave(turn)
            raise

    def leave(self, turn: Turn, held: Sequence[Conflict] = ()) -> None:
        """End `turn`, telling those who waited for it the claims `held` (see `Turn.held`)."""
        turn.held = held
        for r in turn.resources:
            if self._taken.get(r) is turn:
                del self._taken[r]
        turn.over.set()

    def busy(self) -> int:
        """Resources under a turn now (tests look)."""
        return len(self._taken)


def held_over(
    turns: Iterable[Turn],
    resources: Iterable[str],
    start: datetime,
    end: datetime,
    exclude_session: str | None = None,
) -> list[Conflict]:
    """The claims the `turns` told of on any of `resources` overlapping `start`-`end`, as the
    store's `claims.conflicts` would name them (another session's, not `exclude_session`'s)."""
    wanted = set(resources)
    out: dict[tuple[str, str], Conflict] = {}
    for turn in turns:
        for c in turn.held:
            if (
                c.resource in wanted
                and c.session_id != exclude_session
                and c.start < end
                and c.end > start
            ):
                out[(c.resource, c.session_id)] = c
    return list(out.values())
