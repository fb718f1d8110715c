"""`orchestrator db`: the database schema."""

from __future__ import annotations

import typer

from orchestrator.bootstrap import Container, upgrade_database
from orchestrator.cli.common import err, global_options, run

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (safe to run again)."""
    settings = global_options.settings()

    async def work(c: Container) -> None:
        await upgrade_database(c)

    run(
        work,
        settings.model_copy(
            update={"database": settings.database.model_copy(update={"auto_migrate": False})}
        ),
    )
    err.print("database is up to date")
