"""Signing in to the pages: signed links (one-time for the office, reusable in emails) and the
signed cookie that carries a browser's session.

Everything here is signed with HMAC-SHA256 under a secret kept in the database (created on first
use, shared by every instance), so links and cookies survive restarts and work on any instance.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.access.service import hash_token
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import AuthenticationRequired, InvalidRequest
from orchestrator.domain.models import Principal, Role
from orchestrator.domain.text import as_sent
from orchestrator.store.base import Store

SECRET_NAME = "web-signin"
SESSION_HOURS = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class WebSession:
    """Who a browser is signed in as, until when, and the token its forms must carry."""

    principal: Principal
    expires: datetime
    csrf: str
    token_hash: str | None = None


class SignIn:
    """Issue and check sign-in links and browser sessions."""

    def __init__(self, store: Store, clock: Clock, base_url: str) -> None:
        self._store = store
        self._clock = clock
        self._base = base_url.rstrip("/")
        self._key: bytes | None = None

    async def _secret(self) -> bytes:
        if self._key is None:
            async with self._store.write() as uow:
                self._key = (await uow.tokens.secret(SECRET_NAME, secrets.token_hex(32))).encode()
        return self._key

    async def _sign(self, payload: dict[str, Any]) -> str:
        return _signed(await self._secret(), payload)

    async def _open(self, signed: str) -> dict[str, Any] | None:
        body, _, mac = signed.partition(".")
        if not body or not mac:
            return None
        raw = as_sent(body)
        expected = _b64(hmac.new(await self._secret(), raw, hashlib.sha256).digest())
        if not hmac.compare_digest(expected.encode(), as_sent(mac)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict):
            return None
        if float(payload.get("x", 0)) < self._clock.now().timestamp():
            return None
        return payload

    # links --------------------------------------------------------------------------------
    async def once_link(
        self,
        *,
        minutes: int = 15,
        actor: str = "cli",
        next_path: str = "/",
        base_url: str | None = None,
    ) -> str:
        """A link that signs one browser in as the office, once, within `minutes`
        (on `base_url`, default the configured public URL)."""
        if not 1 <= minutes <= 24 * 60:
            raise InvalidRequest("a sign-in link lasts 1 to 1440 minutes", field="minutes")
        now = self._clock.now()
        nonce = secrets.token_urlsafe(12)
        signed = await self._sign(
            {
                "k": "once",
                "r": Role.OFFICE.value,
                "n": nonce,
                "p": _safe_next(next_path),
                "x": (now + timedelta(minutes=minutes)).timestamp(),
            }
        )
        async with self._store.write() as uow:
            await uow.audit.record(
                at=now,
                actor=actor,
                action="signin.link",
                target=f"signin:{nonce}",
                detail={"role": Role.OFFICE.value, "minutes": minutes},
            )
        return f"{(base_url or self._base).rstrip('/')}/signin/{signed}"

    async def page_link(
        self,
        *,
        role: Role,
        next_path: str,
        until: datetime,
        site_id: str | None = None,
        email: str | None = None,
        base_url: str | None = None,
    ) -> str:
        """A reusable link (sent in emails) that signs a coordinator or chair in and opens
        `next_path`; it works until `until`. Raises InvalidRequest for a role without what it
        needs (a coordinator's site, a chair's email) and for the office."""
        return (await self.link_maker(base_url))(
            role=role, next_path=next_path, until=until, site_id=site_id, email=email
        )

    async def link_maker(self, base_url: str | None = None) -> LinkMaker:
        """`page_link` without awaiting, for many links at once (one per invite)."""
        return LinkMaker(await self._secret(), (base_url or self._base).rstrip("/"))

    async def redeem(self, signed: str) -> tuple[WebSession, str]:
        """The session a link opens and the page to go to. A one-time link works once.

        Raises AuthenticationRequired for a forged, expired or used link.
        """
        payload = await self._open(signed)
        if payload is None or payload.get("k") not in ("once", "link"):
            raise AuthenticationRequired("this sign-in link is not valid or has expired")
        now = self._clock.now()
        role = Role(str(payload["r"]))
        if payload["k"] == "once":
            nonce = str(payload["n"])
            async with self._store.write() as uow:
                if not await uow.actions.mark_done(f"signin:{nonce}", "-", "signin", now):
                    raise AuthenticationRequired("this sign-in link has already been used")
            principal = Principal(role=role, token_id=f"link:{nonce}", label="sign-in link")
        else:
            site = payload.get("s")
            email = payload.get("e")
            if role is Role.COORDINATOR and site and email:
                await self._check_coordinator(str(site), str(email))
            principal = Principal(
                role=role,
                token_id="link",
                site_id=str(site) if site else None,
                email=str(email) if email else None,
                label="email link",
            )
        return self.new_session(principal), str(payload.get("p") or "/")

    async def _check_coordinator(self, site_id: str, email: str) -> None:
        """A coordinator's link works only while its addressee coordinates the site: a link
        mailed to a former coordinator stops working when the directory names a new one."""
        async with self._store.read() as uow:
            site = (await uow.directory.get_sites([site_id])).get(site_id)
        current = site.coordinator.email if site else None
        if current is None or current.lower() != email.lower():
            raise AuthenticationRequired("this link was sent to the site's former coordinator")

    async def with_token(self, token: str) -> WebSession:
        """A browser session for the holder of an API token. Raises AuthenticationRequired."""
        token = token.strip()
        if not token:
            raise AuthenticationRequired("paste your access token")
        async with self._store.read() as uow:
            principal = await uow.tokens.principal_for(hash_token(token))
        if principal is None:
            raise AuthenticationRequired("unknown or revoked token")
        return self.new_session(principal, token_hash=hash_token(token))

    def new_session(self, principal: Principal, token_hash: str | None = None) -> WebSession:
        return WebSession(
            principal=principal,
            expires=self._clock.now() + timedelta(hours=SESSION_HOURS),
            csrf=secrets.token_urlsafe(16),
            token_hash=token_hash,
        )

    # cookies ------------------------------------------------------------------------------
    async def cookie(self, session: WebSession) -> str:
        p = session.principal
        return await self._sign(
            {
                "k": "session",
                "r": p.role.value,
                "t": p.token_id,
                "s": p.site_id,
                "e": p.email,
                "l": p.label,
                "h": session.token_hash,
                "c": session.csrf,
                "x": session.expires.timestamp(),
            }
        )

    async def from_cookie(self, value: str | None) -> WebSession | None:
        """The session a cookie carries, or None (forged, expired, or its token revoked)."""
        if not value:
            return None
        payload = await self._open(value)
        if payload is None or payload.get("k") != "session":
            return None
        token_hash = payload.get("h")
        if token_hash:
            async with self._store.read() as uow:
                principal = await uow.tokens.principal_for(str(token_hash))
            if principal is None:
                return None
        else:
            principal = Principal(
                role=Role(str(payload["r"])),
                token_id=str(payload.get("t") or "link"),
                site_id=payload.get("s"),
                email=payload.get("e"),
                label=str(payload.get("l") or ""),
            )
        return WebSession(
            principal=principal,
            expires=datetime.fromtimestamp(float(payload["x"]), tz=self._clock.now().tzinfo),
            csrf=str(payload.get("c") or ""),
            token_hash=str(token_hash) if token_hash else None,
        )


@dataclass(frozen=True)
class LinkMaker:
    """Makes reusable page links with a loaded secret (see `SignIn.page_link`)."""

    key: bytes
    base: str

    def __call__(
        self,
        *,
        role: Role,
        next_path: str,
        until: datetime,
        site_id: str | None = None,
        email: str | None = None,
    ) -> str:
        if role is Role.COORDINATOR and not site_id:
            raise InvalidRequest("a coordinator link needs a site", field="site")
        if role is Role.CHAIR and not email:
            raise InvalidRequest("a chair link needs an email", field="email")
        # A coordinator's link may name its addressee (the site's coordinator): it then stops
        # working once the directory names another coordinator for the site.
        if role is Role.OFFICE:
            raise InvalidRequest("the office signs in with a token or a one-time link")
        signed = _signed(
            self.key,
            {
                "k": "link",
                "r": role.value,
                "s": site_id,
                "e": email.lower() if email else None,
                "p": _safe_next(next_path),
                "x": until.timestamp(),
            },
        )
        return f"{self.base}/signin/{signed}"


def _signed(key: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def safe_local_path(path: str | None, default: str = "/") -> str:
    """`path` if it is a path on this site, else `default`: a link or a form must never send a
    browser to another host. Browsers drop tabs and newlines and read `\\` as `/`, so a path
    holding any control character, space or backslash is refused, as is `//host`."""
    if not path or not path.startswith("/") or path.startswith("//") or _UNSAFE.search(path):
        return default
    return path


def _safe_next(path: str) -> str:
    return safe_local_path(path)
