"""`orchestrator serve`: the HTTP service and the scheduler, until interrupted."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.bootstrap import Container, build_scheduler
from orchestrator.cli.common import err, global_options, run

HostOpt = Annotated[str | None, typer.Option("--host", help="Listen address [127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Listen port [8080]")]


def server_overrides(host: str | None, port: int | None) -> dict[str, Any]:
    return {k: v for k, v in {"host": host, "port": port}.items() if v is not None}


def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the HTTP service (API and webhooks) until interrupted."""
    from orchestrator.web.server import serve as serve_http

    settings = global_options.settings(**server_overrides(host, port))

    async def work(c: Container) -> None:
        await serve_http(
            c,
            settings.server.host,
            settings.server.port,
            on_ready=lambda url: err.print(f"orchestrator listening on {url} (Ctrl-C stops)"),
            background=[build_scheduler(c)],
        )

    run(work, settings, creates=True)
