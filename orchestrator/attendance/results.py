"""Each site's verdict in a record not frozen yet, as the reports count it (their `LiveResults`
port): the live record, as the office reads it, in the rows the freeze writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from orchestrator.attendance.exports import site_results
from orchestrator.domain.models import Principal, Role
from orchestrator.store.base import SiteResult

if TYPE_CHECKING:
    from orchestrator.attendance.service import Attendance

_READER = Principal(role=Role.OFFICE, token_id="reports", label="reports")


class LiveRecordResults:
    """Reads a session's record as it stands (frozen or live) for the reports."""

    def __init__(self, attendance: Attendance) -> None:
        self._attendance = attendance

    async def results(self, session_id: str) -> Sequence[SiteResult]:
        return site_results(await self._attendance.record(session_id, _READER))
