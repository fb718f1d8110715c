"""The record as it leaves the service: the JSON the API answers, and the table, CSV and XLSX
made of it."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

import orjson
from pydantic import BaseModel, Field

from orchestrator.attendance.merge.record import (
    AttendanceRecord,
    SiteAttendance,
    UnmatchedOccupant,
)
from orchestrator.attendance.merge.wording import CSV_HEADERS
from orchestrator.domain.models import Session
from orchestrator.store.base import LinkOpening, SiteResult


class SiteRecordOut(BaseModel):
    site_id: str
    connection: str
    status: str
    measured_status: str
    late: bool
    left_early: bool
    first_join: datetime | None
    last_leave: datetime | None
    connected_minutes: float
    reconnects: int
    headcount: int | None
    names: list[str]
    override: dict[str, str] | None = None
    intervals: list[tuple[datetime, datetime]]
    link_opened_at: datetime | None = Field(
        default=None,
        description="When the site first opened its join gateway link inside this session's"
        " window (DESIGN 10; the chair's board says: opened the link at 07:58), else null",
    )


class UnmatchedOut(BaseModel):
    source: str
    occupant: str
    site_id: str | None
    name: str | None
    email: str | None
    connected_now: bool
    connected_minutes: float


class AttendanceOut(BaseModel):
    session_id: str
    title: str
    start: datetime
    end: datetime
    summary: str
    summary_en: str
    frozen_at: datetime | None = None
    late_events: int = Field(default=0, description="Events logged after the record was frozen")
    sites: list[SiteRecordOut]
    unmatched: list[UnmatchedOut]


def record_out(
    session: Session, rec: AttendanceRecord, *, frozen_at: datetime | None
) -> AttendanceOut:
    """`rec`, the record of `session`, as the API answers it."""
    return AttendanceOut(
        session_id=session.id,
        title=session.title,
        start=session.start,
        end=session.end,
        summary=rec.summary("vi"),
        summary_en=rec.summary("en"),
        frozen_at=frozen_at,
        sites=[site_out(s) for s in rec.sites],
        unmatched=[unmatched_out(u) for u in rec.unmatched],
    )


def first_openings(session_id: str, openings: Sequence[LinkOpening]) -> dict[str, datetime]:
    """Per site, when it first opened its gateway link and was let into `session_id`."""
    first: dict[str, datetime] = {}
    for o in openings:
        if o.outcome == "opened" and o.session_id == session_id:
            first[o.site_id] = min(o.at, first.get(o.site_id, o.at))
    return first


def with_openings(
    sites: Sequence[SiteRecordOut], first: dict[str, datetime]
) -> list[SiteRecordOut]:
    """`sites` with `link_opened_at` from `first` (see `first_openings`)."""
    return [
        s.model_copy(update={"link_opened_at": first[s.site_id]}) if s.site_id in first else s
        for s in sites
    ]


def with_link_openings(out: AttendanceOut, openings: Sequence[LinkOpening]) -> AttendanceOut:
    """`out` with each site's first opening of its gateway link that opened this session."""
    first = first_openings(out.session_id, openings)
    if not first:
        return out
    return out.model_copy(update={"sites": with_openings(out.sites, first)})


def site_out(s: SiteAttendance) -> SiteRecordOut:
    """One site's line as the API answers it (minutes to a tenth)."""
    return SiteRecordOut(
        site_id=s.site_id,
        connection=s.connection.value,
        status=s.status.value,
        measured_status=s.measured_status.value,
        late=s.late,
        left_early=s.left_early,
        first_join=s.first_join,
        last_leave=s.last_leave,
        connected_minutes=round(s.connected_minutes, 1),
        reconnects=s.reconnects,
        headcount=s.headcount,
        names=list(s.names),
        override=(
            {"verdict": s.override.verdict.value, "reason": s.override.reason}
            if s.override
            else None
        ),
        intervals=[(i.start, i.end) for i in s.intervals],
    )


def site_json(s: SiteAttendance, *, ascii: bool = False) -> str:
    """`site_out(s).model_dump_json()` (with `ascii`, its `ensure_ascii=True` form), made
    without the model: a live board makes a line's JSON for each site that changes, thousands
    a second under a flood (5 µs, against 13 through `SiteRecordOut`). orjson writes the same
    text as pydantic does (instants in UTC end in `Z`, six digits of microseconds when there
    are any); a line holding a letter beyond ASCII (a check-in's names, an override's reason),
    wanted in ASCII, is made by the model."""
    override = s.override
    made = orjson.dumps(
        {
            "site_id": s.site_id,
            "connection": s.connection.value,
            "status": s.status.value,
            "measured_status": s.measured_status.value,
            "late": s.late,
            "left_early": s.left_early,
            "first_join": s.first_join,
            "last_leave": s.last_leave,
            "connected_minutes": round(s.connected_minutes, 1),
            "reconnects": s.reconnects,
            "headcount": s.headcount,
            "names": s.names,
            "override": (
                {"verdict": override.verdict.value, "reason": override.reason} if override else None
            ),
            "intervals": [(i.start, i.end) for i in s.intervals],
            "link_opened_at": None,
        },
        option=orjson.OPT_UTC_Z,
    ).decode()
    if ascii and not made.isascii():
        return site_out(s).model_dump_json(ensure_ascii=True)
    return made


def unmatched_out(u: UnmatchedOccupant) -> UnmatchedOut:
    """One occupant of no site as the API answers it."""
    return UnmatchedOut(
        source=u.source.value,
        occupant=u.occupant,
        site_id=u.site_id,
        name=u.name,
        email=u.email,
        connected_now=u.connected_now,
        connected_minutes=round(u.connected_minutes, 1),
    )


def site_results(out: AttendanceOut) -> list[SiteResult]:
    """Each site's verdict in the record, as the reports sum them (DESIGN 11)."""
    return [
        SiteResult(
            session_id=out.session_id,
            site_id=s.site_id,
            status=s.status,
            late=s.late,
            left_early=s.left_early,
            connected_minutes=s.connected_minutes,
        )
        for s in out.sites
    ]


def rows(out: AttendanceOut) -> list[list[object]]:
    """The record as table rows (CSV, XLSX, the command line)."""
    return [
        [
            s.site_id,
            s.connection,
            s.status,
            s.late,
            s.left_early,
            s.first_join.isoformat() if s.first_join else "",
            s.last_leave.isoformat() if s.last_leave else "",
            s.connected_minutes,
            s.reconnects,
            "" if s.headcount is None else s.headcount,
            "; ".join(s.names),
        ]
        for s in out.sites
    ]


def to_csv(out: AttendanceOut, language: str = "vi") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADERS.get(language, CSV_HEADERS["vi"]))
    writer.writerows(rows(out))
    return ("\ufeff" + buffer.getvalue()).encode()  # the BOM lets spreadsheet apps see UTF-8


def to_xlsx(out: AttendanceOut, language: str = "vi") -> bytes:
    from openpyxl import Workbook  # imported when asked for: it is slow to import

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Điểm danh" if language == "vi" else "Attendance"
    sheet.append([out.title])
    sheet.append([out.summary if language == "vi" else out.summary_en])
    sheet.append([])
    sheet.append(CSV_HEADERS.get(language, CSV_HEADERS["vi"]))
    for row in rows(out):
        sheet.append([str(v) if isinstance(v, bool) else v for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
