"""`orchestrator audit`: the audit log, newest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, run, show


def audit(
    target: Annotated[str | None, typer.Option(help="e.g. session:<id>")] = None,
    limit: Annotated[int, typer.Option(help="How many")] = 50,
) -> None:
    """Print the audit log, newest first: who, when, what, why."""

    async def work(c: Container) -> None:
        table = Table("at", "actor", "action", "target", "reason")
        for e in await c.access.audit_log(cli_principal(), target=target, limit=limit):
            table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target, e.reason or "")
        show(table)

    run(work)
