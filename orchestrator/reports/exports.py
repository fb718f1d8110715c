"""The reports as they leave as files: CSV of the per-site table, XLSX with a sheet per table
(sites, regions, totals), headers in Vietnamese by default or English."""

from __future__ import annotations

import csv
import io

from orchestrator.reports.service import (
    AttendanceCounts,
    AttendanceReportOut,
    PreparationCounts,
    PreparationReportOut,
)

_ATTENDANCE = {
    "vi": [
        "Số phiên",
        "Có mặt",
        "Tham dự một phần",
        "Vắng",
        "Không rõ",
        "Vào muộn",
        "Rời sớm",
        "Số phút kết nối",
        "Tỷ lệ có mặt",
        "Chưa chốt",
    ],
    "en": [
        "Sessions",
        "Present",
        "Partial",
        "Absent",
        "Unknown",
        "Late",
        "Left early",
        "Connected minutes",
        "Attendance rate",
        "Provisional",
    ],
}
_PREPARATION = {
    "vi": ["Số nhiệm vụ đến hạn", "Đúng hạn", "Nộp muộn", "Chưa nộp", "Chưa đến hạn"],
    "en": ["Due", "On time", "Late", "Missing", "Open"],
}
_WORDS = {
    "vi": {
        "site": "Điểm cầu",
        "region": "Vùng",
        "sites": "Điểm cầu",
        "regions": "Vùng",
        "totals": "Tổng",
        "range": "Từ ngày {0} đến ngày {1} ({2})",
        "attendance": "Báo cáo điểm danh",
        "preparation": "Báo cáo chuẩn bị",
        "none": "(không thuộc vùng)",
    },
    "en": {
        "site": "Site",
        "region": "Region",
        "sites": "Sites",
        "regions": "Regions",
        "totals": "Totals",
        "range": "From {0} to {1} ({2})",
        "attendance": "Attendance report",
        "preparation": "Preparation report",
        "none": "(no region)",
    },
}


def _lang(language: str) -> str:
    return language if language in _WORDS else "vi"


def _attendance_cells(c: AttendanceCounts) -> list[object]:
    return [
        c.sessions,
        c.present,
        c.partial,
        c.absent,
        c.unknown,
        c.late,
        c.left_early,
        c.connected_minutes,
        "" if c.attendance_rate is None else c.attendance_rate,
        c.provisional,
    ]


def _preparation_cells(c: PreparationCounts) -> list[object]:
    return [c.due, c.on_time, c.late, c.missing, c.open]


def attendance_tables(
    out: AttendanceReportOut, language: str = "vi"
) -> dict[str, list[list[object]]]:
    """The report's three tables (sites, regions, totals) by their sheet name, headers first."""
    lang = _lang(language)
    w = _WORDS[lang]
    head = _ATTENDANCE[lang]
    return {
        w["sites"]: [
            [w["site"], w["region"], *head],
            *([s.site_id, s.region or w["none"], *_attendance_cells(s)] for s in out.sites),
        ],
        w["regions"]: [
            [w["region"], *head],
            *([r.region or w["none"], *_attendance_cells(r)] for r in out.regions),
        ],
        w["totals"]: [list[object](head), _attendance_cells(out.totals)],
    }


def preparation_tables(
    out: PreparationReportOut, language: str = "vi"
) -> dict[str, list[list[object]]]:
    """As `attendance_tables`, for the preparation report."""
    lang = _lang(language)
    w = _WORDS[lang]
    head = _PREPARATION[lang]
    return {
        w["sites"]: [
            [w["site"], w["region"], *head],
            *([s.site_id, s.region or w["none"], *_preparation_cells(s)] for s in out.sites),
        ],
        w["regions"]: [
            [w["region"], *head],
            *([r.region or w["none"], *_preparation_cells(r)] for r in out.regions),
        ],
        w["totals"]: [list[object](head), _preparation_cells(out.totals)],
    }


def to_csv(tables: dict[str, list[list[object]]]) -> bytes:
    """The per-site table (the first) as CSV, with a BOM so spreadsheet apps see UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(next(iter(tables.values())))
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(tables: dict[str, list[list[object]]], title: str, subtitle: str) -> bytes:
    """A workbook with a sheet per table, each under the report's title and range."""
    from openpyxl import Workbook  # imported when asked for: it is slow to import

    book = Workbook()
    default = book.active
    assert default is not None
    book.remove(default)
    for name, rows in tables.items():
        sheet = book.create_sheet(name[:31])
        sheet.append([title])
        sheet.append([subtitle])
        sheet.append([])
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def attendance_xlsx(out: AttendanceReportOut, language: str = "vi") -> bytes:
    w = _WORDS[_lang(language)]
    return to_xlsx(
        attendance_tables(out, language),
        w["attendance"],
        w["range"].format(out.from_.isoformat(), out.to.isoformat(), out.tz),
    )


def preparation_xlsx(out: PreparationReportOut, language: str = "vi") -> bytes:
    w = _WORDS[_lang(language)]
    return to_xlsx(
        preparation_tables(out, language),
        w["preparation"],
        w["range"].format(out.from_.isoformat(), out.to.isoformat(), out.tz),
    )
