"""`orchestrator db`: the database schema, and copies of a live SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from orchestrator.bootstrap import Container, upgrade_database
from orchestrator.cli.common import err, fail, global_options, run
from orchestrator.store.backup import BackupRefused, backup_sqlite, pg_dump_command, sqlite_file

app = typer.Typer(help="Database schema and backups.", no_args_is_help=True)


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
        creates=True,
    )
    err.print("database is up to date")


@app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where the copy goes (replaced if it exists)")],
) -> None:
    """Copy the SQLite database into FILE, consistently, also while `serve` is writing to it.

    For PostgreSQL it names the pg_dump command to use instead (docs/deploy.md)."""
    url = global_options.settings().resolved_database_url
    source = sqlite_file(url)
    if source is None:
        raise fail(
            "`db backup` copies SQLite databases only; back PostgreSQL up with pg_dump:\n"
            f"  {pg_dump_command(url, file)}\n"
            "(restore with pg_restore; see docs/deploy.md)"
        )
    if file.resolve() == source.resolve():
        raise fail("the copy cannot replace the database itself: name another file")
    with Progress(
        TextColumn("backing up"),
        BarColumn(),
        TaskProgressColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("backup", total=None)
        try:
            pages = backup_sqlite(
                source, file, lambda done, total: bar.update(task, completed=done, total=total)
            )
        except BackupRefused as exc:
            raise fail(exc.message) from None
        except (OSError, sqlite3.Error) as exc:
            raise fail(f"the copy could not be written to {file}: {exc}") from None
    err.print(f"database copied to {file} ({pages} pages)")
