"""A fake Jitsi server's mod_muc_size on 127.0.0.1 (aiohttp), built to the plugin's wire format
(DESIGN 6.6, jitsi-meet `resources/prosody-plugins/mod_muc_size.lua`), misbehaving on demand:
failing, hanging, going away and coming back.

What it copies from the plugin: `GET /room-size` and `GET /room` with `room`, `domain` and an
optional `token` in the query; 400 without a query; 403 for a missing or wrong token when one is
required (checked before the room is looked up); 404 for a room it does not hold (a wrong `domain`
finds none either); `/room` lists one `{jid, email, display_name}` per occupant, the JID being the
room address plus the nick, "" for a missing email or name, the focus left out; `/room-size`
counts the focus too and subtracts one only when more than one is in; bodies sent without a JSON
content type. What it simplifies: the token is compared as a string, not verified as a JWT.

Use the `fake_jitsi` fixture (add `pytest_plugins = ["tests.fake_jitsi"]` to the test module or
the root conftest), or `async with FakeJitsi() as server:` anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import TracebackType

import pytest
from aiohttp import web

HOST = "127.0.0.1"
FOCUS_NICK = "focus"


@dataclass(frozen=True)
class FakeOccupant:
    """One person in a room, as their client's presence describes them."""

    nick: str
    email: str = ""  # "" when the client sent no <email>
    display_name: str = ""  # "" when the client sent no <nick>


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it (decoded query)."""

    path: str
    query: dict[str, str]


@dataclass
class Behaviour:
    """How the server answers; tests change it at any time (read per request)."""

    token: str | None = None  # when set, `?token=` must equal it (the plugin's token check)
    status: int | None = None  # answer every request with this status and an empty body
    delay: float = 0.0  # seconds to wait before answering (cut short by `stop`)
    focus: bool = True  # rooms hold the hidden focus occupant, which `/room-size` counts
    # lua-cjson (the plugin's current encoder) writes an empty Lua table as `{}`.
    empty_as_object: bool = False


class FakeJitsi:
    """mod_muc_size on a real port of 127.0.0.1; `port` stays the same across restarts.

    `rooms` maps a room name to its occupants (set them with `set_room`, drop with
    `remove_room`); `requests` lists what arrived, in order; `behaviour` decides the answers.
    `stop()` closes the port (clients get "connection refused"), `start()` opens it again.
    """

    def __init__(self, domain: str = "meet.example.vn", muc_prefix: str = "conference") -> None:
        self.host = HOST
        self.port = 0  # chosen by the system on the first start, then kept
        self.domain = domain
        self.muc_prefix = muc_prefix
        self.behaviour = Behaviour()
        self.rooms: dict[str, list[FakeOccupant]] = {}
        self.requests: list[SeenRequest] = []
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    def set_room(self, room: str, occupants: Iterable[FakeOccupant] = ()) -> None:
        self.rooms[room] = list(occupants)

    def remove_room(self, room: str) -> None:
        self.rooms.pop(room, None)

    def jid(self, room: str, nick: str) -> str:
        """The occupant's address in the room, as the plugin lists it."""
        return f"{room}@{self.muc_prefix}.{self.domain}/{nick}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._release = asyncio.Event()
        app = web.Application()
        app[_SERVER] = self
        app.router.add_get("/room-size", _room_size)
        app.router.add_get("/room", _room)
        # A hanging handler is released by `stop`; nothing else should keep shutdown waiting.
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if not self.port:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Close the port; requests still hanging are answered at once."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._release.set()
        await runner.cleanup()

    async def __aenter__(self) -> FakeJitsi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _gate(self, request: web.Request) -> tuple[str, list[FakeOccupant]] | web.Response:
        """The plugin's checks, in its order: what to answer, or the room and its occupants."""
        self.requests.append(SeenRequest(request.path, dict(request.query)))
        behaviour = self.behaviour
        if behaviour.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), behaviour.delay)
        if behaviour.status is not None:
            return web.Response(status=behaviour.status)
        if not request.query_string:
            return web.Response(status=400)
        if behaviour.token is not None and request.query.get("token") != behaviour.token:
            return web.Response(status=403)
        room = request.query.get("room", "")
        occupants = self.rooms.get(room)
        if request.query.get("domain") != self.domain or occupants is None:
            return web.Response(status=404)
        return room, occupants


_SERVER = web.AppKey("fake_jitsi", FakeJitsi)


def _body(value: object) -> web.Response:
    # Prosody sends the JSON with no Content-Type of its own: aiohttp labels raw bytes
    # application/octet-stream, so a client that trusts the label fails here as it would there.
    return web.Response(body=json.dumps(value, ensure_ascii=False).encode())


async def _room_size(request: web.Request) -> web.Response:
    server = request.app[_SERVER]
    gate = await server._gate(request)
    if isinstance(gate, web.Response):
        return gate
    _, occupants = gate
    count = len(occupants) + (1 if server.behaviour.focus else 0)
    return _body({"participants": count - 1 if count > 1 else count})


async def _room(request: web.Request) -> web.Response:
    server = request.app[_SERVER]
    gate = await server._gate(request)
    if isinstance(gate, web.Response):
        return gate
    room, occupants = gate
    listed = [
        {"jid": server.jid(room, o.nick), "email": o.email, "display_name": o.display_name}
        for o in occupants
        if o.nick != FOCUS_NICK
    ]
    if not listed and server.behaviour.empty_as_object:
        return _body({})
    return _body(listed)


@pytest.fixture
async def fake_jitsi() -> AsyncIterator[FakeJitsi]:
    """A running `FakeJitsi`, stopped after the test."""
    async with FakeJitsi() as server:
        yield server
