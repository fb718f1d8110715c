"""The join gateway's keys (DESIGN 10): `{base_url}/join/{key}`, a signed value naming a series
or a session, a site and that pair's nonce, so that a calendar entry lasting months carries one
link that opens the occurrence of the moment.

The key is signed (HMAC-SHA256) with a secret kept in the database (`SECRET_NAME`), so it
cannot be forged and works on every instance; the nonce is stored per (series or session, site):
0 until the link is first rotated, one more at each rotation, so a rotated key stops working.
Pure: the caller loads the secret and the nonce.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SECRET_NAME = "join-gateway"
_MAC_BYTES = 16  # 128 bits: enough against forgery, short enough for a calendar's URL field
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{22}")


class JoinSubject(enum.StrEnum):
    """What a gateway link opens the occurrences of."""

    SERIES = "series"
    SESSION = "session"


_LETTER = {JoinSubject.SERIES: "r", JoinSubject.SESSION: "s"}
_BY_LETTER = {letter: subject for subject, letter in _LETTER.items()}


@dataclass(frozen=True, slots=True)
class JoinKey:
    """What a gateway key names: a series or a session, one of its sites, and the pair's nonce
    when the key was made."""

    subject: JoinSubject
    subject_id: str
    site_id: str
    nonce: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", JoinSubject(self.subject))
        for name in ("subject_id", "site_id"):
            if not _ID_RE.fullmatch(getattr(self, name)):
                raise ValueError(f"{name} {getattr(self, name)!r} cannot go into a join key")
        if isinstance(self.nonce, bool) or not isinstance(self.nonce, int) or self.nonce < 0:
            raise ValueError(f"a join key's nonce is a whole number >= 0, got {self.nonce!r}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:_MAC_BYTES])


def sign_join_key(secret: bytes, key: JoinKey) -> str:
    """The key's text: `<body>.<mac>`, URL-safe (no escaping needed in a path)."""
    body = _b64(f"{_LETTER[key.subject]}:{key.subject_id}:{key.site_id}:{key.nonce}".encode())
    return f"{body}.{_mac(secret, body)}"


def open_join_key(secret: bytes, text: str) -> JoinKey | None:
    """What a key's text names, or None when it was not signed with `secret` (tampered, made
    up, cut short, or another service's)."""
    if not text.isascii() or not _KEY_RE.fullmatch(text):
        return None
    body, _, mac = text.partition(".")
    if not hmac.compare_digest(_mac(secret, body).encode(), mac.encode()):
        return None
    try:
        letter, subject_id, site_id, nonce = _unb64(body).decode("ascii").split(":")
        return JoinKey(_BY_LETTER[letter], subject_id, site_id, int(nonce))
    except (ValueError, KeyError):  # signed by us, so never expected: refuse all the same
        return None


def join_gateway_url(base_url: str, secret: bytes, key: JoinKey) -> str:
    """`{base_url}/join/{key}`."""
    return f"{base_url.rstrip('/')}/join/{sign_join_key(secret, key)}"


class GatewayLinks(Protocol):
    """Where invites get the sites' gateway links (the join gateway's use case implements it)."""

    @property
    def sessions_enabled(self) -> bool:
        """Whether single sessions' invites carry gateway links (`[invites] join_gateway`)."""
        ...

    async def urls(
        self, subject: JoinSubject, subject_id: str, site_ids: Sequence[str]
    ) -> dict[str, str]:
        """Each site's current gateway link to the series' or session's occurrences, by site
        id. May raise the store's errors."""
        ...

    async def rotations(self, subject: JoinSubject, subject_id: str) -> dict[str, int]:
        """How many times each site's link was rotated (sites never rotated are left out): a
        single session's invite raises its SEQUENCE by as much (DESIGN 6.7: a new link is a
        change). May raise the store's errors."""
        ...
