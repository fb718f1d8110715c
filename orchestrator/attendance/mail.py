"""The frozen attendance records as the chair's mail shows them (the `RecordMailParts` port)."""

from __future__ import annotations

from orchestrator.attendance.exports import AttendanceOut, to_csv
from orchestrator.domain.outbox import RecordLine, RecordMail
from orchestrator.store.base import Store


class StoredRecordMailParts:
    """Reads a session's frozen record from the store for its mail: summary, lines, CSV."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def mail_parts(self, session_id: str) -> RecordMail | None:
        async with self._store.read() as uow:
            stored = await uow.attendance.get_record(session_id)
        if stored is None:
            return None
        record = AttendanceOut.model_validate_json(stored[1])
        return RecordMail(
            summary=record.summary,
            summary_en=record.summary_en,
            sites=tuple(
                RecordLine(s.site_id, s.status, s.late, s.left_early, s.connected_minutes)
                for s in record.sites
            ),
            csv=to_csv(record),
        )
