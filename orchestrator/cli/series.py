"""`orchestrator series`: the series use cases (DESIGN 10), with the verbs of `sessions`."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from orchestrator.booking.series.schemas import BookSeriesRequest, SeriesOut, UpdateSeriesRequest
from orchestrator.bootstrap import Container
from orchestrator.cli.booking_options import (
    Agenda,
    BufferAfter,
    BufferBefore,
    ChairEmail,
    ChairName,
    Groups,
    Host,
    Kind,
    Provider,
    Sites,
    Speaking,
    Title,
    booking_fields,
    read_body,
)
from orchestrator.cli.common import (
    cli_principal,
    csv_list,
    err,
    fail,
    invalid,
    print_json,
    run,
    show,
)
from orchestrator.domain.models import DEFAULT_TIMEZONE, SeriesStatus
from orchestrator.store.base import SeriesQuery

app = typer.Typer(
    help="Book, list, show, reschedule, cancel series: the same meeting on a rhythm.",
    no_args_is_help=True,
)


def series_table(found: list[SeriesOut]) -> Table:
    table = Table(show_lines=False)
    table.add_column("id", no_wrap=True)
    for col in ("title", "recurrence", "first", "occurrences", "skipped", "sites", "status"):
        table.add_column(col)
    for s in found:
        table.add_row(
            s.id,
            s.title,
            s.recurrence,
            f"{s.start:%Y-%m-%d %H:%M}-{s.end:%H:%M} {s.timezone}",
            str(len(s.occurrences)),
            str(len(s.skipped)),
            str(len(s.sites)),
            s.status.value,
        )
    return table


def occurrence_table(s: SeriesOut) -> Table:
    table = Table(show_lines=False)
    table.add_column("occurrence", no_wrap=True)
    for col in ("start", "end", "status", "session", "changed alone"):
        table.add_column(col)
    for o in s.occurrences:
        table.add_row(
            f"{o.occurrence:%Y-%m-%d %H:%M}",
            f"{o.start:%Y-%m-%d %H:%M}",
            f"{o.end:%H:%M}",
            o.status.value,
            o.session_id,
            ", ".join(o.changed),
        )
    return table


def _say_skipped(s: SeriesOut, *, skipped: bool = True) -> None:
    for k in s.skipped if skipped else ():
        why = (
            f"{k.rule}: {k.detail}"
            if k.rule
            else "held by "
            + ", ".join(
                dict.fromkeys(f"{c.resource} (session {c.session_id})" for c in k.conflicts)
            )
        )
        err.print(f"skipped {k.occurrence:%Y-%m-%d %H:%M}: {why}", highlight=False)
    if s.policy_overridden:
        err.print(f"policy overridden: {', '.join(s.policy_overridden)}")
    for w in s.overwritten:
        err.print(
            f"overwritten in the occurrence of {w.occurrence:%Y-%m-%d %H:%M}: {', '.join(w.fields)}"
        )


@app.command("book")
def series_book(
    title: Title = None,
    start: Annotated[
        str | None,
        typer.Option(help="The first occurrence's start, ISO (zone from --timezone if no offset)"),
    ] = None,
    end: Annotated[str | None, typer.Option(help="The first occurrence's end, ISO")] = None,
    recurrence: Annotated[
        str | None,
        typer.Option(help="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=TH;COUNT=8 (COUNT or UNTIL)"),
    ] = None,
    host: Host = None,
    sites: Sites = None,
    chair_name: ChairName = None,
    chair_email: ChairEmail = None,
    groups: Groups = None,
    speaking: Speaking = None,
    kind: Kind = "national",
    region: Annotated[str | None, typer.Option(help="Region (regional series)")] = None,
    timezone: Annotated[
        str, typer.Option(help="Zone the rule is expanded and shown in")
    ] = DEFAULT_TIMEZONE,
    agenda: Agenda = "",
    provider: Provider = "static",
    buffer_before: BufferBefore = None,
    buffer_after: BufferAfter = None,
    skip_conflicting_occurrences: Annotated[
        bool,
        typer.Option(help="Book the free occurrences that keep the policy, list the rest with why"),
    ] = False,
    override_reason: Annotated[
        str | None, typer.Option(help="Book every occurrence despite policy (audited)")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Series as JSON (DESIGN 5.2 shape plus `recurrence`)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the series as JSON")] = False,
) -> None:
    """Book every occurrence of a series (all or nothing unless --skip-conflicting-occurrences)."""
    required = {
        "--title": title,
        "--start": start,
        "--end": end,
        "--recurrence": recurrence,
        "--host-site": host,
        "--chair-email": chair_email,
    }
    payload = read_body(file, required)
    if payload is None:
        assert start is not None
        assert end is not None
        payload = booking_fields(
            title=title,
            agenda=agenda,
            kind=kind,
            region=region,
            start=start,
            end=end,
            timezone=timezone,
            host=host,
            sites=sites,
            chair_name=chair_name,
            chair_email=chair_email,
            groups=groups,
            speaking=speaking,
            provider=provider,
            buffer_before=buffer_before,
            buffer_after=buffer_after,
            override_reason=override_reason,
        )
        payload["recurrence"] = recurrence
        payload["conflict_policy"] = (
            "skip_conflicting_occurrences" if skip_conflicting_occurrences else "all_or_nothing"
        )
    try:
        req = BookSeriesRequest.model_validate(payload)
    except ValidationError as exc:
        raise invalid("series", exc) from None

    async def work(c: Container) -> SeriesOut:
        return (await c.bookings.series.book(req, cli_principal())).value

    booked = run(work)
    if as_json:
        print_json(booked)
        return
    show(series_table([booked]))
    _say_skipped(booked)
    print(booked.id)


@app.command("list")
def series_list(
    site: Annotated[str | None, typer.Option(help="Site id")] = None,
    status: Annotated[SeriesStatus | None, typer.Option(help="active, ended or cancelled")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List series, earliest first occurrence first."""
    query = SeriesQuery(site=site, status=status, limit=limit)

    async def work(c: Container) -> list[SeriesOut]:
        return await c.bookings.series.list_series(query, cli_principal())

    found = run(work)
    if as_json:
        print_json([json.loads(s.model_dump_json()) for s in found])
    else:
        show(series_table(found))


@app.command("show")
def series_show(
    series_id: Annotated[str, typer.Argument(help="Series id")],
    as_table: Annotated[
        bool, typer.Option("--table", help="Its occurrences as a table instead of JSON")
    ] = False,
) -> None:
    """Print one series as JSON: its occurrences (each a session) and the dates skipped."""

    async def work(c: Container) -> SeriesOut:
        return await c.bookings.series.get(series_id, cli_principal())

    found = run(work)
    if as_table:
        show(occurrence_table(found))
        _say_skipped(found)
    else:
        print_json(found)


@app.command("reschedule")
def series_reschedule(
    series_id: Annotated[str, typer.Argument(help="Series id")],
    start_time: Annotated[
        str | None,
        typer.Option(help="New local time of day (HH:MM, the series' zone) of every occurrence"),
    ] = None,
    duration: Annotated[
        int | None, typer.Option("--duration", help="New length of every occurrence (minutes)")
    ] = None,
    title: Annotated[str | None, typer.Option(help="New title")] = None,
    agenda: Annotated[str | None, typer.Option(help="New agenda")] = None,
    add_sites: Annotated[list[str] | None, typer.Option("--add-sites", help="Sites to add")] = None,
    remove_sites: Annotated[
        list[str] | None, typer.Option("--remove-sites", help="Sites to remove")
    ] = None,
    speaking: Annotated[
        list[str] | None,
        typer.Option("--speaking-sites", help="New list of sites that speak (replaces it)"),
    ] = None,
    host: Annotated[str | None, typer.Option("--host-site", help="New host site")] = None,
    chair_name: Annotated[str | None, typer.Option(help="New chair's name")] = None,
    chair_email: Annotated[str | None, typer.Option(help="New chair's email")] = None,
    buffer_before: Annotated[int | None, typer.Option(help="Minutes reserved before")] = None,
    buffer_after: Annotated[int | None, typer.Option(help="Minutes reserved after")] = None,
    override_reason: Annotated[
        str | None, typer.Option(help="Change despite policy (audited)")
    ] = None,
) -> None:
    """Change every occurrence not yet started, all or nothing, each checked."""
    if chair_name and not chair_email:
        raise fail("--chair-name needs --chair-email (the chair is known by address)", code=2)
    try:
        at = time.fromisoformat(start_time) if start_time else None
    except ValueError:
        raise fail(f"--start-time: {start_time!r} is not a time of day such as 09:00") from None
    try:
        req = UpdateSeriesRequest.model_validate(
            {
                "start_time": at,
                "duration_minutes": duration,
                "title": title,
                "agenda": agenda,
                "chair": {"name": chair_name or chair_email, "email": chair_email}
                if chair_email
                else None,
                "add_sites": csv_list(add_sites),
                "remove_sites": csv_list(remove_sites),
                "speaking_sites": csv_list(speaking) if speaking is not None else None,
                "host_site": host,
                "buffer_before_minutes": buffer_before,
                "buffer_after_minutes": buffer_after,
                "override_reason": override_reason,
            }
        )
    except ValidationError as exc:
        raise invalid("change", exc) from None

    async def work(c: Container) -> SeriesOut:
        return await c.bookings.series.update(series_id, req, cli_principal())

    changed = run(work)
    show(series_table([changed]))
    _say_skipped(changed, skipped=False)


@app.command("cancel")
def series_cancel(
    series_id: Annotated[str, typer.Argument(help="Series id")],
    reason: Annotated[str | None, typer.Option(help="Why (audited)")] = None,
) -> None:
    """Cancel every occurrence not yet started and free their sites, groups and chair."""

    async def work(c: Container) -> SeriesOut:
        return await c.bookings.series.cancel(series_id, cli_principal(), reason)

    show(series_table([run(work)]))
