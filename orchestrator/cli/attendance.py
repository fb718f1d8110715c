"""`orchestrator attendance`: a session's attendance record as a table, CSV, XLSX or JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.attendance.service import CSV_HEADERS, AttendanceOut, to_csv, to_xlsx
from orchestrator.attendance.service import rows as attendance_rows
from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, err, fail, run, show


def attendance_record(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv, xlsx or json")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file")] = None,
    language: Annotated[str, typer.Option("--lang", help="vi or en column headers")] = "vi",
    freeze: Annotated[
        bool, typer.Option("--freeze", help="Freeze the record of an ended session first")
    ] = False,
) -> None:
    """The attendance record of a session: which sites were there, late, gone early."""
    if fmt not in ("table", "csv", "xlsx", "json"):
        raise fail("--format is one of table, csv, xlsx, json", code=2)
    if fmt == "xlsx" and out_file is None:
        raise fail("--format xlsx needs --out FILE", code=2)

    async def work(c: Container) -> AttendanceOut:
        if freeze:
            return await c.attendance.freeze(session_id, cli_principal())
        return await c.attendance.record(session_id, cli_principal())

    out = run(work)
    if fmt == "table":
        table = Table(*CSV_HEADERS["en" if language == "en" else "vi"], title=out.title)
        for row in attendance_rows(out):
            table.add_row(*(str(v) for v in row))
        show(table)
        err.print(out.summary if language == "vi" else out.summary_en)
        return
    data: bytes
    if fmt == "csv":
        data = to_csv(out, language)
    elif fmt == "xlsx":
        data = to_xlsx(out, language)
    else:
        data = out.model_dump_json(indent=2).encode()
    if out_file is None:
        sys.stdout.buffer.write(data)
        return
    try:
        out_file.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {out_file}: {exc}") from None
    err.print(f"wrote {out_file}")
