"""`orchestrator report attendance|preparation`: the year's reports as a table, CSV, XLSX, JSON."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.progress import Progress
from rich.table import Table

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, err, fail, invalid, run, show
from orchestrator.reports.exports import (
    attendance_tables,
    attendance_xlsx,
    preparation_tables,
    preparation_xlsx,
    to_csv,
)
from orchestrator.reports.service import (
    AttendanceReportOut,
    PreparationQuery,
    PreparationReportOut,
    ReportQuery,
)

app = typer.Typer(
    help="Reports over a school year: attendance and preparation per site, region and in total."
)

M = TypeVar("M", bound=BaseModel)

From = Annotated[
    str | None,
    typer.Option("--from", help="First date, YYYY-MM-DD (default: 1 September of this year)"),
]
To = Annotated[str | None, typer.Option("--to", help="Last date, YYYY-MM-DD, inclusive")]
Zone = Annotated[str, typer.Option("--tz", help="The dates' time zone")]
Region = Annotated[str | None, typer.Option("--region", help="Only this region's sites")]
Format = Annotated[str, typer.Option("--format", help="table, csv, xlsx or json")]
Out = Annotated[Path | None, typer.Option("--out", help="Write to this file")]
Lang = Annotated[str, typer.Option("--lang", help="vi or en column headers")]


def _checked(fmt: str, out_file: Path | None) -> None:
    if fmt not in ("table", "csv", "xlsx", "json"):
        raise fail("--format is one of table, csv, xlsx, json", code=2)
    if fmt == "xlsx" and out_file is None:
        raise fail("--format xlsx needs --out FILE", code=2)


def _range(first: str | None, last: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in (("from", first), ("to", last)):
        if value is not None:
            try:
                values[name] = date.fromisoformat(value)
            except ValueError:
                raise fail(f"--{name} {value!r} is not a date (YYYY-MM-DD)", code=2) from None
    return values


def _slowly(work: Callable[[Container], Awaitable[M]], what: str) -> M:
    """`work`, with a progress bar on a terminal while it runs (a national year takes a while;
    the bar leaves nothing behind)."""

    async def shown(c: Container) -> M:
        with Progress(console=err, disable=not err.is_terminal, transient=True) as progress:
            progress.add_task(what, total=None)
            return await work(c)

    return run(shown)


def _emit(
    tables: dict[str, list[list[object]]],
    fmt: str,
    out_file: Path | None,
    json_text: str,
    xlsx: Callable[[], bytes],
) -> None:
    if fmt == "table":
        for name, rows in tables.items():
            table = Table(*(str(h) for h in rows[0]), title=name)
            for row in rows[1:]:
                table.add_row(*("" if v is None else str(v) for v in row))
            show(table)
        return
    data = (
        to_csv(tables) if fmt == "csv" else xlsx() if fmt == "xlsx" else json_text.encode() + b"\n"
    )
    if out_file is None:
        sys.stdout.buffer.write(data)
        return
    try:
        out_file.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {out_file}: {exc}") from None
    err.print(f"wrote {out_file}")


@app.command("attendance")
def report_attendance(
    first: From = None,
    last: To = None,
    tz: Zone = "Asia/Ho_Chi_Minh",
    region: Region = None,
    kind: Annotated[str | None, typer.Option("--kind", help="national or regional")] = None,
    series: Annotated[str | None, typer.Option("--series", help="One series' meetings")] = None,
    fmt: Format = "table",
    out_file: Out = None,
    language: Lang = "vi",
) -> None:
    """Which sites attend, come late or leave early, per site, region and in total."""
    _checked(fmt, out_file)
    try:
        query = ReportQuery.model_validate(
            {**_range(first, last), "tz": tz, "region": region, "kind": kind, "series": series}
        )
    except ValidationError as exc:
        raise invalid("report", exc, code=2) from None

    async def work(c: Container) -> AttendanceReportOut:
        return await c.reports.attendance(query, cli_principal())

    out = _slowly(work, "summing the year's attendance")
    _emit(
        attendance_tables(out, language),
        fmt,
        out_file,
        out.model_dump_json(by_alias=True, indent=2),
        lambda: attendance_xlsx(out, language),
    )
    if fmt == "table":
        err.print(f"{out.from_} - {out.to} ({out.tz})")


@app.command("preparation")
def report_preparation(
    first: From = None,
    last: To = None,
    tz: Zone = "Asia/Ho_Chi_Minh",
    region: Region = None,
    fmt: Format = "table",
    out_file: Out = None,
    language: Lang = "vi",
) -> None:
    """Which sites send their documents on time, late or not at all, over the tasks due."""
    _checked(fmt, out_file)
    try:
        query = PreparationQuery.model_validate({**_range(first, last), "tz": tz, "region": region})
    except ValidationError as exc:
        raise invalid("report", exc, code=2) from None

    async def work(c: Container) -> PreparationReportOut:
        return await c.reports.preparation(query, cli_principal())

    out = _slowly(work, "counting the year's preparation tasks")
    _emit(
        preparation_tables(out, language),
        fmt,
        out_file,
        out.model_dump_json(by_alias=True, indent=2),
        lambda: preparation_xlsx(out, language),
    )
    if fmt == "table":
        err.print(f"{out.from_} - {out.to} ({out.tz})")
