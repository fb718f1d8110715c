"""What an attendance record says in words, in Vietnamese and English: the chair's summary line
and the column headers of its tables."""

from __future__ import annotations

from typing import Literal

from orchestrator.domain.errors import InvalidRequest

Language = Literal["vi", "en"]


def summary_line(
    language: Language,
    *,
    connected: int,
    total: int,
    late: int,
    left_early: int,
    unknown: int,
    unmatched: int,
) -> str:
    """The summary of `AttendanceRecord.summary` from its counts; raises `InvalidRequest` for a
    language other than vi or en."""
    words = _PHRASES.get(language)
    if words is None:
        raise InvalidRequest(f"no summary in {language!r} (use vi or en)", field="language")
    counts = {"late": late, "left_early": left_early, "unknown": unknown, "unmatched": unmatched}
    parts = [words["connected"].format(n=connected, total=total)]
    for key, n in counts.items():
        if n:
            parts.append(words[key].format(n=n, s="" if n == 1 else "s"))
    return ", ".join(parts)


_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "connected": "{n}/{total} sites connected",
        "late": "{n} late",
        "left_early": "{n} left early",
        "unknown": "{n} unknown",
        "unmatched": "{n} unmatched occupant{s}",
    },
    "vi": {
        "connected": "{n}/{total} điểm cầu đã kết nối",
        "late": "{n} vào muộn",
        "left_early": "{n} rời sớm",
        "unknown": "{n} chưa rõ",
        "unmatched": "{n} người không thuộc điểm cầu nào",
    },
}
# The record as a table (CSV, XLSX, the command line), one column per figure of a site's line.
CSV_HEADERS = {
    "vi": [
        "Điểm cầu",
        "Kết nối",
        "Đánh giá",
        "Muộn",
        "Về sớm",
        "Vào lúc",
        "Rời lúc",
        "Số phút kết nối",
        "Số lần kết nối lại",
        "Số người",
        "Đại biểu",
    ],
    "en": [
        "Site",
        "Connection",
        "Status",
        "Late",
        "Left early",
        "First join",
        "Last leave",
        "Connected minutes",
        "Reconnects",
        "Headcount",
        "Names",
    ],
}
