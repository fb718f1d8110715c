"""Invite endpoints: each site's state, .ics downloads, RSVPs (API and signed links), feeds."""

from __future__ import annotations

import html

from aiohttp import web
from pydantic import BaseModel

from orchestrator.domain.errors import (
    AuthenticationRequired,
    InvalidState,
    NotFound,
    PermissionDenied,
)
from orchestrator.invites.service import InvitesOut, RsvpRequest
from orchestrator.web.downloads import attachment, session_file_stem
from orchestrator.web.http import json_body, json_response, principal_of
from orchestrator.web.keys import BOOKINGS, INVITES

ICS = "text/calendar"


class FeedOut(BaseModel):
    url: str


def _ics(body: bytes, filename: str, disposition: str | None = None) -> web.Response:
    return web.Response(
        body=body,
        content_type=ICS,
        charset="utf-8",
        headers={"Content-Disposition": disposition or f'attachment; filename="{filename}"'},
    )


async def invite_status(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    out = await request.app[INVITES].status(request.match_info["id"], principal)
    return json_response(out)


async def invite_ics(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    session_id, site_id = request.match_info["id"], request.match_info["site"]
    body = await request.app[INVITES].invite_ics(session_id, site_id, principal)
    # named for the session and the site: hoi-nghi-truc-tuyen-2026-12-10-da-nang.ics
    try:
        session = await request.app[BOOKINGS].get(session_id, principal)
    except (NotFound, PermissionDenied):  # the invite's own rule let them see it; keep a name
        return _ics(body, "invite.ics")
    name = next((s.name for s in session.sites if s.site_id == site_id), None)
    ascii_stem, readable = session_file_stem(
        session.title, session.start, session.timezone, site_id, name
    )
    return _ics(body, f"{ascii_stem}.ics", attachment(ascii_stem, readable, ".ics"))


async def series_invite_status(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    out = await request.app[INVITES].series_status(request.match_info["id"], principal)
    return json_response(out)


async def series_invite_ics(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    series_id, site_id = request.match_info["id"], request.match_info["site"]
    got = await request.app[INVITES].series_ics(series_id, site_id, principal)
    # named for the series (its first date) and the site, like a session's invite
    ascii_stem, readable = session_file_stem(
        got.series.title, got.series.start, got.site.timezone, site_id, got.site.name
    )
    return _ics(got.body, f"{ascii_stem}.ics", attachment(ascii_stem, readable, ".ics"))


async def series_rsvp(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, RsvpRequest)
    out = await request.app[INVITES].series_rsvp(
        request.match_info["id"], request.match_info["site"], req, principal
    )
    return json_response(out)


async def rsvp(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, RsvpRequest)
    out = await request.app[INVITES].rsvp(
        request.match_info["id"], request.match_info["site"], req, principal
    )
    return json_response(out)


async def create_feed(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    url = await request.app[INVITES].create_feed(request.match_info["site"], principal)
    return json_response(FeedOut(url=url), 201)


async def feed(request: web.Request) -> web.Response:
    site = request.match_info["site"]
    body = await request.app[INVITES].feed(site, request.query.get("token"))
    return _ics(body, f"{site}.ics")


_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>{text}</p>{form}</main></body></html>"""


def _page(title: str, text: str, form: str = "", status: int = 200) -> web.Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text), form=form)
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


async def rsvp_link(request: web.Request) -> web.Response:
    """GET shows a confirmation button (mail scanners open links; they do not submit forms)."""
    answer = request.match_info["response"]
    words = "Xác nhận tham dự / Accept" if answer == "accepted" else "Báo vắng / Decline"
    sig = html.escape(request.query.get("sig", ""), quote=True)
    form = (
        f'<form method="post" action="?sig={sig}">'
        f'<button type="submit">{html.escape(words)}</button></form>'
    )
    return _page("Trả lời thư mời / Answer the invitation", words, form)


def _invalid_link() -> web.Response:
    return _page("Liên kết không hợp lệ / Invalid link", "Hãy dùng liên kết trong thư.", status=403)


async def rsvp_link_confirm(request: web.Request) -> web.Response:
    m = request.match_info
    sig = request.query.get("sig", "")
    if not sig.isascii():  # signatures are URL-safe base64; hmac compares no other text
        return _invalid_link()
    try:
        await request.app[INVITES].rsvp_by_link(m["id"], m["site"], m["response"], sig)
    except AuthenticationRequired:
        return _invalid_link()
    except (NotFound, InvalidState) as exc:
        return _page("Không ghi nhận được / Not recorded", exc.message, status=exc.status)
    done = "Đã ghi nhận: tham dự / Recorded: accepted"
    if m["response"] == "declined":
        done = "Đã ghi nhận: vắng mặt / Recorded: declined"
    return _page("Cảm ơn / Thank you", done)


__all__ = ["InvitesOut"]
