"""`orchestrator jobs`: what the scheduler will do next, and doing it now."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from orchestrator.bootstrap import Container
from orchestrator.cli.common import err, print_json, run, show

app = typer.Typer(help="The scheduler's work: what is due next.", no_args_is_help=True)


@app.command("list")
def jobs_list(
    hours: Annotated[int, typer.Option(help="Look this many hours ahead")] = 48,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the scheduler will do next, and why (transitions and reminders not done yet)."""

    async def work(c: Container) -> Any:
        return await c.lifecycle.pending(ahead=timedelta(hours=hours))

    due = run(work)
    if as_json:
        print_json(
            [{"at": d.at, "kind": d.kind, "session_id": d.session_id, "why": d.why} for d in due]
        )
        return
    table = Table("due (UTC)", "action", "session", "why")
    for d in due:
        table.add_row(f"{d.at:%Y-%m-%d %H:%M}", d.kind, d.session_id, d.why)
    show(table)


@app.command("run")
def jobs_run() -> None:
    """Do now whatever is due (what `serve` does on its schedule), then stop."""

    async def work(c: Container) -> int:
        return len(await c.lifecycle.tick())

    err.print(f"{run(work)} action(s) done")
