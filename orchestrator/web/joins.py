"""The join gateway's endpoints (DESIGN 10): `GET /join/{key}` (no sign-in) and the office's
rotation of a site's gateway link, for a series and for a single session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from orchestrator.booking.gateway import JoinAnswer
from orchestrator.domain.errors import NotFound
from orchestrator.web.http import json_response, principal_of
from orchestrator.web.keys import CATALOG, CLOCK, GATEWAY
from orchestrator.web.pages.common import (
    LANG_COOKIE,
    LANGUAGES,
    ZONE_COOKIE,
    format_when,
    protect,
    render,
    valid_zone,
    zone_label,
)

TEMPLATE = "join/page.html"


def _language(request: web.Request, site_language: str | None) -> str:
    """The viewer's chosen language, else the site's (Vietnamese by default)."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return site_language if site_language in LANGUAGES else "vi"


def _zone(request: web.Request, site_zone: str | None) -> str:
    """The viewer's chosen zone, else the site's."""
    chosen = request.cookies.get(ZONE_COOKIE)
    if chosen and valid_zone(chosen):
        return chosen
    return site_zone or "Asia/Ho_Chi_Minh"


def _heading(answer: JoinAnswer | None) -> str:
    """The page's title (a catalog key)."""
    if answer is None:
        return "join.unknown.title"
    if answer.outcome == "ended":
        if answer.cancelled:
            return "join.cancelled.title"
        return "join.ended.series_title" if answer.series else "join.ended.title"
    return f"join.{answer.outcome}.title"


def _page(
    request: web.Request,
    status: int,
    answer: JoinAnswer | None,
    *,
    language: str,
    zone: str,
) -> web.Response:
    catalog = request.app[CATALOG]
    now = request.app[CLOCK].now()

    def _(key: str, **values: Any) -> str:
        return catalog.text(language, key, **values)

    def when(at: datetime | None, what: str = "datetime") -> str:
        return format_when(at, language, zone, what)

    # The page speaks the site's language and zone, whatever the viewer's browser last chose
    # elsewhere on the service (unless they chose on this page).
    context = {
        "_": _,
        "lang": language,
        "zone": zone,
        "zone_label": zone_label(zone, now),
        "when": when,
        "answer": answer,
        "outcome": answer.outcome if answer is not None else "unknown",
        "site": answer.site if answer is not None else None,
        "url": answer.url if answer is not None else None,
        "heading": _heading(answer),
    }
    response = render(request, TEMPLATE, context, status=status)
    protect(response)
    # The key is the site's credential: kept out of the referrer of whatever the page links to.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _answer_page(request: web.Request, answer: JoinAnswer) -> web.StreamResponse:
    site = answer.site
    language = _language(request, site.language)
    zone = _zone(request, site.timezone)
    if answer.outcome == "opened":
        assert answer.url is not None
        # A short page with the link, for a browser that does not follow the redirect.
        response = _page(request, 302, answer, language=language, zone=zone)
        response.headers["Location"] = answer.url
        response.headers["Cache-Control"] = "no-store"
        return response
    status = 200 if answer.outcome == "waiting" else 410
    return _page(request, status, answer, language=language, zone=zone)


async def open_link(request: web.Request) -> web.StreamResponse:
    """Inside an occurrence's window, `302` to the site's own link to it; outside every window a
    page naming the next occurrence; `410` after the last; `404` for a key that is not one."""
    gateway = request.app[GATEWAY]
    try:
        answer = await gateway.open(request.match_info["key"])
    except NotFound:
        language = _language(request, None)
        return _page(request, 404, None, language=language, zone=_zone(request, None))
    return _answer_page(request, answer)


async def rotate_series_link(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    m = request.match_info
    out = await request.app[GATEWAY].rotate_series(m["id"], m["site"], principal)
    return json_response(out)


async def rotate_session_link(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    m = request.match_info
    out = await request.app[GATEWAY].rotate_session(m["id"], m["site"], principal)
    return json_response(out)
