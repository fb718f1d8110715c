"""What one use case needs of another, as small ports: the use case that needs it depends on the
port only, and the composition root passes the other use case in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class RecordFreezer(Protocol):
    """Saves a session's attendance record once the session has ended (DESIGN 7)."""

    async def freeze(self, session_id: str) -> object:
        """Save the record of the ended session `session_id` and queue it, in the same
        transaction, for the chair's mail; later events are kept but no longer merged.

        Idempotent: once saved, a repeat (another instance, a retried tick) saves and queues
        nothing. Returns the record saved, which the caller may ignore. Raises `InvalidState`
        before the session has ended and `SessionNotFound` for a session that does not exist.
        """
        ...


@dataclass(frozen=True)
class LoggedEvents:
    """News that another instance logged attendance events of a session: their ids in the log
    run from `first` to `last` (rows of other writers may lie between)."""

    session_id: str
    first: int
    last: int


class ChangeFeed(Protocol):
    """How the instances sharing one database hear of the attendance events each of them logs,
    so that a live board open on any instance shows them at once (DESIGN 12).

    The telling half is the store's: `uow.attendance.announce(origin)` in the transaction that
    logs the events, heard only once it commits. This is the hearing half. The in-process feed
    (one instance, SQLite) hears nothing: the instance's own boards are fed directly.
    """

    @property
    def origin(self) -> str:
        """This instance's name in announcements: its own are not heard back."""
        ...

    async def follow(
        self, heard: Callable[[Sequence[LoggedEvents]], None], resync: Callable[[], None]
    ) -> None:
        """Hear other instances until cancelled: `heard(news)` for each announcement, and
        `resync()` once whenever some may have been missed (the feed's connection was lost and
        is back: boards read their whole log again). A lost database never ends it: it
        reconnects with backoff, logging each attempt. `heard` and `resync` must not block and
        raise nothing."""
        ...
