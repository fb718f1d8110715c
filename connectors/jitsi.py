"""Self-hosted Jitsi Meet: unguessable room names and per-site links carrying an HS256 token.

Also holds the parts every Jitsi-based provider shares (room names, the token window, the URL
fragment), so that JaaS links follow the same rules.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import Attendee, Meeting, PermanentConnectorError
from connectors.static_link import slugify

ROOM_MAX_LEN = 50
_SUFFIX_LEN = 16  # hex digits: 64 bits a stranger would have to guess
_MIN_SALT_LEN = 8
_ROOM_RE = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{ROOM_MAX_LEN - 1}}}")
# RFC 7518 section 3.2: an HS256 key MUST be at least as long as the hash output.
_MIN_SECRET_BYTES = 32


def secret_room_name(title: str, salt: str) -> str:
    """`<slug of title>-<16 hex digits from salt>`, at most 50 characters of `[a-z0-9-]`.

    The slug keeps the room recognisable in logs; the suffix makes it unguessable, which matters
    because a Jitsi room is open to whoever knows its name wherever tokens are not enforced.
    Raises ValueError for a salt shorter than 8 characters (too little to hide the room).
    """
    if len(salt) < _MIN_SALT_LEN:
        raise ValueError(f"room salt must have at least {_MIN_SALT_LEN} characters")
    suffix = hashlib.blake2b(salt.encode(), digest_size=_SUFFIX_LEN // 2).hexdigest()
    return f"{slugify(title, max_len=ROOM_MAX_LEN - _SUFFIX_LEN - 1)}-{suffix}"


def checked_room(meeting: Meeting) -> str:
    """The meeting's room if a token may name it; never `*`, which would open every room."""
    if not _ROOM_RE.fullmatch(meeting.room):
        raise PermanentConnectorError(
            f"session {meeting.session_id} has no usable room name ({meeting.room!r}): "
            f"expected 1-{ROOM_MAX_LEN} characters of [a-z0-9-]"
        )
    return meeting.room


def token_window(meeting: Meeting) -> tuple[int, int]:
    """`(nbf, exp)` in Unix seconds, widened to whole seconds so the window never shrinks."""
    opens, closes = meeting.opens_at, meeting.closes_at
    if _naive(opens) or _naive(closes):
        raise PermanentConnectorError(
            f"session {meeting.session_id}: link window needs timezone-aware datetimes"
        )
    nbf, exp = math.floor(opens.timestamp()), math.ceil(closes.timestamp())
    if exp <= nbf:
        raise PermanentConnectorError(
            f"session {meeting.session_id}: link window closes ({closes.isoformat()}) "
            f"before it opens ({opens.isoformat()})"
        )
    return nbf, exp


def link_fragment(meeting: Meeting, attendee: Attendee, *, subject: bool) -> str:
    """The settings a join link carries after `#`: the meeting's subject (optional) and the
    site's display name, as Jitsi's web client reads them."""
    values: dict[str, str] = {}
    if subject:
        values["config.subject"] = meeting.subject or meeting.title
    values["userInfo.displayName"] = attendee.name
    return url_fragment(values)


def url_fragment(settings: Mapping[str, str]) -> str:
    """`#key=<JSON value>&...` as the Jitsi web client reads it.

    The client URL-decodes each value and parses it as JSON, silently dropping what does not
    parse, so a bare string must be sent quoted. Non-ASCII stays as UTF-8 (percent-encoded).
    """
    if not settings:
        return ""
    return "#" + "&".join(f"{key}={_json_quoted(value)}" for key, value in settings.items())


# `quote(text, safe="")` by table: what it leaves alone, else `%XX` (its output exactly)
_QUOTED = tuple(
    chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "_.-~") else f"%{b:02X}"
    for b in range(256)
)


@functools.lru_cache(maxsize=4096)  # a meeting's subject is the same in each of its links
def _json_quoted(value: str) -> str:
    """`quote(json.dumps(value, ensure_ascii=False), safe="")`, a byte at a time by table (a
    session's thousands of Vietnamese names: urllib's quoting calls Python per byte)."""
    return "".join(map(_QUOTED.__getitem__, json.dumps(value, ensure_ascii=False).encode()))


class HS256Signer:
    """Signs a JWT with HS256, the key prepared once: the same token, byte for byte, as PyJWT's
    `jwt.encode(claims, secret, algorithm="HS256")` (header `{"alg":"HS256","typ":"JWT"}`, claims
    as compact JSON with ASCII escapes, base64url without padding, HMAC-SHA256), about five
    times faster, which counts when a session's 10,000 links are minted at once. Tokens are
    still verified with PyJWT (and by Prosody); the tests compare both ways."""

    _HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=") + b"."

    def __init__(self, secret: bytes) -> None:
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)

    def sign(self, claims: Mapping[str, Any]) -> str:
        body = json.dumps(claims, separators=(",", ":")).encode()
        signing_input = self._HEADER + base64.urlsafe_b64encode(body).rstrip(b"=")
        mac = self._mac.copy()
        mac.update(signing_input)
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
        return (signing_input + b"." + signature).decode("ascii")


def _naive(moment: datetime) -> bool:
    return moment.tzinfo is None or moment.utcoffset() is None


class JitsiProvider:
    """Self-hosted Jitsi Meet with Prosody token authentication (HS256).

    Claims: `iss` = app_id (Prosody accepts its own app_id by default), `aud` = audience (default:
    app_id; must be in the server's `asap_accepted_audiences` when that is set), `sub` = the
    lower-cased XMPP domain (checked only with domain verification on), `room`, `nbf`, `exp`,
    `context.user` {`id`, `name`, `email`, `avatar`, `affiliation`, `moderator`, `role`}.
    Every `context.user` value is a string: `mod_presence_identity` copies them into presence as
    text and fails on anything else.
    """

    def __init__(
        self,
        domain: str,
        app_id: str,
        app_secret: str,
        audience: str | None = None,
        max_participants: int = 100,
        *,
        subject_in_url: bool = True,
        token_sub: str | None = None,
    ) -> None:
        domain = domain.strip().rstrip("/")
        if not domain or "/" in domain or not app_id:
            raise PermanentConnectorError(
                "jitsi needs a domain (host name only, e.g. meet.example.org) and an app_id"
            )
        if not app_secret:
            raise PermanentConnectorError("jitsi needs an app_secret (the Prosody app_secret)")
        if len(app_secret.encode()) < _MIN_SECRET_BYTES:
            raise PermanentConnectorError(
                f"jitsi app_secret must be at least {_MIN_SECRET_BYTES} bytes for HS256"
            )
        if max_participants < 1:
            raise PermanentConnectorError("jitsi max_participants must be at least 1")
        self._domain = domain
        self._app_id = app_id
        self._signer = HS256Signer(app_secret.encode())
        self._audience = audience or app_id
        self._sub = (token_sub or domain.split(":", 1)[0]).lower()
        self._max_participants = max_participants
        self._subject_in_url = subject_in_url

    @property
    def name(self) -> str:
        return "jitsi"

    @property
    def max_participants(self) -> int:
        return self._max_participants

    def room_name(self, title: str, salt: str) -> str:
        return secret_room_name(title, salt)

    def join_url(self, meeting: Meeting, attendee: Attendee) -> str:
        room = checked_room(meeting)
        token = self._signer.sign(self.claims(meeting, attendee))
        fragment = link_fragment(meeting, attendee, subject=self._subject_in_url)
        return f"https://{self._domain}/{room}?jwt={token}{fragment}"

    def presence_token(self, room: str, now: datetime, lifetime: int = 300) -> str:
        """A token for polling `room` through mod_muc_size with
        `enable_roomsize_token_verification` on (sent as `?token=`). The plugin verifies it as
        Prosody's token auth does (signature with the app secret, `iss`, `aud`, `nbf`/`exp`),
        then its `room` claim against the room asked about, and `sub` against the domain when
        domain verification is on. Valid from a minute before `now` (clocks drift) for
        `lifetime` seconds."""
        if _naive(now):
            raise PermanentConnectorError("a presence token needs a timezone-aware time")
        at = math.floor(now.timestamp())
        claims = {
            "iss": self._app_id,
            "aud": self._audience,
            "sub": self._sub,
            "room": room.lower(),
            "iat": at,
            "nbf": at - 60,
            "exp": at + lifetime,
        }
        return self._signer.sign(claims)

    def claims(self, meeting: Meeting, attendee: Attendee) -> dict[str, Any]:
        """The token body for `attendee` (public so tests and the bench can inspect it)."""
        nbf, exp = token_window(meeting)
        user: dict[str, str] = {"id": attendee.site_id, "name": attendee.name}
        if attendee.email:
            user["email"] = attendee.email
        if attendee.avatar:
            user["avatar"] = attendee.avatar
        if attendee.moderator:
            # mod_token_affiliation reads `affiliation` first; "true" covers plugins that only
            # look at `moderator`. Others get no `moderator` key at all: the string "false" is
            # truthy in Lua and JavaScript.
            user["affiliation"] = "owner"
            user["moderator"] = "true"
        else:
            user["affiliation"] = "member"
            if attendee.visitor:
                user["role"] = "visitor"
        return {
            "iss": self._app_id,
            "aud": self._audience,
            "sub": self._sub,
            "room": checked_room(meeting),
            "nbf": nbf,
            "exp": exp,
            "context": {"user": user},
        }
