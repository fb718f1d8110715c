"""Server-rendered pages for the office, site coordinators and chairs (jinja2, a little JS).

`pages_middleware` reads the signed cookie and shows errors on pages as HTML; `setup_pages` sets
up the template engine and the page strings. The pages' routes are in the one route table
(`orchestrator.web.routes`), which also serves the static files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from orchestrator.domain.errors import AuthenticationRequired, OrchestratorError
from orchestrator.web.http import HOOKS
from orchestrator.web.keys import CATALOG, PRINCIPAL, SIGNIN, WEB
from orchestrator.web.pages.common import SESSION_COOKIE, Catalog, language, protect, render
from orchestrator.web.wording import reason_words, refusal

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths that are not pages (the route table checks that its page routes are outside them).
NOT_PAGES = (
    "/api/",
    HOOKS,
    "/static/",
    "/openapi.json",
    "/metrics",
    "/healthz",
    "/readyz",
    "/rsvp/",
    "/join/",
)


def _is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reads the signed session cookie; shows errors on pages as HTML, not problem+json.

    A signed-in browser may also GET the JSON API (the live board's stream, exports) with its
    cookie; anything that changes state through the API still needs a bearer token.
    """
    if request.path.startswith(HOOKS):
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
        words, lang = request.app[CATALOG], language(request)
        said = reason_words(words, lang, exc) or refusal(words, lang, exc)
        response = _error_page(request, exc.status, said)
    protect(response)
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    if message.startswith(f"{status}:"):  # aiohttp's default text
        message = ""
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def setup_pages(app: web.Application) -> None:
    """The pages' template engine and strings on `app` (its middleware list must already hold
    `pages_middleware`; `init_app` fills the keys the pages read)."""
    app[CATALOG] = Catalog.load()
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("orchestrator.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
