"""`orchestrator slots`: the earliest free common slots for sites and leader groups."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.table import Table

from orchestrator.booking.schemas import SlotQuery
from orchestrator.bootstrap import Container
from orchestrator.cli.common import (
    aware,
    cli_principal,
    csv_list,
    invalid,
    print_json,
    run,
    show,
)
from orchestrator.domain.models import DEFAULT_TIMEZONE

app = typer.Typer(help="Free common slots.", no_args_is_help=True)


@app.command("find")
def slots_find(
    duration: Annotated[int, typer.Option("--duration", help="Minutes")],
    from_: Annotated[str, typer.Option("--from", help="Window start (ISO)")],
    to: Annotated[str, typer.Option("--to", help="Window end (ISO)")],
    sites: Annotated[list[str] | None, typer.Option("--sites", help="Site ids")] = None,
    groups: Annotated[list[str] | None, typer.Option("--groups", help="Leader groups")] = None,
    kind: Annotated[str, typer.Option(help="Policy of this session kind")] = "national",
    limit: Annotated[int, typer.Option(help="How many")] = 10,
    timezone: Annotated[
        str, typer.Option(help="Zone to show and align slots in")
    ] = DEFAULT_TIMEZONE,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The earliest common free slots for sites and leader groups."""
    try:
        q = SlotQuery.model_validate(
            {
                "sites": csv_list(sites),
                "groups": csv_list(groups),
                "duration_minutes": duration,
                "from": aware(from_, timezone, "--from"),
                "to": aware(to, timezone, "--to"),
                "limit": limit,
                "kind": kind,
                "timezone": timezone,
            }
        )
    except ValidationError as exc:
        raise invalid("query", exc) from None

    async def work(c: Container) -> Any:
        return await c.bookings.find_slots(q, cli_principal())

    found = run(work)
    if as_json:
        print_json(found)
        return
    zone = ZoneInfo(timezone)
    table = Table("start", "end", title=f"free slots ({timezone})")
    for s in found.slots:
        table.add_row(
            f"{s.start.astimezone(zone):%a %Y-%m-%d %H:%M}", f"{s.end.astimezone(zone):%H:%M}"
        )
    show(table)
