"""Pages for a site coordinator: the site's sessions, and for one session the invite, the site's
own join link, the answer to the invite, the check-in on the day and the preparation documents;
plus the site's calendar feed.

A coordinator only ever sees their own site: another site's session is "not found", never data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath

from aiohttp import web
from pydantic import ValidationError

from orchestrator.attendance.service import CheckinRequest, checkin_state
from orchestrator.booking.schemas import SessionOut
from orchestrator.domain.errors import (
    InvalidRequest,
    InvalidState,
    NotFound,
    PermissionDenied,
)
from orchestrator.domain.models import Principal, Role, SessionStatus, Site
from orchestrator.domain.text import storable
from orchestrator.invites.service import RsvpRequest, SiteInviteOut
from orchestrator.preparation.service import ALLOWED_SUFFIXES
from orchestrator.store.base import SessionQuery
from orchestrator.web.keys import (
    ATTENDANCE,
    BOOKINGS,
    CATALOG,
    CLOCK,
    DIRECTORY,
    INVITES,
    PREPARATION,
    SITE_NAME,
    SITE_ZONE,
)
from orchestrator.web.pages.common import form_of, language, render, text_of, viewer_for
from orchestrator.web.pages.preparation_words import due_words
from orchestrator.web.wording import reason_words, refusal

PAST_DAYS = 180
PAST_SHOWN = 30
UPCOMING_SHOWN = 100
MAX_NAMES = 500
MAX_NAME = 200
MAX_COMMENT = 2000
DONE = ("accepted", "declined", "checkin", "upload")


@dataclass
class Forms:
    """What the session page's forms show: typed values and errors, keyed by form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    task: str | None = None  # the task whose upload failed


async def _coordinator(request: web.Request) -> tuple[Principal, Site]:
    """The signed-in coordinator and their site (whose zone is the page's default zone)."""
    principal = await viewer_for(request, Role.COORDINATOR)
    view = await request.app[DIRECTORY].view(principal)
    site = next((s for s in view.sites if s.id == principal.site_id), None)
    if site is None:
        raise web.HTTPForbidden(text=text_of(request, "site.no_site"))
    request[SITE_ZONE] = site.timezone
    request[SITE_NAME] = site.name
    return principal, site


async def _session(request: web.Request, principal: Principal) -> SessionOut:
    """The session of the path, if the coordinator's site takes part in it (else 404)."""
    session_id = request.match_info["id"]
    try:
        session = await request.app[BOOKINGS].get(session_id, principal)
    except NotFound:
        raise web.HTTPNotFound(text=text_of(request, "site.no_session")) from None
    if principal.site_id not in {s.site_id for s in session.sites}:
        raise web.HTTPNotFound(text=text_of(request, "site.no_session"))
    return session


# the list --------------------------------------------------------------------------------------
async def site_home(request: web.Request, feed_url: str | None = None) -> web.Response:
    principal, site = await _coordinator(request)
    now = request.app[CLOCK].now()
    bookings = request.app[BOOKINGS]
    upcoming = await bookings.list_sessions(
        SessionQuery(start_from=now, limit=UPCOMING_SHOWN), principal
    )
    earlier = await bookings.list_sessions(
        SessionQuery(start_from=now - timedelta(days=PAST_DAYS), start_to=now, limit=1000),
        principal,
    )
    past = [s for s in earlier if s.end <= now][::-1][:PAST_SHOWN]
    answers: dict[str, str] = {}
    for s in upcoming:
        invite = await _invite(request, s.id, principal)
        answers[s.id] = invite.rsvp if invite else "needs-action"
    return render(
        request,
        "site/list.html",
        {
            "site": site,
            "upcoming": upcoming,
            "past": past,
            "answers": answers,
            "feed_url": feed_url,
        },
    )


async def create_feed(request: web.Request) -> web.Response:
    """A new calendar subscription URL, shown once (the previous one stops working)."""
    principal, site = await _coordinator(request)
    await form_of(request)
    url = await request.app[INVITES].create_feed(site.id, principal)
    return await site_home(request, feed_url=url)


# one session -------------------------------------------------------------------------------
async def _invite(
    request: web.Request, session_id: str, principal: Principal
) -> SiteInviteOut | None:
    status = await request.app[INVITES].status(session_id, principal)
    return next((s for s in status.sites if s.site_id == principal.site_id), None)


def _checkin_window(session: SessionOut, now: datetime) -> tuple[str, datetime, datetime]:
    """Whether check-in is open now (the attendance use case's rule), and its window."""
    opens, closes = session.claimed.start, session.end
    cancelled = session.status is SessionStatus.CANCELLED
    return checkin_state(cancelled, opens, closes, now), opens, closes


async def _session_page(
    request: web.Request, forms: Forms | None = None, *, status: int = 200
) -> web.Response:
    principal, site = await _coordinator(request)
    session = await _session(request, principal)
    now = request.app[CLOCK].now()
    mine = next(s for s in session.sites if s.site_id == site.id)
    invite = await _invite(request, session.id, principal)
    board = await request.app[PREPARATION].board(session.id, principal)
    window, opens, closes = _checkin_window(session, now)
    checked = await request.app[ATTENDANCE].last_checkin(session.id, principal)
    done = request.query.get("done", "")
    return render(
        request,
        "site/session.html",
        {
            "site": site,
            "session": session,
            "mine": mine,
            "invite": invite,
            "tasks": board.tasks,
            "window": window,
            "opens": opens,
            "closes": closes,
            "answerable": session.status in (SessionStatus.SCHEDULED, SessionStatus.LIVE),
            "forms": forms or Forms(),
            "done": done if done in DONE else "",
            "headcount_done": request.query.get("n", "")
            if request.query.get("n", "").isdigit()
            else "",
            "accept": ",".join(sorted(ALLOWED_SUFFIXES)),
            "suffixes": ", ".join(sorted(ALLOWED_SUFFIXES)),
            "file_size": lambda size: file_size(size, language(request)),
            "checked": checked,
            "due_words": lambda task: due_words(request, task, session.created_at),
        },
        status=status,
    )


async def site_session(request: web.Request) -> web.Response:
    return await _session_page(request)


def _after(request: web.Request, done: str, **extra: str) -> web.HTTPSeeOther:
    query = "&".join([f"done={done}", *(f"{k}={v}" for k, v in extra.items())])
    return web.HTTPSeeOther(f"/site/sessions/{request.match_info['id']}?{query}")


async def rsvp(request: web.Request) -> web.StreamResponse:
    principal, site = await _coordinator(request)
    data = await form_of(request)
    await _session(request, principal)
    response = str(data.get("response", ""))
    comment = str(data.get("comment", "")).strip()
    forms = Forms(values={"comment": comment})
    if response not in ("accepted", "declined"):
        forms.errors["rsvp"] = text_of(request, "site.rsvp_pick")
    elif len(comment) > MAX_COMMENT:
        forms.errors["comment"] = text_of(request, "site.comment_long", n=MAX_COMMENT)
    if forms.errors:
        return await _session_page(request, forms, status=422)
    req = RsvpRequest(response=response, comment=comment)
    try:
        await request.app[INVITES].rsvp(request.match_info["id"], site.id, req, principal)
    except (InvalidState, PermissionDenied):
        forms.errors["rsvp"] = text_of(request, "site.rsvp_closed")
        return await _session_page(request, forms, status=409)
    raise _after(request, response)


def _names(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


async def checkin(request: web.Request) -> web.StreamResponse:
    principal, site = await _coordinator(request)
    data = await form_of(request)
    session = await _session(request, principal)
    typed_count = str(data.get("headcount", "")).strip()
    typed_names = str(data.get("names", ""))
    forms = Forms(values={"headcount": typed_count, "names": typed_names})
    names = _names(typed_names)
    headcount = int(typed_count) if re.fullmatch(r"\d{1,6}", typed_count) else None
    if headcount is None or headcount > 100_000:
        forms.errors["headcount"] = text_of(request, "site.headcount_bad")
    if len(names) > MAX_NAMES:
        forms.errors["names"] = text_of(request, "site.names_many", n=MAX_NAMES)
    elif any(len(n) > MAX_NAME for n in names):
        forms.errors["names"] = text_of(request, "site.names_long", n=MAX_NAME)
    window, _, _ = _checkin_window(session, request.app[CLOCK].now())
    if window != "open":
        forms.errors["checkin"] = text_of(request, f"site.checkin_{window}")
    if forms.errors:
        return await _session_page(request, forms, status=422 if window == "open" else 409)
    try:
        req = CheckinRequest(headcount=headcount or 0, names=names)
        await request.app[ATTENDANCE].checkin(session.id, site.id, req, principal)
    except ValidationError:
        forms.errors["headcount"] = text_of(request, "site.headcount_bad")
        return await _session_page(request, forms, status=422)
    except InvalidState as exc:  # the window closed, or it was cancelled, since the page
        closed = "cancelled" if exc.reason == "cancelled" else "closed"
        forms.errors["checkin"] = text_of(request, f"site.checkin_{closed}")
        return await _session_page(request, forms, status=409)
    raise _after(request, "checkin", n=str(headcount))


def file_size(size: int, lang: str) -> str:
    """A file's size as people read it: "812 byte", "12,3 KB", "4,5 MB" (a decimal point in
    English)."""
    if size < 1024:
        return f"{size} byte" if lang == "vi" or size == 1 else f"{size} bytes"
    value, unit = (size / 1024, "KB") if size < 1024 * 1024 else (size / (1024 * 1024), "MB")
    text = f"{value:.1f}"
    return f"{text.replace('.', ',') if lang == 'vi' else text} {unit}"


def _size(size: int) -> str:
    """A byte limit in words: "20 MB", "512 KB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{max(1, size // 1024)} KB"


async def upload(request: web.Request) -> web.StreamResponse:
    principal, _ = await _coordinator(request)
    task_id = request.match_info["task"]
    forms = Forms(task=task_id)
    try:
        data = await form_of(request)
    except web.HTTPRequestEntityTooLarge as exc:
        # the body is bigger than the service takes at all: nothing was read or stored
        limit = re.search(r"(\d+)", exc.text or "")
        forms.errors["file"] = text_of(
            request, "site.file_too_large", size=_size(int(limit.group(1))) if limit else "?"
        )
        return await _session_page(request, forms, status=413)
    session = await _session(request, principal)
    file = data.get("file")
    if not isinstance(file, web.FileField) or not file.filename:
        forms.errors["file"] = text_of(request, "site.file_missing")
        return await _session_page(request, forms, status=422)
    suffix = PurePath(file.filename).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        forms.errors["file"] = text_of(
            request,
            "site.file_type",
            name=storable(file.filename),
            suffixes=", ".join(sorted(ALLOWED_SUFFIXES)),
        )
        return await _session_page(request, forms, status=422)
    content = file.file.read()
    if not content:
        forms.errors["file"] = text_of(request, "site.file_empty", name=storable(file.filename))
        return await _session_page(request, forms, status=422)
    try:
        await request.app[PREPARATION].submit(
            session.id, task_id, file.filename, file.content_type, content, principal
        )
    except NotFound:
        raise web.HTTPNotFound(text=text_of(request, "site.no_task")) from None
    except PermissionDenied:
        raise web.HTTPForbidden(text=text_of(request, "site.not_your_task")) from None
    except InvalidRequest as exc:  # type and emptiness were checked above
        if exc.reason == "file_too_large":
            most = int(exc.values["limit"])
            forms.errors["file"] = text_of(request, "site.file_too_large", size=_size(most))
        elif exc.field == "filename":
            forms.errors["file"] = text_of(
                request, "site.file_name_bad", name=storable(file.filename)
            )
        else:
            words, lang = request.app[CATALOG], language(request)
            forms.errors["file"] = reason_words(words, lang, exc) or refusal(words, lang, exc)
        return await _session_page(request, forms, status=422)
    raise _after(request, "upload")


async def home(request: web.Request) -> web.Response:
    """The coordinator's home page, /site."""
    return await site_home(request)
