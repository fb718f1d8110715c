"""Signing in and out, and the viewer's language and time zone."""

from __future__ import annotations

from aiohttp import web

from orchestrator.access.signin import SESSION_HOURS, WebSession
from orchestrator.domain.errors import AuthenticationRequired
from orchestrator.web.keys import SIGNIN
from orchestrator.web.pages.common import (
    HOME,
    LANG_COOKIE,
    LANGUAGES,
    PRE_COOKIE,
    SESSION_COOKIE,
    ZONE_COOKIE,
    form_of,
    local_path,
    render,
    secure_cookies,
    text_of,
    valid_zone,
    web_session,
)

YEAR = 365 * 24 * 3600


async def home(request: web.Request) -> web.StreamResponse:
    session = await web_session(request)
    raise web.HTTPSeeOther(HOME[session.principal.role] if session else "/signin")


async def signin_form(request: web.Request) -> web.StreamResponse:
    next_path = local_path(request.query.get("next"))
    return render(request, "signin.html", {"next": next_path, "error": None})


async def _start(request: web.Request, session: WebSession, next_path: str) -> web.StreamResponse:
    cookie = await request.app[SIGNIN].cookie(session)
    if next_path == "/":
        next_path = HOME[session.principal.role]
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path="/",
        max_age=SESSION_HOURS * 3600,
    )
    response.del_cookie(PRE_COOKIE, path="/")
    raise response


async def signin_with_token(request: web.Request) -> web.StreamResponse:
    data = await form_of(request)
    next_path = local_path(str(data.get("next", "/")))
    try:
        session = await request.app[SIGNIN].with_token(str(data.get("token", "")))
    except AuthenticationRequired:
        error = text_of(request, "signin.bad_token")
        return render(request, "signin.html", {"next": next_path, "error": error}, status=401)
    return await _start(request, session, next_path)


async def signin_link(request: web.Request) -> web.StreamResponse:
    """A link from an email or the command line. A one-time link (the office's) is only used
    when the button is pressed, so a mail scanner that opens links does not spend it."""
    link = request.match_info["link"]
    if request.method == "GET":
        return render(request, "signin_link.html", {"link": link})
    await form_of(request)
    try:
        session, next_path = await request.app[SIGNIN].redeem(link)
    except AuthenticationRequired as exc:
        return render(
            request,
            "signin.html",
            {"next": "/", "error": text_of(request, "signin.bad_link"), "detail": exc.message},
            status=401,
        )
    return await _start(request, session, next_path)


async def signout(request: web.Request) -> web.StreamResponse:
    await form_of(request)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def choose_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(local_path(request.query.get("next")))
    response.set_cookie(LANG_COOKIE, lang, max_age=YEAR, samesite="Lax", path="/")
    raise response


async def choose_zone(request: web.Request) -> web.StreamResponse:
    name = request.query.get("tz", "")
    if not valid_zone(name):
        raise web.HTTPBadRequest(text=text_of(request, "error.bad_zone", zone=name[:64]))
    response = web.HTTPSeeOther(local_path(request.query.get("next")))
    response.set_cookie(ZONE_COOKIE, name, max_age=YEAR, samesite="Lax", path="/")
    raise response
