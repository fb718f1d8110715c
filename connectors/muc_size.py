"""`RoomPresence` from Prosody's mod_muc_size (DESIGN 6.6): its `/room` and `/room-size` endpoints
over httpx, and the translation of httpx's errors and the plugin's status codes into the connector
tree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from connectors.base import (
    ConnectorError,
    Occupant,
    PermanentConnectorError,
    TransientConnectorError,
    caused_by_untrusted_certificate,
)

# A refusal worth repeating: the server, or a proxy in front of it, is busy or going away.
_TRANSIENT_STATUS = frozenset({408, 425, 429})


class MucSizePresence:
    """Room presence from Prosody's mod_muc_size over HTTP."""

    def __init__(
        self,
        base_url: str,
        domain: str,
        *,
        token: str | Callable[[str], str] | None = None,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """`base_url` is where the plugin's routes live (Prosody's HTTP port, e.g.
        `http://prosody:5280`, or a proxy path that forwards to it); `domain` is the XMPP domain
        the plugin prefixes with `conference.` to find the room. `token` goes out as `?token=`
        for servers with `enable_roomsize_token_verification`: a fixed JWT, or a function of the
        room name that mints one (the plugin checks the token's `room` claim). `timeout` bounds
        each network step in seconds. A `client` passed in is used as is and left open by
        `aclose`; otherwise one is created on first use and closed by `aclose`.
        """
        where = f"mod_muc_size at {base_url}"
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise PermanentConnectorError(f"{where}: not a URL: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise PermanentConnectorError(f"{where}: the base URL must be http(s)://host[:port]")
        if url.query or url.fragment:
            raise PermanentConnectorError(f"{where}: the base URL takes no query or fragment")
        if not domain.strip():
            raise PermanentConnectorError(f"{where}: the XMPP domain is empty")
        if timeout <= 0:
            raise PermanentConnectorError(f"{where}: timeout must be positive, got {timeout}")
        self._where = where
        self._base = str(url).rstrip("/")
        self._domain = domain.strip()
        self._token = token
        self._timeout = httpx.Timeout(timeout)
        self._client = client
        self._owns_client = client is None

    async def occupants(self, room: str) -> list[Occupant] | None:
        body = await self._get("room", room)
        if body is None:
            return None
        # lua-cjson writes an empty Lua table as `{}`: that is the empty list.
        if body == {}:
            return []
        if not isinstance(body, list):
            raise self._garbled(room, "/room", "not a list")
        seen: dict[str, Occupant] = {}
        for entry in body:
            if not isinstance(entry, dict) or not isinstance(entry.get("jid"), str):
                raise self._garbled(room, "/room", "an entry without a jid")
            jid: str = entry["jid"]
            # The plugin lists an occupant once per session it holds; the JID is the occupant.
            if jid and jid not in seen:
                seen[jid] = Occupant(
                    jid=jid,
                    email=_text(entry.get("email")),
                    display_name=_text(entry.get("display_name")),
                )
        return list(seen.values())

    async def count(self, room: str) -> int | None:
        body = await self._get("room-size", room)
        if body is None:
            return None
        n = body.get("participants") if isinstance(body, dict) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise self._garbled(room, "/room-size", "no participant count")
        return n

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()

    async def _get(self, route: str, room: str) -> Any:
        """The decoded body of `GET /<route>` for `room`, or `None` for a 404."""
        if not room:
            raise PermanentConnectorError(f"{self._where}: no room name")
        room = room.lower()  # Prosody keeps room JIDs lowercased; Jitsi clients lowercase too
        params = {"room": room, "domain": self._domain}
        if self._token is not None:
            params["token"] = self._token if isinstance(self._token, str) else self._token(room)
        what = f"{self._where}: /{route} of room {room!r}"
        if self._client is None:
            self._client = httpx.AsyncClient()
        try:
            response = await self._client.get(
                f"{self._base}/{route}", params=params, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise TransientConnectorError(f"{what}: no answer in time ({exc!r})") from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise PermanentConnectorError(f"{what}: {exc!r}") from exc
        except httpx.TransportError as exc:
            if caused_by_untrusted_certificate(exc):
                raise PermanentConnectorError(f"{what}: untrusted certificate ({exc!r})") from exc
            raise TransientConnectorError(f"{what}: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise PermanentConnectorError(f"{what}: {exc!r}") from exc
        status = response.status_code
        if status == 404:
            return None
        if status in (401, 403):
            raise PermanentConnectorError(f"{what}: HTTP {status}, the token was refused")
        if status >= 500 or status in _TRANSIENT_STATUS:
            raise TransientConnectorError(f"{what}: HTTP {status}")
        if status != 200:
            raise PermanentConnectorError(f"{what}: HTTP {status}, check the base URL")
        # Prosody sends no JSON content type: read the body whatever it is labelled.
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise self._garbled(room, f"/{route}", "not JSON") from exc

    def _garbled(self, room: str, route: str, why: str) -> ConnectorError:
        return PermanentConnectorError(
            f"{self._where}: {route} of room {room!r} answered what mod_muc_size never sends "
            f"({why}): check the base URL"
        )


def _text(value: object) -> str | None:
    """The plugin writes "" for a presence element the client did not send."""
    return value if isinstance(value, str) and value else None
