"""What every page shares: the signed-in viewer, language, time zone, CSRF, rendering.

Page handlers call `viewer_for(request, *roles)` first (it redirects to the sign-in page or answers
403), read forms with `form_of` (which checks the CSRF token), and answer with `render`.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from orchestrator.access.signin import WebSession, safe_local_path
from orchestrator.domain.models import Principal, Role
from orchestrator.domain.text import as_sent, unstorable
from orchestrator.web.keys import CATALOG, CLOCK, PUBLIC_URL, SITE_NAME, SITE_ZONE, WEB
from orchestrator.web.wording import invalid

SESSION_COOKIE = "orch_session"
PRE_COOKIE = "orch_pre"  # double-submit CSRF token for forms shown before signing in
LANG_COOKIE = "orch_lang"
ZONE_COOKIE = "orch_tz"
LANGUAGES = ("vi", "en")
DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
ZONES = (
    "Asia/Ho_Chi_Minh",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Tokyo",
    "UTC",
    "Europe/Paris",
    "America/New_York",
)
HOME = {Role.OFFICE: "/office", Role.COORDINATOR: "/site", Role.CHAIR: "/chair"}


class Catalog:
    """Every page string in Vietnamese and English, from `pages/locales/*.toml`.

    Each file maps a key to `{vi = "...", en = "..."}`; `{name}` placeholders are filled by the
    caller. A key in two files, or without both languages, is refused when the app starts.
    """

    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages = dict(messages)

    @classmethod
    def load(cls) -> Catalog:
        messages: dict[str, dict[str, str]] = {}
        folder = resources.files("orchestrator.web.pages") / "locales"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".toml"):
                continue
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            for key, value in data.items():
                if key in messages:
                    raise ValueError(f"{entry.name}: {key} is already defined")
                if not isinstance(value, dict) or set(value) != set(LANGUAGES):
                    raise ValueError(f"{entry.name}: {key} needs exactly vi and en")
                messages[key] = {lang: str(value[lang]) for lang in LANGUAGES}
        return cls(messages)

    def known(self) -> set[str]:
        return set(self._messages)

    def text(self, lang: str, key: str, **values: Any) -> str:
        entry = self._messages.get(key)
        if entry is None:
            return key  # a missing key shows itself; tests check every used key exists
        text = entry[lang]
        return text.format(**values) if values else text


def language(request: web.Request) -> str:
    wanted = request.cookies.get(LANG_COOKIE, "vi")
    return wanted if wanted in LANGUAGES else "vi"


def zone_name(request: web.Request) -> str:
    """The viewer's zone: their choice, else their site's zone, else Hà Nội's."""
    chosen = request.cookies.get(ZONE_COOKIE)
    if chosen and valid_zone(chosen):
        return chosen
    return request.get(SITE_ZONE) or DEFAULT_ZONE


def zone_label(name: str, at: datetime) -> str:
    offset = at.astimezone(ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{name} (UTC{sign}{hours:02d}:{rest:02d})"


WEEKDAYS = {
    "vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def format_when(at: datetime | None, lang: str, zone: str, what: str = "datetime") -> str:
    """A time in the viewer's zone: `T5 10/12/2026 08:00` (vi) or `Thu 2026-12-10 08:00` (en)."""
    if at is None:
        return "—"
    local = at.astimezone(ZoneInfo(zone))
    day = WEEKDAYS[lang][local.weekday()]
    date = local.strftime("%d/%m/%Y") if lang == "vi" else local.strftime("%Y-%m-%d")
    if what == "time":
        return local.strftime("%H:%M")
    if what == "date":
        return f"{day} {date}"
    return f"{day} {date} {local.strftime('%H:%M')}"


async def web_session(request: web.Request) -> WebSession | None:
    if WEB in request:
        return request[WEB]
    return None


def _signin_redirect(request: web.Request) -> web.HTTPException:
    return web.HTTPSeeOther(f"/signin?next={quote(request.path_qs, safe='/')}")


async def viewer_for(request: web.Request, *roles: Role) -> Principal:
    """The signed-in viewer; redirects to sign in, or answers 403 if their role is not in `roles`
    (no roles: anyone signed in)."""
    session = await web_session(request)
    if session is None:
        raise _signin_redirect(request)
    if roles and session.principal.role not in roles:
        raise web.HTTPForbidden(text=text_of(request, "error.wrong_role"))
    return session.principal


async def form_of(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form, after checking its CSRF token (403 when it is missing or wrong)."""
    try:
        data = await request.post()
    except (ValueError, RuntimeError, HttpProcessingError) as exc:
        # aiohttp says so for a form it cannot parse (no boundary, bad headers, undecodable)
        raise web.HTTPBadRequest(text=text_of(request, "error.bad_form")) from exc
    for key, value in data.items():
        if isinstance(value, str) and (unstorable(key) or unstorable(value)):
            raise web.HTTPUnprocessableEntity(text=text_of(request, "error.unstorable", field=key))
    given = str(data.get("csrf", ""))
    session = await web_session(request)
    expected = session.csrf if session else request.cookies.get(PRE_COOKIE, "")
    if not expected or not secrets.compare_digest(as_sent(given), as_sent(expected)):
        raise web.HTTPForbidden(text=text_of(request, "error.form_expired"))
    return data


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Render `template` with the page basics (viewer, language, zone, CSRF, `_`) added."""
    lang = language(request)
    zone = zone_name(request)
    catalog = request.app[CATALOG]
    session = request.get(WEB)
    now = request.app[CLOCK].now()
    pre = None
    if session is None:
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(16)

    def _(key: str, **values: Any) -> str:
        return catalog.text(lang, key, **values)

    def when(at: datetime | None, what: str = "datetime") -> str:
        return format_when(at, lang, zone, what)

    def static(name: str) -> str:
        return str(request.app.router["static"].url_for(filename=name))

    base: dict[str, Any] = {
        "_": _,
        "static": static,
        "catalog_keys": catalog.known(),
        "lang": lang,
        "zone": zone,
        "zone_label": zone_label(zone, now),
        "zones": ZONES,
        "when": when,
        "now": now,
        "viewer": session.principal if session else None,
        "site_name": request.get(SITE_NAME),
        "home": HOME[session.principal.role] if session else "/signin",
        "csrf": session.csrf if session else pre,
        "path": request.path_qs,
        "request": request,
    }
    base.update(context or {})
    response = aiohttp_jinja2.render_template(template, request, base, status=status)
    if pre is not None and request.cookies.get(PRE_COOKIE) != pre:
        response.set_cookie(
            PRE_COOKIE,
            pre,
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(request),
            path="/",
        )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def text_of(request: web.Request, key: str, **values: Any) -> str:
    """A catalog string in the viewer's language (for messages built in handlers)."""
    return request.app[CATALOG].text(language(request), key, **values)


def invalid_text(request: web.Request, error: ErrorDetails) -> str:
    """One of pydantic's validation errors in the viewer's language, to put beside its field."""
    return invalid(request.app[CATALOG], language(request), error)


def invalid_summary(request: web.Request, exc: ValidationError) -> str:
    """Every error of `exc` in the viewer's language, one sentence after another."""
    return " ".join(dict.fromkeys(invalid_text(request, e) for e in exc.errors(include_url=False)))


def local_path(value: str | None, default: str = "/") -> str:
    """`value` if it is a path on this site, else `default` (never redirect to another host)."""
    return safe_local_path(value, default)


def form_date(value: str | None) -> date | None:
    """A form's `YYYY-MM-DD`, or None. Far-off years are typing slips, and date arithmetic near
    year 1 or 9999 overflows."""
    try:
        parsed = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return parsed if 1970 <= parsed.year <= 2200 else None


def form_time(value: str | None) -> time | None:
    """A form's `HH:MM`, or None."""
    try:
        return time.fromisoformat((value or "").strip())
    except ValueError:
        return None


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """`day` at `at` on the clocks of `zone`, or None when no clock there shows it (the hour
    skipped when clocks go forward)."""
    instant = datetime.combine(day, at, tzinfo=zone)
    back = instant.astimezone(UTC).astimezone(zone)
    return instant if back.replace(tzinfo=None) == instant.replace(tzinfo=None) else None


def valid_zone(name: str | None) -> bool:
    """Whether `name` is a time zone (`America` is a folder of them, not a zone)."""
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def secure_cookies(request: web.Request) -> bool:
    """Cookies are `Secure` over HTTPS, also behind a proxy that ends TLS (then
    `[server] base_url` starts with https)."""
    return request.secure or request.app[PUBLIC_URL].startswith("https://")


def protect(response: web.StreamResponse) -> None:
    """Headers every page carries: not framed by other sites, no referrer to other hosts,
    scripts and styles only from here."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
