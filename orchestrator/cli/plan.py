"""`orchestrator plan`: a non-overlapping round of regional meetings, proposed or booked."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from pydantic import ValidationError
from rich.table import Table

from orchestrator.booking.schemas import RegionalPlanOut, RegionalPlanRequest
from orchestrator.bootstrap import Container
from orchestrator.cli.common import (
    aware,
    cli_principal,
    csv_list,
    fail,
    invalid,
    print_json,
    run,
    show,
)
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
    chairs: Annotated[
        list[str] | None,
        typer.Option(
            "--chair",
            help="A region's chair instead of the directory's: REGION=\"Name <email>\" "
            "(repeat for more regions)",
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", help="Zone of the window, the grid and the times shown")
    ] = DEFAULT_TIMEZONE,
    commit: Annotated[bool, typer.Option("--commit", help="Book the plan (all or none)")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Propose (or with --commit book) one non-overlapping regional meeting per region."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(f"unknown time zone: {timezone}", 2) from None
    try:
        req = RegionalPlanRequest.model_validate(
            {
                "regions": csv_list(regions),
                "from": aware(from_, timezone, "--from"),
                "to": aware(to, timezone, "--to"),
                "duration_minutes": duration,
                "leader_groups": csv_list(groups),
                "title": title,
                "timezone": timezone,
                "chairs": _chairs(chairs or []),
                "commit": commit,
            }
        )
    except ValidationError as exc:
        raise invalid("plan", exc) from None

    async def work(c: Container) -> RegionalPlanOut:
        answer = await c.bookings.plan_regional(req, cli_principal())
        return answer.value

    plan = run(work)
    if as_json:
        print_json(plan)
        return
    table = Table(
        "region",
        "host",
        "sites",
        "start",
        "end",
        "chair",
        title=f"{'committed' if plan.committed else 'proposal'} ({timezone})",
    )
    for p in plan.proposals:
        table.add_row(
            p.region,
            p.host_site,
            str(len(p.sites)),
            f"{p.start.astimezone(zone):%a %Y-%m-%d %H:%M}",
            f"{p.end.astimezone(zone):%H:%M}",
            f"{p.chair.name} <{p.chair.email}>\n{SOURCES[p.chair_source]}",
        )
    show(table)


SOURCES = {
    "directory": "the region's chair in the directory",
    "fallback": "no region chair in the directory: the head site's coordinator (--chair to change)",
    "request": "named with --chair",
}


def _chairs(given: list[str]) -> dict[str, dict[str, str]]:
    """`REGION="Name <email>"` options as the plan's `chairs`."""
    chairs: dict[str, dict[str, str]] = {}
    for item in given:
        region, _, who = item.partition("=")
        name, email = parseaddr(who)
        if not region.strip() or not email:
            raise fail(f'--chair wants REGION="Name <email>", not {item!r}', 2)
        chairs[region.strip()] = {"name": name or email, "email": email}
    return chairs
