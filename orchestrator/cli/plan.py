"""`orchestrator plan`: a non-overlapping round of regional meetings, proposed or booked."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.table import Table

from orchestrator.booking.schemas import RegionalPlanOut, RegionalPlanRequest
from orchestrator.bootstrap import Container
from orchestrator.cli.common import aware, cli_principal, csv_list, fail, print_json, run, show
from orchestrator.domain.models import DEFAULT_TIMEZONE

app = typer.Typer(help="Plan rounds of sessions.", no_args_is_help=True)


@app.command("regional")
def plan_regional(
    regions: Annotated[list[str], typer.Option("--regions", help="Region ids, in order")],
    from_: Annotated[str, typer.Option("--from", help="Window start (ISO)")],
    to: Annotated[str, typer.Option("--to", help="Window end (ISO)")],
    duration: Annotated[int, typer.Option("--duration", help="Minutes per meeting")] = 180,
    groups: Annotated[
        list[str] | None, typer.Option("--groups", help="Leader groups joining all")
    ] = None,
    title: Annotated[str, typer.Option(help="Title prefix")] = "Giao ban vùng",
    commit: Annotated[bool, typer.Option("--commit", help="Book the plan (all or none)")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Propose (or with --commit book) one non-overlapping regional meeting per region."""
    try:
        req = RegionalPlanRequest.model_validate(
            {
                "regions": csv_list(regions),
                "from": aware(from_, DEFAULT_TIMEZONE, "--from"),
                "to": aware(to, DEFAULT_TIMEZONE, "--to"),
                "duration_minutes": duration,
                "leader_groups": csv_list(groups),
                "title": title,
                "commit": commit,
            }
        )
    except ValidationError as exc:
        raise fail(f"invalid plan:\n{exc}") from None

    async def work(c: Container) -> RegionalPlanOut:
        answer = await c.bookings.plan_regional(req, cli_principal())
        return answer.value

    plan = run(work)
    if as_json:
        print_json(plan)
        return
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    table = Table(
        "region",
        "host",
        "sites",
        "start",
        "end",
        title="committed" if plan.committed else "proposal",
    )
    for p in plan.proposals:
        table.add_row(
            p.region,
            p.host_site,
            str(len(p.sites)),
            f"{p.start.astimezone(zone):%a %Y-%m-%d %H:%M}",
            f"{p.end.astimezone(zone):%H:%M}",
        )
    show(table)
