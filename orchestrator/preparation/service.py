"""Preparation use cases: who owes which document when, uploads, and the board of what is late."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import PurePath

from pydantic import BaseModel

from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import InvalidRequest, NotFound, PermissionDenied, SessionNotFound
from orchestrator.domain.models import Principal, Role, Session, SessionKind, may_see
from orchestrator.domain.text import storable, unstorable
from orchestrator.preparation.rules import TaskDue, TaskRule, rules_for, status_of, tasks_for
from orchestrator.store.base import Documents, Store, Submission

ALLOWED_SUFFIXES = frozenset(
    {
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        ".txt",
        ".zip",
    }
)


class TaskOut(BaseModel):
    id: str
    kind: str
    site_id: str
    title_vi: str
    title_en: str
    due: datetime
    zone: str
    status: str
    submitted_at: datetime | None = None
    filename: str | None = None
    size: int | None = None
    # How the due date came about, so pages can say it in words: the rule (`days` counted
    # `counting` days `anchor` the meeting), the date it counted and the date it is due.
    anchor: str | None = None
    days: int | None = None
    counting: str | None = None
    counted_date: date | None = None
    due_date: date | None = None


class BoardOut(BaseModel):
    session_id: str
    tasks: list[TaskOut]
    late: int
    outstanding: int


OCTET_STREAM = "application/octet-stream"
MAX_MEDIA_TYPE = 200  # the submissions table's column
# A media type's name (RFC 6838 restricted names), short enough for the submissions table.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def media_type(value: str | None) -> str:
    """The bare media type a client named (no parameters), or application/octet-stream when it
    named none or something that is not one: the type only describes the document, whose
    suffix is what is checked, so a strange one is no reason to refuse it."""
    kind = (value or "").partition(";")[0].strip().lower()
    return kind if len(kind) <= MAX_MEDIA_TYPE and _MEDIA_TYPE.fullmatch(kind) else OCTET_STREAM


class Preparation:
    """Preparation tasks of sessions: the board and the submissions."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        documents: Documents,
        max_bytes: int = 20 * 1024 * 1024,
        rules: Mapping[SessionKind, Sequence[TaskRule]] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._documents = documents
        self._max = max_bytes
        self._rules = dict(rules or {})

    def _rules_of(self, kind: SessionKind) -> dict[str, TaskRule]:
        return {r.kind: r for r in rules_for(kind, self._rules)}

    async def _tasks(self, session_id: str, principal: Principal) -> tuple[Session, list[TaskDue]]:
        async with self._store.read() as uow:
            session = await uow.sessions.get(session_id)
            if session is None:
                raise SessionNotFound(session_id)
            sites = await uow.directory.get_sites(list(session.site_ids))
            regions = {r.id: r for r in await uow.directory.list_regions()}
        if not may_see(principal, session):
            raise SessionNotFound(session_id)
        region = regions.get(session.region or "")
        head = region.head_site if region and region.head_site in session.site_ids else None
        return session, tasks_for(session, sites, head, rules_for(session.kind, self._rules))

    async def board(self, session_id: str, principal: Principal) -> BoardOut:
        """Every task with its state; a coordinator sees their own site's."""
        session, tasks = await self._tasks(session_id, principal)
        async with self._store.read() as uow:
            submissions = await uow.preparation.get_submissions(session_id)
        now = self._clock.now()
        out: list[TaskOut] = []
        rules = self._rules_of(session.kind)
        for task in tasks:
            rule = rules.get(task.kind)
            if principal.role is Role.COORDINATOR and task.site_id != principal.site_id:
                continue
            sub = submissions.get(task.id)
            out.append(
                TaskOut(
                    id=task.id,
                    kind=task.kind,
                    site_id=task.site_id,
                    title_vi=task.title_vi,
                    title_en=task.title_en,
                    due=task.due,
                    zone=task.zone,
                    status=status_of(task, sub.submitted_at if sub else None, now).value,
                    submitted_at=sub.submitted_at if sub else None,
                    filename=sub.filename if sub else None,
                    size=sub.size if sub else None,
                    anchor=task.anchor.value,
                    days=rule.days if rule else None,
                    counting=rule.counting.value if rule else None,
                    counted_date=task.rolled_from or task.due_date,
                    due_date=task.due_date,
                )
            )
        return BoardOut(
            session_id=session.id,
            tasks=out,
            late=sum(1 for t in out if t.status in ("overdue", "late")),
            outstanding=sum(1 for t in out if t.submitted_at is None),
        )

    async def submit(
        self,
        session_id: str,
        task_id: str,
        filename: str,
        content_type: str,
        data: bytes,
        principal: Principal,
    ) -> TaskOut:
        """Store a site's document for a task (a newer one replaces it). Raises InvalidRequest
        for a file name that is missing or cannot be stored (`field` "filename"), an empty, too
        large or unexpected file, PermissionDenied for another site's task. `content_type` is
        what the client said, kept as a bare media type (application/octet-stream when it is
        not one)."""
        if not filename:
            raise InvalidRequest(
                "the document needs its file name", field="filename", reason="file_unnamed"
            )
        if unstorable(filename):
            raise InvalidRequest(
                "the file name holds a character that cannot be stored (NUL or undecodable bytes)",
                field="filename",
                reason="file_name_bad",
                values={"name": storable(filename)},
            )
        content_type = media_type(content_type)
        _, tasks = await self._tasks(session_id, principal)
        task = next((t for t in tasks if t.id == task_id), None)
        if task is None:
            raise NotFound("task", task_id)
        if principal.role is Role.CHAIR or (
            principal.role is Role.COORDINATOR and principal.site_id != task.site_id
        ):
            raise PermissionDenied("only the site that owes the document (or the office)")
        suffix = PurePath(filename).suffix.lower()
        if suffix not in ALLOWED_SUFFIXES:
            raise InvalidRequest(
                f"{filename!r}: send a document ({', '.join(sorted(ALLOWED_SUFFIXES))})",
                field="file",
                reason="file_type",
                values={"name": filename, "suffixes": ", ".join(sorted(ALLOWED_SUFFIXES))},
            )
        if not data:
            raise InvalidRequest(
                "the file is empty", field="file", reason="file_empty", values={"name": filename}
            )
        if len(data) > self._max:
            raise InvalidRequest(
                f"the file is {len(data)} bytes; at most {self._max} are accepted",
                field="file",
                reason="file_too_large",
                values={"size": len(data), "limit": self._max},
            )
        digest = hashlib.sha256(data).hexdigest()
        location = await self._documents.save(
            f"{session_id}/{task_id.replace(':', '_')}", f"{digest[:12]}-{filename}", data
        )
        now = self._clock.now()
        submission = Submission(
            session_id,
            task_id,
            task.site_id,
            PurePath(filename).name[:255],
            content_type,
            len(data),
            digest,
            location,
            now,
            principal.actor,
        )
        async with self._store.write() as uow:
            await uow.preparation.put_submission(submission)
            await uow.audit.record(
                at=now,
                actor=principal.actor,
                action="task.submit",
                target=f"session:{session_id}",
                detail={"task": task_id, "file": submission.filename, "size": len(data)},
            )
        return TaskOut(
            id=task.id,
            kind=task.kind,
            site_id=task.site_id,
            title_vi=task.title_vi,
            title_en=task.title_en,
            due=task.due,
            zone=task.zone,
            status=status_of(task, now, now).value,
            submitted_at=now,
            filename=submission.filename,
            size=len(data),
        )


__all__ = ["BoardOut", "Preparation", "TaskOut"]
