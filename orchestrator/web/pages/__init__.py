"""Server-rendered pages for the office, site coordinators and chairs (jinja2, a little JS).

`setup_pages` wires the template engine, the static files, the page middleware (the signed
cookie, HTML error pages) and every page module's routes onto the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from orchestrator.access.signin import SignIn
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import AuthenticationRequired, OrchestratorError
from orchestrator.web.http import PRINCIPAL
from orchestrator.web.pages import (
    auth,
    board,
    office_book,
    office_book_check,
    office_directory,
    office_plan,
    office_session,
    office_timeline,
    site,
)
from orchestrator.web.pages.common import (
    CATALOG,
    PAGE_CLOCK,
    PUBLIC_URL,
    SESSION_COOKIE,
    SIGNIN,
    WEB,
    Catalog,
    protect,
    render,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NOT_PAGES = ("/api/", "/hooks/", "/static/", "/openapi.json", "/metrics", "/healthz", "/rsvp/")


def _is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reads the signed session cookie; shows errors on pages as HTML, not problem+json.

    A signed-in browser may also GET the JSON API (the live board's stream, exports) with its
    cookie; anything that changes state through the API still needs a bearer token.
    """
    if request.path.startswith("/hooks/"):
        return await handler(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await request.app[SIGNIN].from_cookie(cookie)
        if session is not None:
            request[WEB] = session
            if (
                request.path.startswith("/api/")
                and request.method in ("GET", "HEAD")
                and "Authorization" not in request.headers
            ):
                request[PRINCIPAL] = session.principal
    if not _is_page(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        protect(exc)
        if exc.status < 400:
            raise
        response = _error_page(request, exc.status, exc.text or exc.reason)
    except AuthenticationRequired:
        raise web.HTTPSeeOther(f"/signin?next={quote(request.path_qs, safe='/')}") from None
    except OrchestratorError as exc:
        response = _error_page(request, exc.status, exc.message)
    protect(response)
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    if message.startswith(f"{status}:"):  # aiohttp's default text
        message = ""
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def setup_pages(app: web.Application, signin: SignIn, clock: Clock, public_url: str) -> None:
    """Add the pages to `app` (its middleware list must already hold `pages_middleware`)."""
    app[SIGNIN] = signin
    app[PUBLIC_URL] = public_url
    app[PAGE_CLOCK] = clock
    app[CATALOG] = Catalog.load()
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("orchestrator.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    static = resources.files("orchestrator.web") / "static"
    app.router.add_static("/static/", str(static), name="static", append_version=True)
    for module in (
        auth,
        office_timeline,
        office_book,
        office_book_check,
        office_plan,
        office_session,
        office_directory,
        site,
        board,
    ):
        module.add_routes(app.router)
