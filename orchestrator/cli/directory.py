"""`orchestrator directory`: import and show regions, sites, coordinators and leader groups."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, err, print_json, run, show
from orchestrator.directory.loader import DirectoryFileError, load_directory

app = typer.Typer(help="Regions, sites, coordinators, leader groups.", no_args_is_help=True)


@app.command("import")
def directory_import(
    file: Annotated[Path, typer.Argument(help="Directory file (TOML), see docs/directory.md")],
) -> None:
    """Load or update regions, sites, coordinators, leader groups and policies (idempotent)."""
    try:
        directory = load_directory(file)
    except DirectoryFileError as exc:
        err.print(str(exc), highlight=False, markup=False)
        err.print(f"[bold red]error:[/] {len(exc.problems)} problem(s); nothing was imported")
        raise typer.Exit(1) from None

    async def work(c: Container) -> None:
        with (
            err.status(f"importing {len(directory.sites)} sites…", spinner="dots")
            if err.is_terminal
            else nullcontext()
        ):
            counts = await c.directory.apply(directory, cli_principal(), source=str(file))
        err.print(
            f"imported {counts.regions} regions, {counts.sites} sites, "
            f"{counts.leader_groups} leader groups, {counts.policies} policies from {file}"
        )

    run(work, creates=True)


@app.command("show")
def directory_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the directory."""

    async def work(c: Container) -> None:
        d = await c.directory.view(cli_principal())
        if as_json:
            print_json(d)
            return
        table = Table("site", "name", "region", "timezone", "coordinator")
        for s in d.sites:
            table.add_row(s.id, s.name, s.region or "", s.timezone, s.coordinator.email or "")
        show(table)
        err.print(f"{len(d.regions)} regions, {len(d.sites)} sites, {len(d.leader_groups)} groups")

    run(work)
