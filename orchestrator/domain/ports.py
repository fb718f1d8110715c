"""What one use case needs of another, as small ports: the use case that needs it depends on the
port only, and the composition root passes the other use case in."""

from __future__ import annotations

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
