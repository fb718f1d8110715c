"""`orchestrator report attendance|preparation` as a user runs it: a past session's frozen
record summed per site, region and in total, as a table, CSV, JSON and XLSX."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from orchestrator.attendance.sources import Observation
from orchestrator.bootstrap import build
from orchestrator.directory.loader import load_directory
from orchestrator.settings import Settings
from tests.builders import OFFICE, booking
from tests.conftest import EXAMPLE_DIRECTORY

runner = CliRunner()
START = datetime(2025, 10, 1, 1, 0, tzinfo=UTC)  # Wednesday 1 October 2025, 08:00 in Hà Nội


async def _held(url: str, data_dir: Path) -> None:
    """A past six-site meeting Hà Nội attended whole and the others missed, frozen."""
    c = build(Settings(data_dir=data_dir, database_url=url))
    try:
        await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
        request = booking(
            start=START, end=START + timedelta(hours=2), override_reason="entered afterwards"
        )
        answer = await c.bookings.book(request, OFFICE)
        assert answer.status == 201, answer.value
        session = answer.value
        assert session.room
        await c.attendance.ingest(
            [Observation("jitsi", "join", session.room, START, "k1", "ha-noi", "o1")]
        )
        await c.attendance.freeze(session.id)
    finally:
        await c.close()


def test_report_attendance_and_preparation(db_url: str, tmp_path: Path) -> None:
    from orchestrator.cli import app

    data_dir = tmp_path / "var"
    asyncio.run(_held(db_url, data_dir))
    base = ["--data-dir", str(data_dir), "--database-url", db_url, "report"]
    year = ["--from", "2025-09-01", "--to", "2026-08-31"]

    def cli(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, [*base, *args])
        return result.exit_code, result.stdout, result.stderr

    code, out, err = cli("attendance", *year, "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert body["from"] == "2025-09-01"
    assert {s["site_id"]: s["present"] for s in body["sites"]}["ha-noi"] == 1
    assert (body["totals"]["sessions"], body["totals"]["present"], body["totals"]["absent"]) == (
        6,
        1,
        5,
    )
    code, out, err = cli("attendance", *year, "--region", "dong-nam-bo", "--format", "csv")
    assert code == 0, err
    assert out.lstrip("\ufeff").splitlines()[1].startswith("tp-ho-chi-minh,dong-nam-bo,1,0,0,1,")
    code, out, _ = cli("attendance", *year, "--lang", "en")
    assert code == 0
    assert "Attendance rate" in out
    assert "ha-noi" in out
    xlsx = tmp_path / "year.xlsx"
    code, _, err = cli("attendance", *year, "--format", "xlsx", "--out", str(xlsx))
    assert code == 0, err
    assert load_workbook(xlsx).sheetnames == ["Điểm cầu", "Vùng", "Tổng"]
    code, out, err = cli("preparation", *year, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["due"] == 0  # a national meeting owes no documents
    code, _, err = cli("attendance", "--from", "2025-13-01", "--to", "2026-01-01")
    assert code == 2
    assert "not a date" in err
    code, _, err = cli("attendance", "--format", "xlsx")
    assert code == 2


def test_a_reversed_range_or_a_bad_booking_is_one_short_error(tmp_path: Path) -> None:
    """Refused input is said in a line per field, without a traceback, the value given or the
    validation library's links."""
    from orchestrator.cli import app

    base = ["--data-dir", str(tmp_path / "var")]
    for verb in ("attendance", "preparation"):
        result = runner.invoke(
            app, [*base, "report", verb, "--from", "2027-05-31", "--to", "2026-09-01"]
        )
        assert result.exit_code == 2, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "error: invalid report:" in result.stderr
        assert "'to' must not be before 'from'" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    result = runner.invoke(
        app,
        [
            *base,
            "sessions",
            "book",
            "--title",
            "x" * 2000,
            "--start",
            "2027-01-05T08:00",
            "--end",
            "2027-01-05T10:00",
            "--host-site",
            "ha-noi",
            "--chair-email",
            "not-an-email",
        ],
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: invalid booking:"
    assert "  title: String should have at most 500 characters" in lines
    assert any(line.startswith("  chair.email: ") for line in lines)
    assert "x" * 100 not in result.stderr
    assert "errors.pydantic.dev" not in result.stderr
