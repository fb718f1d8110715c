"""`/docs`: an interactive reader of `/openapi.json`, Swagger UI as the `swagger-ui-py` package
ships it, served from the installed package's files (nothing is fetched from elsewhere)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from orchestrator.web.pages.common import render

SWAGGER_UI = "swagger-ui"  # the name of the static route of the package's files


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's files inside the installed `swagger_ui` package."""
    return Path(str(resources.files("swagger_ui") / "static"))


async def reader(request: web.Request) -> web.Response:
    """The reader's page: Swagger UI's script and style, started by `api-docs.js`."""
    files = request.app.router[SWAGGER_UI]

    def swagger(name: str) -> str:
        return str(files.url_for(filename=name))

    response = render(request, "docs/reader.html", {"swagger": swagger})
    response.headers["Cache-Control"] = "no-cache"
    return response
