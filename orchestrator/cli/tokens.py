"""`orchestrator tokens`: API tokens created, listed and revoked."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from orchestrator.bootstrap import Container
from orchestrator.cli.common import cli_principal, err, fail, run, show
from orchestrator.domain.models import Role

app = typer.Typer(help="API tokens (office, chair, coordinator).", no_args_is_help=True)


@app.command("create")
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

    print(run(work, creates=True))


@app.command("list")
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


@app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (from tokens list)")],
) -> None:
    """Revoke a token."""

    async def work(c: Container) -> bool:
        return await c.access.revoke_token(token_id, actor=cli_principal().actor)

    if not run(work):
        raise fail(f"no active token {token_id}")
    err.print(f"token {token_id} revoked")
