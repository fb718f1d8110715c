"""The preparation area of the store: documents sites submitted for their tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Submission:
    """A document a site submitted for a preparation task (the latest one counts)."""

    session_id: str
    task_id: str
    site_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    location: str
    submitted_at: datetime
    actor: str


class Submissions(Protocol):
    """Task submissions (`uow.preparation`); the documents themselves live in `Documents`.
    Database failures surface when the unit of work ends."""

    async def put_submission(self, submission: Submission) -> None:
        """Store the task's submission, replacing any earlier one."""
        ...

    async def get_submissions(self, session_id: str) -> dict[str, Submission]:
        """The session's submissions by task id."""
        ...
