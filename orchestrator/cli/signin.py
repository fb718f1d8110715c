"""`orchestrator signin`: a one-time link that signs a browser in as the office."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, err, run

app = typer.Typer(help="Sign-in links for the web pages.", no_args_is_help=True)


@app.command("link")
def signin_link(
    minutes: Annotated[
        int, typer.Option("--minutes", help="How long the link works (1-1440)", min=1, max=1440)
    ] = 15,
    next_path: Annotated[
        str, typer.Option("--next", help="The page to open after signing in")
    ] = "/office",
) -> None:
    """A one-time link that signs one browser in as the office; printed alone on stdout."""

    async def work(c: Container) -> str:
        link = await c.signin.once_link(
            minutes=minutes, actor=cli_principal().actor, next_path=next_path
        )
        err.print(f"one-time office sign-in link, valid {minutes} minutes, usable once")
        return link

    print(run(work))
