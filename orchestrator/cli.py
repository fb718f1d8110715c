"""The `orchestrator` command: one verb per use case, all wired through `bootstrap.build`."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from connectors.base import ConnectorError
from orchestrator.attendance.service import CSV_HEADERS, AttendanceOut, to_csv, to_xlsx
from orchestrator.attendance.service import rows as attendance_rows
from orchestrator.booking.schemas import (
    BookingOut,
    BookSessionRequest,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionOut,
    SlotQuery,
    UpdateSessionRequest,
)
from orchestrator.bootstrap import Container, build, build_scheduler, upgrade_database
from orchestrator.directory.loader import DirectoryFileError, load_directory
from orchestrator.domain.errors import BookingConflict, OrchestratorError, PolicyViolation
from orchestrator.domain.models import DEFAULT_TIMEZONE, Principal, Role, SessionStatus
from orchestrator.settings import Settings, load_settings
from orchestrator.store.base import RetryableStoreError, SessionQuery

T = TypeVar("T")

app = typer.Typer(
    help="Video-conference session orchestrator: book multi-site online meetings that never "
    "overlap, with per-site links, invites and attendance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
directory_app = typer.Typer(
    help="Regions, sites, coordinators, leader groups.", no_args_is_help=True
)
sessions_app = typer.Typer(
    help="Book, list, show, reschedule, cancel sessions.", no_args_is_help=True
)
slots_app = typer.Typer(help="Free common slots.", no_args_is_help=True)
plan_app = typer.Typer(help="Plan rounds of sessions.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (office, chair, coordinator).", no_args_is_help=True)
invites_app = typer.Typer(help="Per-site invites: export, state, delivery.", no_args_is_help=True)
feeds_app = typer.Typer(help="Per-site calendar subscription feeds.", no_args_is_help=True)
signin_app = typer.Typer(help="Sign-in links for the web pages.", no_args_is_help=True)
jobs_app = typer.Typer(help="The scheduler's work: what is due next.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(directory_app, name="directory")
app.add_typer(sessions_app, name="sessions")
app.add_typer(slots_app, name="slots")
app.add_typer(plan_app, name="plan")
app.add_typer(tokens_app, name="tokens")
app.add_typer(invites_app, name="invites")
app.add_typer(feeds_app, name="feeds")
app.add_typer(jobs_app, name="jobs")
app.add_typer(signin_app, name="signin")

out = Console()
err = Console(stderr=True, soft_wrap=True)


@dataclass
class Globals:
    config: Path | None
    data_dir: Path | None
    database_url: str | None
    verbose: bool = False

    def settings(self, **server: Any) -> Settings:
        try:
            settings = load_settings(
                self.config, data_dir=self.data_dir, database_url=self.database_url
            )
        except FileNotFoundError as exc:
            fail(str(exc), code=2)
        except ValidationError as exc:
            fail(f"invalid settings:\n{exc}", code=2)
        if server:
            settings = settings.model_copy(
                update={"server": settings.server.model_copy(update=server)}
            )
        return settings


_globals = Globals(None, None, None)


def show(table: Table) -> None:
    """Print a table; piped output gets room enough not to fold ids and times."""
    Console(width=None if out.is_terminal else 200).print(table)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def cli_principal() -> Principal:
    """The local command line acts as the office (it has the database itself)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "local"
    return Principal(role=Role.OFFICE, token_id="cli", label=f"cli:{user}")


def report(exc: OrchestratorError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
    if isinstance(exc, BookingConflict):
        for c in exc.conflicts:
            err.print(f"  {c.resource}: held by session {c.session_id} ({c.start} - {c.end})")
    if isinstance(exc, PolicyViolation):
        for b in exc.breaches:
            err.print(f"  {b.rule}: {b.detail}")
    raise typer.Exit(1)


async def _open(settings: Settings) -> Container:
    container = build(settings)
    if settings.database.auto_migrate:
        await upgrade_database(container)
    return container


def run(work: Callable[[Container], Awaitable[T]], settings: Settings | None = None) -> T:
    """Open the service's parts, run `work`, close them; errors become messages and exit codes."""

    settings = settings or _globals.settings()
    if not _globals.verbose:
        logging.getLogger("orchestrator").setLevel(settings.log_level.upper())

    async def main() -> T:
        assert settings is not None
        container = await _open(settings)
        try:
            return await work(container)
        finally:
            await container.close()

    try:
        return asyncio.run(main())
    except OrchestratorError as exc:
        raise report(exc) from None
    except ValidationError as exc:
        raise fail(f"invalid input:\n{exc}") from None
    except ConnectorError as exc:
        raise fail(str(exc)) from None
    except BrokenPipeError:
        raise typer.Exit(0) from None  # the reader went away (| head): nothing to say
    except RetryableStoreError as exc:
        raise fail(f"the database is busy, try again: {exc}") from None
    except DBAPIError as exc:
        raise fail(f"database error: {exc.orig}") from None
    except OSError as exc:  # refused connections, unknown hosts, unwritable data directories
        raise fail(f"cannot reach the database or the data directory: {exc}") from None


def aware(value: str, zone: str, what: str) -> datetime:
    """An ISO time; without an offset it is read in `zone`."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{what}: {value!r} is not an ISO date-time such as 2026-12-10T08:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))


def csv_list(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def print_json(model: BaseModel | dict[str, Any] | list[Any]) -> None:
    text = (
        model.model_dump_json(indent=2)
        if isinstance(model, BaseModel)
        else json.dumps(model, indent=2, ensure_ascii=False, default=str)
    )
    print(text)


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


# global options --------------------------------------------------------------------------


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
    _globals.config, _globals.data_dir, _globals.database_url = config, data_dir, database_url
    _globals.verbose = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("orchestrator").setLevel(logging.DEBUG if verbose else logging.INFO)


# serve and demo --------------------------------------------------------------------------

HostOpt = Annotated[str | None, typer.Option("--host", help="Listen address [127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Listen port [8080]")]


def _server_overrides(host: str | None, port: int | None) -> dict[str, Any]:
    return {k: v for k, v in {"host": host, "port": port}.items() if v is not None}


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the HTTP service (API and webhooks) until interrupted."""
    from orchestrator.web.server import serve as serve_http

    settings = _globals.settings(**_server_overrides(host, port))

    async def work(c: Container) -> None:
        await serve_http(
            c,
            settings.server.host,
            settings.server.port,
            on_ready=lambda url: err.print(f"orchestrator listening on {url} (Ctrl-C stops)"),
            background=[build_scheduler(c)],
        )

    run(work, settings)


DEMO_TITLE = "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT (demo)"
DEMO_SITES = ["ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "nghe-an"]


def find_example_directory() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        candidate = base / "config" / "directory.example.toml"
        if candidate.is_file():
            return candidate
    raise fail("config/directory.example.toml not found: run the demo from the project folder")


@app.command()
def demo(host: HostOpt = None, port: PortOpt = None) -> None:
    """Load the six 2013 bridge sites, book a six-site session soon, and serve it."""
    from orchestrator.web.server import serve as serve_http

    settings = _globals.settings(**_server_overrides(host, port))
    path = find_example_directory()
    try:
        directory = load_directory(path)
    except DirectoryFileError as exc:
        raise fail(str(exc)) from None
    office = cli_principal()

    async def work(c: Container) -> None:
        await c.directory.apply(directory, actor=office.actor, source=str(path))
        now = c.clock.now()
        existing = [
            s
            for s in await c.bookings.list_sessions(
                SessionQuery(start_from=now, site="ha-noi", limit=50), office
            )
            if s.title == DEMO_TITLE and s.status is not SessionStatus.CANCELLED
        ]
        if existing:
            session: SessionOut = existing[0]
        else:
            slots = await c.bookings.find_slots(
                SlotQuery(
                    sites=DEMO_SITES,
                    groups=["lanh-dao-bo"],
                    duration_minutes=180,
                    from_=now + timedelta(hours=1),
                    to=now + timedelta(days=30),
                    limit=1,
                ),
                office,
            )
            if not slots.slots:
                raise fail("no free slot in the next 30 days for the demo session")
            slot = slots.slots[0]
            answer = await c.bookings.book(
                BookSessionRequest(
                    title=DEMO_TITLE,
                    agenda="Các điểm cầu lần lượt báo cáo; công bố khen thưởng.",
                    start=slot.start,
                    end=slot.end,
                    host_site="ha-noi",
                    sites=DEMO_SITES,
                    chair={
                        "name": "Chánh Văn phòng Bộ",
                        "email": "chanh.vanphong@moet.example.org",
                    },
                    leader_groups=["lanh-dao-bo"],
                ),
                office,
            )
            session = BookingOut.model_validate_json(answer.body)
        office_token = await c.access.create_token(Role.OFFICE, label="demo office")
        chair_token = await c.access.create_token(
            Role.CHAIR, email=session.chair.email, label="demo chair"
        )
        coord_token = await c.access.create_token(
            Role.COORDINATOR, site_id="da-nang", label="demo coordinator"
        )

        ends = session.end + timedelta(days=30)
        pages = {
            "office": await c.signin.once_link(minutes=24 * 60, next_path="/office"),
            "coordinator": await c.signin.page_link(
                role=Role.COORDINATOR,
                site_id="da-nang",
                next_path=f"/site/sessions/{session.id}",
                until=ends,
            ),
            "chair": await c.signin.page_link(
                role=Role.CHAIR,
                email=session.chair.email,
                next_path=f"/chair/sessions/{session.id}",
                until=ends,
            ),
        }

        def ready(url: str) -> None:
            base = url
            configured = settings.server.base_url.rstrip("/")
            err.print(f"\n[bold]Demo ready[/] – session {session.id}")
            err.print(f"  {session.title}")
            err.print(f"  {session.start:%Y-%m-%d %H:%M}–{session.end:%H:%M} {session.timezone}\n")
            err.print("  Pages (open in a browser):")
            err.print(f"    office (one-time):   {pages['office'].replace(configured, base)}")
            err.print(f"    da-nang coordinator: {pages['coordinator'].replace(configured, base)}")
            err.print(f"    chair's board:       {pages['chair'].replace(configured, base)}\n")
            err.print(f"  health:      {base}/healthz")
            err.print(f"  API spec:    {base}/openapi.json")
            err.print(f"  metrics:     {base}/metrics")
            err.print(f"  office token:      {office_token.token}")
            err.print(f"  chair token:       {chair_token.token}")
            err.print(f"  da-nang coordinator token: {coord_token.token}\n")
            err.print("  Try:")
            err.print(
                f'    curl -H "Authorization: Bearer {office_token.token}" '
                f"{base}/api/sessions/{session.id}"
            )
            err.print(
                f'    curl -H "Authorization: Bearer {office_token.token}" '
                f'"{base}/api/slots?sites=ha-noi,da-nang&groups=lanh-dao-bo&duration_minutes=90'
                f'&from={now:%Y-%m-%dT%H:%M:%SZ}&to={now + timedelta(days=14):%Y-%m-%dT%H:%M:%SZ}"'
            )
            err.print("\nCtrl-C stops the service.")

        await serve_http(
            c,
            settings.server.host,
            settings.server.port,
            on_ready=ready,
            background=[build_scheduler(c)],
        )

    run(work, settings)


# db --------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (safe to run again)."""
    settings = _globals.settings()

    async def work(c: Container) -> None:
        await upgrade_database(c)

    run(
        work,
        settings.model_copy(
            update={"database": settings.database.model_copy(update={"auto_migrate": False})}
        ),
    )
    err.print("database is up to date")


# directory -------------------------------------------------------------------------------


@directory_app.command("import")
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
            else _null()
        ):
            counts = await c.directory.apply(
                directory, actor=cli_principal().actor, source=str(file)
            )
        err.print(
            f"imported {counts.regions} regions, {counts.sites} sites, "
            f"{counts.leader_groups} leader groups, {counts.policies} policies from {file}"
        )

    run(work)


@directory_app.command("show")
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


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


# sessions --------------------------------------------------------------------------------


@sessions_app.command("book")
def sessions_book(
    title: Annotated[str | None, typer.Option(help="Title")] = None,
    start: Annotated[
        str | None, typer.Option(help="Start, ISO (zone from --timezone if no offset)")
    ] = None,
    end: Annotated[str | None, typer.Option(help="End, ISO")] = None,
    host: Annotated[str | None, typer.Option("--host-site", help="Host site id")] = None,
    sites: Annotated[
        list[str] | None, typer.Option("--sites", help="Site ids (comma-separated or repeated)")
    ] = None,
    chair_name: Annotated[str | None, typer.Option(help="Chair's name")] = None,
    chair_email: Annotated[str | None, typer.Option(help="Chair's email")] = None,
    groups: Annotated[list[str] | None, typer.Option("--groups", help="Leader groups")] = None,
    speaking: Annotated[
        list[str] | None,
        typer.Option("--speaking-sites", help="Sites that speak when the others must be visitors"),
    ] = None,
    kind: Annotated[str, typer.Option(help="national or regional")] = "national",
    region: Annotated[str | None, typer.Option(help="Region (regional sessions)")] = None,
    timezone: Annotated[str, typer.Option(help="Zone the session is shown in")] = DEFAULT_TIMEZONE,
    agenda: Annotated[str, typer.Option(help="Agenda")] = "",
    provider: Annotated[str, typer.Option(help="static, jitsi or jaas")] = "static",
    buffer_before: Annotated[int | None, typer.Option(help="Minutes reserved before")] = None,
    buffer_after: Annotated[int | None, typer.Option(help="Minutes reserved after")] = None,
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
    if file is not None:
        try:
            payload: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise fail(f"{file}: {exc}") from None
    else:
        missing = [
            n
            for n, v in {
                "--title": title,
                "--start": start,
                "--end": end,
                "--host-site": host,
                "--chair-email": chair_email,
            }.items()
            if not v
        ]
        if missing:
            raise fail(f"missing {', '.join(missing)} (or give --file)", code=2)
        assert start is not None
        assert end is not None
        payload = {
            "title": title,
            "agenda": agenda,
            "kind": kind,
            "region": region,
            "start": aware(start, timezone, "--start").isoformat(),
            "end": aware(end, timezone, "--end").isoformat(),
            "timezone": timezone,
            "host_site": host,
            "sites": csv_list(sites),
            "chair": {"name": chair_name or chair_email, "email": chair_email},
            "leader_groups": csv_list(groups),
            "speaking_sites": csv_list(speaking),
            "provider": provider,
            "buffer_before_minutes": buffer_before,
            "buffer_after_minutes": buffer_after,
            "conflict_policy": "skip_conflicting" if skip_conflicting else "all_or_nothing",
            "override_reason": override_reason,
        }
    try:
        req = BookSessionRequest.model_validate(payload)
    except ValidationError as exc:
        raise fail(f"invalid booking:\n{exc}") from None

    async def work(c: Container) -> BookingOut:
        answer = await c.bookings.book(req, cli_principal())
        return BookingOut.model_validate_json(answer.body)

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


@sessions_app.command("list")
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


@sessions_app.command("show")
def sessions_show(session_id: Annotated[str, typer.Argument(help="Session id")]) -> None:
    """Print one session as JSON, with each site's link and local time."""

    async def work(c: Container) -> SessionOut:
        return await c.bookings.get(session_id, cli_principal())

    print_json(run(work))


@sessions_app.command("reschedule")
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
        raise fail(f"invalid change:\n{exc}") from None

    async def work(c: Container) -> SessionOut:
        return await c.bookings.update(session_id, req, cli_principal())

    show(session_table([run(work)]))


@sessions_app.command("cancel")
def sessions_cancel(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    reason: Annotated[str | None, typer.Option(help="Why (audited)")] = None,
) -> None:
    """Cancel a session and free its sites, groups and chair."""

    async def work(c: Container) -> SessionOut:
        return await c.bookings.cancel(session_id, cli_principal(), reason)

    show(session_table([run(work)]))


# slots and plans -------------------------------------------------------------------------


@slots_app.command("find")
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
        raise fail(f"invalid query:\n{exc}") from None

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


@plan_app.command("regional")
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
        return RegionalPlanOut.model_validate_json(answer.body)

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


# invites and feeds -----------------------------------------------------------------------


@invites_app.command("export")
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


@invites_app.command("status")
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


@invites_app.command("send")
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


@feeds_app.command("create")
def feeds_create(site: Annotated[str, typer.Option("--site", help="Site id")]) -> None:
    """A new subscription URL for a site's calendar (the previous URL stops working)."""

    async def work(c: Container) -> str:
        return await c.invites.create_feed(site, cli_principal())

    print(run(work))


# attendance -------------------------------------------------------------------------------


@app.command("attendance")
def attendance_record(
    session_id: Annotated[str, typer.Argument(help="Session id")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv, xlsx or json")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file")] = None,
    language: Annotated[str, typer.Option("--lang", help="vi or en column headers")] = "vi",
    freeze: Annotated[
        bool, typer.Option("--freeze", help="Freeze the record of an ended session first")
    ] = False,
) -> None:
    """The attendance record of a session: which sites were there, late, gone early."""
    if fmt not in ("table", "csv", "xlsx", "json"):
        raise fail("--format is one of table, csv, xlsx, json", code=2)
    if fmt == "xlsx" and out_file is None:
        raise fail("--format xlsx needs --out FILE", code=2)

    async def work(c: Container) -> AttendanceOut:
        if freeze:
            return await c.attendance.freeze(session_id, cli_principal().actor)
        return await c.attendance.record(session_id, cli_principal())

    out = run(work)
    if fmt == "table":
        table = Table(*CSV_HEADERS["en" if language == "en" else "vi"], title=out.title)
        for row in attendance_rows(out):
            table.add_row(*(str(v) for v in row))
        show(table)
        err.print(out.summary if language == "vi" else out.summary_en)
        return
    data: bytes
    if fmt == "csv":
        data = to_csv(out, language)
    elif fmt == "xlsx":
        data = to_xlsx(out, language)
    else:
        data = out.model_dump_json(indent=2).encode()
    if out_file is None:
        sys.stdout.buffer.write(data)
        return
    try:
        out_file.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {out_file}: {exc}") from None
    err.print(f"wrote {out_file}")


# jobs ------------------------------------------------------------------------------------


@jobs_app.command("list")
def jobs_list(
    hours: Annotated[int, typer.Option(help="Look this many hours ahead")] = 48,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the scheduler will do next, and why (transitions and reminders not done yet)."""

    async def work(c: Container) -> Any:
        return await c.lifecycle.pending(ahead=timedelta(hours=hours))

    due = run(work)
    if as_json:
        print_json(
            [{"at": d.at, "kind": d.kind, "session_id": d.session_id, "why": d.why} for d in due]
        )
        return
    table = Table("due (UTC)", "action", "session", "why")
    for d in due:
        table.add_row(f"{d.at:%Y-%m-%d %H:%M}", d.kind, d.session_id, d.why)
    show(table)


@jobs_app.command("run")
def jobs_run() -> None:
    """Do now whatever is due (what `serve` does on its schedule), then stop."""

    async def work(c: Container) -> int:
        return len(await c.lifecycle.tick())

    err.print(f"{run(work)} action(s) done")


# tokens and audit ------------------------------------------------------------------------


@tokens_app.command("create")
def tokens_create(
    role: Annotated[Role, typer.Option("--role", help="office, chair or coordinator")],
    site: Annotated[str | None, typer.Option("--site", help="Coordinator's site id")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Chair's email")] = None,
    label: Annotated[str, typer.Option("--label", help="A note on who holds it")] = "",
) -> None:
    """Create an API token; it is printed once, alone on stdout."""

    async def work(c: Container) -> str:
        issued = await c.access.create_token(
            role, site_id=site, email=email, label=label, actor=cli_principal().actor
        )
        err.print(f"token {issued.record.id} for {role.value} created; it is shown only once")
        return issued.token

    print(run(work))


@signin_app.command("link")
def signin_link(
    minutes: Annotated[
        int, typer.Option("--minutes", help="How long the link works (1-1440)", min=1, max=1440)
    ] = 15,
    next_path: Annotated[
        str, typer.Option("--next", help="The page to open after signing in")
    ] = "/office",
) -> None:
    """A one-time link that signs one browser in as the office; printed alone on stdout."""

    async def work(c: Container) -> str:
        link = await c.signin.once_link(
            minutes=minutes, actor=cli_principal().actor, next_path=next_path
        )
        err.print(f"one-time office sign-in link, valid {minutes} minutes, usable once")
        return link

    print(run(work))


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets)."""

    async def work(c: Container) -> None:
        table = Table("id", "role", "site", "email", "label", "created", "revoked")
        for t in await c.access.list_tokens():
            table.add_row(
                t.id,
                t.role,
                t.site_id or "",
                t.email or "",
                t.label,
                f"{t.created_at:%Y-%m-%d %H:%M}",
                f"{t.revoked_at:%Y-%m-%d}" if t.revoked_at else "",
            )
        show(table)

    run(work)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (from tokens list)")],
) -> None:
    """Revoke a token."""

    async def work(c: Container) -> bool:
        return await c.access.revoke_token(token_id, actor=cli_principal().actor)

    if not run(work):
        raise fail(f"no active token {token_id}")
    err.print(f"token {token_id} revoked")


@app.command("audit")
def audit(
    target: Annotated[str | None, typer.Option(help="e.g. session:<id>")] = None,
    limit: Annotated[int, typer.Option(help="How many")] = 50,
) -> None:
    """Print the audit log, newest first: who, when, what, why."""

    async def work(c: Container) -> None:
        table = Table("at", "actor", "action", "target", "reason")
        for e in await c.access.audit_log(target=target, limit=limit):
            table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target, e.reason or "")
        show(table)

    run(work)


def main() -> None:
    app()
