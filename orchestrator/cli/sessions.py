"""`orchestrator sessions`: the booking use cases, one session at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from orchestrator.booking.schemas import (
    BookingOut,
    BookSessionRequest,
    SessionOut,
    UpdateSessionRequest,
)
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
    aware,
    cli_principal,
    csv_list,
    err,
    fail,
    invalid,
    print_json,
    run,
    show,
)
from orchestrator.domain.models import DEFAULT_TIMEZONE, SessionStatus
from orchestrator.store.base import SessionQuery

app = typer.Typer(help="Book, list, show, reschedule, cancel sessions.", no_args_is_help=True)


def session_table(sessions: list[SessionOut]) -> Table:
    table = Table(show_lines=False)
    table.add_column("id", no_wrap=True)
    for col in ("title", "kind", "start", "end", "sites", "status"):
        table.add_column(col)
    for s in sessions:
        table.add_row(
            s.id,
            s.title,
            s.kind.value,
            f"{s.start:%Y-%m-%d %H:%M}",
            f"{s.end:%H:%M} {s.timezone}",
            str(len(s.sites)),
            s.status.value,
        )
    return table


@app.command("book")
def sessions_book(
    title: Title = None,
    start: Annotated[
        str | None, typer.Option(help="Start, ISO (zone from --timezone if no offset)")
    ] = None,
    end: Annotated[str | None, typer.Option(help="End, ISO")] = None,
    host: Host = None,
    sites: Sites = None,
    chair_name: ChairName = None,
    chair_email: ChairEmail = None,
    groups: Groups = None,
    speaking: Speaking = None,
    kind: Kind = "national",
    region: Annotated[str | None, typer.Option(help="Region (regional sessions)")] = None,
    timezone: Annotated[str, typer.Option(help="Zone the session is shown in")] = DEFAULT_TIMEZONE,
    agenda: Agenda = "",
    provider: Provider = "static",
    buffer_before: BufferBefore = None,
    buffer_after: BufferAfter = None,
    skip_conflicting: Annotated[
        bool, typer.Option(help="Book the free sites, list the rest")
    ] = False,
    override_reason: Annotated[
        str | None, typer.Option(help="Book despite policy (audited)")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Booking as JSON (DESIGN 5.2 shape)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the booking as JSON")] = False,
) -> None:
    """Book a session across sites (all or nothing unless --skip-conflicting)."""
    required = {
        "--title": title,
        "--start": start,
        "--end": end,
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
        payload["conflict_policy"] = "skip_conflicting" if skip_conflicting else "all_or_nothing"
    try:
        req = BookSessionRequest.model_validate(payload)
    except ValidationError as exc:
        raise invalid("booking", exc) from None

    async def work(c: Container) -> BookingOut:
        answer = await c.bookings.book(req, cli_principal())
        return answer.value

    booked = run(work)
    if as_json:
        print_json(booked)
        return
    show(session_table([booked]))
    for s in booked.skipped:
        err.print(f"skipped {s.site_id}: held by {', '.join(c.session_id for c in s.conflicts)}")
    if booked.policy_overridden:
        err.print(f"policy overridden: {', '.join(booked.policy_overridden)}")
    print(booked.id)


@app.command("list")
def sessions_list(
    from_: Annotated[str | None, typer.Option("--from", help="Sessions ending after (ISO)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Sessions starting before (ISO)")] = None,
    region: Annotated[str | None, typer.Option(help="Region id")] = None,
    site: Annotated[str | None, typer.Option(help="Site id")] = None,
    status: Annotated[
        SessionStatus | None, typer.Option(help="scheduled, live, ended or cancelled")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List sessions, earliest first."""
    query = SessionQuery(
        start_from=aware(from_, DEFAULT_TIMEZONE, "--from") if from_ else None,
        start_to=aware(to, DEFAULT_TIMEZONE, "--to") if to else None,
        region=region,
        site=site,
        status=status,
        limit=limit,
    )

    async def work(c: Container) -> list[SessionOut]:
        return await c.bookings.list_sessions(query, cli_principal())

    sessions = run(work)
    if as_json:
        print_json([json.loads(s.model_dump_json()) for s in sessions])
    else:
        show(session_table(sessions))


@app.command("show")
def sessions_show(session_id: Annotated[str, typer.Argument(help="Session id")]) -> None:
    """Print one session as JSON, with each site's link and local time."""

    async def work(c: Container) -> SessionOut:
        return await c.bookings.get(session_id, cli_principal())

    print_json(run(work))


@app.command("reschedule")
def sessions_reschedule(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    start: Annotated[str | None, typer.Option(help="New start, ISO")] = None,
    end: Annotated[str | None, typer.Option(help="New end, ISO")] = None,
    timezone: Annotated[str, typer.Option(help="Zone for times without offset")] = DEFAULT_TIMEZONE,
    title: Annotated[str | None, typer.Option(help="New title")] = None,
    add_sites: Annotated[list[str] | None, typer.Option("--add-sites", help="Sites to add")] = None,
    remove_sites: Annotated[
        list[str] | None, typer.Option("--remove-sites", help="Sites to remove")
    ] = None,
    speaking: Annotated[
        list[str] | None,
        typer.Option("--speaking-sites", help="New list of sites that speak (replaces it)"),
    ] = None,
    host: Annotated[str | None, typer.Option("--host-site", help="New host site")] = None,
    agenda: Annotated[str | None, typer.Option(help="New agenda")] = None,
    chair_name: Annotated[str | None, typer.Option(help="New chair's name")] = None,
    chair_email: Annotated[str | None, typer.Option(help="New chair's email")] = None,
    buffer_before: Annotated[int | None, typer.Option(help="Minutes reserved before")] = None,
    buffer_after: Annotated[int | None, typer.Option(help="Minutes reserved after")] = None,
    override_reason: Annotated[
        str | None, typer.Option(help="Change despite policy (audited)")
    ] = None,
) -> None:
    """Move a session, change it, or add and remove sites (bound by the no-overlap rule)."""
    if chair_name and not chair_email:
        raise fail("--chair-name needs --chair-email (the chair is known by address)", code=2)
    try:
        req = UpdateSessionRequest.model_validate(
            {
                "start": aware(start, timezone, "--start") if start else None,
                "end": aware(end, timezone, "--end") if end else None,
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

    async def work(c: Container) -> SessionOut:
        return await c.bookings.update(session_id, req, cli_principal())

    show(session_table([run(work)]))


@app.command("cancel")
def sessions_cancel(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    reason: Annotated[str | None, typer.Option(help="Why (audited)")] = None,
) -> None:
    """Cancel a session and free its sites, groups and chair."""

    async def work(c: Container) -> SessionOut:
        return await c.bookings.cancel(session_id, cli_principal(), reason)

    show(session_table([run(work)]))
