"""`orchestrator invites`: each site's invite exported, its state, and delivery now."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, err, fail, print_json, run, show

app = typer.Typer(help="Per-site invites: export, state, delivery.", no_args_is_help=True)


@app.command("export")
def invites_export(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into (created)")],
) -> None:
    """Write each site's invite as <site>.ics and <site>.eml (the session as it is now)."""

    async def work(c: Container) -> dict[str, tuple[bytes, bytes]]:
        return await c.invites.export(session_id, cli_principal())

    files = run(work)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for site_id, (ics, eml) in files.items():
            (out_dir / f"{site_id}.ics").write_bytes(ics)
            (out_dir / f"{site_id}.eml").write_bytes(eml)
    except OSError as exc:
        raise fail(f"cannot write to {out_dir}: {exc}") from None
    err.print(f"wrote {len(files)} invites (.ics and .eml) to {out_dir}")


@app.command("status")
def invites_status(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Each site's invite: queued, sent or failed (with the reason), and its RSVP."""

    async def work(c: Container) -> Any:
        return await c.invites.status(session_id, cli_principal())

    status = run(work)
    if as_json:
        print_json(status)
        return
    table = Table("site", "method", "sequence", "state", "attempts", "rsvp", "error")
    for s in status.sites:
        table.add_row(
            s.site_id,
            s.method,
            str(s.sequence),
            s.state,
            str(s.attempts),
            s.rsvp,
            s.last_error or "",
        )
    show(table)
    if status.pending_changes:
        err.print(f"{status.pending_changes} change(s) still to deliver")


@app.command("send")
def invites_send(
    rounds: Annotated[int, typer.Option(help="At most this many delivery rounds")] = 100,
) -> None:
    """Deliver the queued invites now (what `serve` does in the background), then stop."""

    async def work(c: Container) -> int:
        total = 0
        with Progress(console=err, disable=not err.is_terminal, transient=True) as progress:
            task = progress.add_task("delivering invites", total=None)
            for _ in range(rounds):
                handled = await c.invites.deliver_due()
                if not handled:
                    break
                total += handled
                progress.update(task, advance=handled)
        return total

    err.print(f"handled {run(work)} queued change(s)")
