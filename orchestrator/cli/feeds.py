"""`orchestrator feeds`: a site's calendar subscription URL."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, run

app = typer.Typer(help="Per-site calendar subscription feeds.", no_args_is_help=True)


@app.command("create")
def feeds_create(site: Annotated[str, typer.Option("--site", help="Site id")]) -> None:
    """A new subscription URL for a site's calendar (the previous URL stops working)."""

    async def work(c: Container) -> str:
        return await c.invites.create_feed(site, cli_principal())

    print(run(work))
