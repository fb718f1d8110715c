"""The options `sessions book` and `series book` share, and the booking body they make of them
(DESIGN 5.2): one definition, so the two commands cannot drift apart."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.common import aware, csv_list, fail

Title = Annotated[str | None, typer.Option(help="Title")]
Host = Annotated[str | None, typer.Option("--host-site", help="Host site id")]
Sites = Annotated[
    list[str] | None, typer.Option("--sites", help="Site ids (comma-separated or repeated)")
]
ChairName = Annotated[str | None, typer.Option(help="Chair's name")]
ChairEmail = Annotated[str | None, typer.Option(help="Chair's email")]
Groups = Annotated[list[str] | None, typer.Option("--groups", help="Leader groups")]
Speaking = Annotated[
    list[str] | None,
    typer.Option("--speaking-sites", help="Sites that speak when the others must be visitors"),
]
Kind = Annotated[str, typer.Option(help="national or regional")]
Agenda = Annotated[str, typer.Option(help="Agenda")]
Provider = Annotated[str, typer.Option(help="static, jitsi or jaas")]
BufferBefore = Annotated[int | None, typer.Option(help="Minutes reserved before")]
BufferAfter = Annotated[int | None, typer.Option(help="Minutes reserved after")]


def read_body(file: Path | None, required: Mapping[str, object]) -> dict[str, Any] | None:
    """The body in `file` (JSON) when one is given; else None once every `required` option
    (its flag: its value) is set, and a usage error (exit 2) naming those missing."""
    if file is not None:
        try:
            body: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise fail(f"{file}: {exc}") from None
        return body
    missing = [flag for flag, value in required.items() if not value]
    if missing:
        raise fail(f"missing {', '.join(missing)} (or give --file)", code=2)
    return None


def booking_fields(
    *,
    title: str | None,
    agenda: str,
    kind: str,
    region: str | None,
    start: str,
    end: str,
    timezone: str,
    host: str | None,
    sites: list[str] | None,
    chair_name: str | None,
    chair_email: str | None,
    groups: list[str] | None,
    speaking: list[str] | None,
    provider: str,
    buffer_before: int | None,
    buffer_after: int | None,
    override_reason: str | None,
) -> dict[str, Any]:
    """The fields of a booking body from the command line's options (times in `timezone` when
    they carry no offset)."""
    return {
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
        "override_reason": override_reason,
    }
