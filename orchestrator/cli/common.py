"""What every verb shares: the global options, the consoles, running a use case on a freshly built
container, and turning errors, times and lists from the command line into messages and values."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from connectors.base import ConnectorError
from orchestrator.bootstrap import Container, build, upgrade_database
from orchestrator.domain.errors import (
    BookingConflict,
    OrchestratorError,
    PolicyViolation,
    SeriesConflict,
    SeriesPolicyViolation,
    refusal_words,
)
from orchestrator.domain.models import Principal, Role
from orchestrator.settings import Settings, load_settings
from orchestrator.store.base import RetryableStoreError, StoreFailure

T = TypeVar("T")

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
            raise invalid("settings", exc, code=2) from None
        if server:
            settings = settings.model_copy(
                update={"server": settings.server.model_copy(update=server)}
            )
        return settings


# The options given before the verb; the root callback sets them before any verb runs.
global_options = Globals(None, None, None)


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
    if isinstance(exc, SeriesConflict):
        for o in exc.occurrences:
            c = o.conflict
            err.print(
                f"  {o.occurrence:%Y-%m-%d %H:%M}: {c.resource} held by session {c.session_id} "
                f"({c.start} - {c.end})"
            )
    elif isinstance(exc, BookingConflict):
        for c in exc.conflicts:
            err.print(f"  {c.resource}: held by session {c.session_id} ({c.start} - {c.end})")
    if isinstance(exc, SeriesPolicyViolation):
        for v in exc.occurrences:
            err.print(f"  {v.occurrence:%Y-%m-%d %H:%M}: {v.breach.rule}: {v.breach.detail}")
    elif isinstance(exc, PolicyViolation):
        for b in exc.breaches:
            err.print(f"  {b.rule}: {b.detail}")
    raise typer.Exit(1)


async def _open(settings: Settings) -> Container:
    container = build(settings)
    if settings.database.auto_migrate:
        await upgrade_database(container)
    return container


def missing_database(settings: Settings) -> Path | None:
    """The SQLite file `settings` name when it does not exist (else None: it does, or the
    database is PostgreSQL)."""
    url = make_url(settings.resolved_database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database)
    return None if path.exists() else path


def run(
    work: Callable[[Container], Awaitable[T]],
    settings: Settings | None = None,
    *,
    creates: bool = False,
) -> T:
    """Open the service's parts, run `work`, close them; errors become messages and exit codes.

    Only the commands that set a service up (`creates`: serve, demo, db upgrade, directory
    import, tokens create) may start a new SQLite database; the others refuse to, with exit
    code 2: run elsewhere than the service's folder, they found a new, empty one and said that
    nothing was booked."""

    settings = settings or global_options.settings()
    missing = None if creates else missing_database(settings)
    if missing is not None:
        raise fail(
            f"no database at {missing}: run this where the service keeps its data (its "
            "./var/), or name it with --data-dir or ORCH_DATA_DIR (ORCH_DATABASE_URL for "
            "PostgreSQL); `orchestrator db upgrade` creates a new one",
            code=2,
        )
    if not global_options.verbose:
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
        raise invalid("input", exc) from None
    except ConnectorError as exc:
        raise fail(str(exc)) from None
    except BrokenPipeError:
        raise typer.Exit(0) from None  # the reader went away (| head): nothing to say
    except RetryableStoreError as exc:
        raise fail(f"the database is busy, try again: {exc}") from None
    except StoreFailure as exc:
        raise fail(f"database error: {exc}") from None
    except OSError as exc:  # refused connections, unknown hosts, unwritable data directories
        raise fail(f"cannot reach the database or the data directory: {exc}") from None


def invalid(what: str, exc: ValidationError, code: int = 1) -> typer.Exit:
    """`fail` with each of pydantic's errors as one short line: the field (as the option or the
    JSON key names it) and what is wrong, without the value given or the library's links."""
    lines = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"] if part not in ("request", "body"))
        message = refusal_words(error)
        lines.append(f"  {field}: {message}" if field else f"  {message}")
    return fail(f"invalid {what}:\n" + "\n".join(dict.fromkeys(lines)), code)


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
