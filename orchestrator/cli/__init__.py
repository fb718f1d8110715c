"""The `orchestrator` command: one verb per use case, all wired through `bootstrap.build`.

This module owns the root command, its global options and the one table of verbs; each verb group
lives in its own module, and what they share in `common`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import (
    attendance,
    audit,
    check,
    db,
    demo,
    directory,
    feeds,
    invites,
    jobs,
    plan,
    report,
    series,
    serve,
    sessions,
    signin,
    slots,
    tokens,
)
from orchestrator.cli.common import global_options

app = typer.Typer(
    help="Video-conference session orchestrator: book multi-site online meetings that never "
    "overlap, with per-site links, invites and attendance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# The order here is the order of `orchestrator --help`: verbs first, then the groups.
app.command()(serve.serve)
app.command()(demo.demo)
app.command("check")(check.check)
app.command("attendance")(attendance.attendance_record)
app.command("audit")(audit.audit)
app.add_typer(db.app, name="db")
app.add_typer(directory.app, name="directory")
app.add_typer(sessions.app, name="sessions")
app.add_typer(series.app, name="series")
app.add_typer(slots.app, name="slots")
app.add_typer(plan.app, name="plan")
app.add_typer(report.app, name="report")
app.add_typer(tokens.app, name="tokens")
app.add_typer(invites.app, name="invites")
app.add_typer(feeds.app, name="feeds")
app.add_typer(jobs.app, name="jobs")
app.add_typer(signin.app, name="signin")


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Settings file (default ./orchestrator.toml if present)"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", envvar="ORCH_DATA_DIR", help="SQLite database and uploads [./var]"
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="ORCH_DATABASE_URL",
            help="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db [SQLite in data dir]",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more")] = False,
) -> None:
    global_options.config, global_options.data_dir = config, data_dir
    global_options.database_url, global_options.verbose = database_url, verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("orchestrator").setLevel(logging.DEBUG if verbose else logging.INFO)


def main() -> None:
    app()
