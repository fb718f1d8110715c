"""MucSizePresence against a fake mod_muc_size on 127.0.0.1: occupants read intact, a missing room
told apart from a failed poll, and every way of failing mapped to the transient or permanent side
of the connector errors. A few answers no fake server should give (garbled bodies, redirects)
go through httpx's MockTransport instead.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from connectors.base import (
    Occupant,
    PermanentConnectorError,
    TransientConnectorError,
)
from connectors.muc_size import MucSizePresence
from tests.fake_jitsi import FakeJitsi, FakeOccupant

ROOM = "hoi-nghi-tong-ket-3f9a1c2b7d4e6f80"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiKiJ9.c2lnbmF0dXJl"
HA_NOI = FakeOccupant("a1b2c3d4", "dieu-phoi.ha-noi@example.vn", "Điểm cầu Hà Nội")
DA_NANG = FakeOccupant("e5f6a7b8", "dieu-phoi.da-nang@example.vn", "Điểm cầu Đà Nẵng")


def presence_for(server: FakeJitsi, **options: object) -> MucSizePresence:
    defaults: dict[str, object] = {"timeout": 1.0}
    return MucSizePresence(server.url, server.domain, **{**defaults, **options})  # type: ignore[arg-type]


@pytest.fixture
async def fake_jitsi() -> AsyncIterator[FakeJitsi]:
    async with FakeJitsi() as server:
        yield server


@pytest.fixture
async def presence(fake_jitsi: FakeJitsi) -> AsyncIterator[MucSizePresence]:
    p = presence_for(fake_jitsi)
    try:
        yield p
    finally:
        await p.aclose()


def mocked(handler: Callable[[httpx.Request], httpx.Response]) -> MucSizePresence:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return MucSizePresence("http://prosody.test:5280", "meet.example.vn", client=client)


# --- reading a room -------------------------------------------------------------------------


async def test_occupants_are_listed_with_their_room_jid_email_and_name(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI, DA_NANG])

    got = await presence.occupants(ROOM)

    assert got == [
        Occupant(fake_jitsi.jid(ROOM, "a1b2c3d4"), HA_NOI.email, HA_NOI.display_name),
        Occupant(fake_jitsi.jid(ROOM, "e5f6a7b8"), DA_NANG.email, DA_NANG.display_name),
    ]
    assert got[0].jid == f"{ROOM}@conference.meet.example.vn/a1b2c3d4"
    seen = fake_jitsi.requests[-1]
    assert (seen.path, seen.query) == ("/room", {"room": ROOM, "domain": "meet.example.vn"})


async def test_vietnamese_names_arrive_intact(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    names = ["Sở GD&ĐT Thừa Thiên Huế", "Nguyễn Thị Ánh Tuyết", "Phòng họp tầng 3 — Cần Thơ"]
    fake_jitsi.set_room(ROOM, [FakeOccupant(f"n{i}", "", n) for i, n in enumerate(names)])

    got = await presence.occupants(ROOM)

    assert got is not None
    assert [o.display_name for o in got] == names


async def test_an_occupant_without_email_or_name_has_none(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    fake_jitsi.set_room(ROOM, [FakeOccupant("guest1")])

    assert await presence.occupants(ROOM) == [
        Occupant(fake_jitsi.jid(ROOM, "guest1"), email=None, display_name=None)
    ]


async def test_a_room_nobody_opened_is_none_not_an_error(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    fake_jitsi.set_room("another-room", [HA_NOI])

    assert await presence.occupants(ROOM) is None
    assert await presence.count(ROOM) is None


async def test_the_domain_is_sent_so_another_domain_finds_no_room(
    fake_jitsi: FakeJitsi,
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    elsewhere = MucSizePresence(fake_jitsi.url, "other.example.vn", timeout=1.0)
    try:
        assert await elsewhere.occupants(ROOM) is None
    finally:
        await elsewhere.aclose()
    assert fake_jitsi.requests[-1].query["domain"] == "other.example.vn"


@pytest.mark.parametrize("empty_as_object", [False, True], ids=["[]", "{} (lua-cjson)"])
async def test_an_open_room_with_only_its_focus_is_empty(
    fake_jitsi: FakeJitsi, presence: MucSizePresence, empty_as_object: bool
) -> None:
    fake_jitsi.behaviour.empty_as_object = empty_as_object
    fake_jitsi.set_room(ROOM, [FakeOccupant("focus")])

    assert await presence.occupants(ROOM) == []


async def test_room_names_are_asked_lowercased(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])

    got = await presence.occupants(ROOM.upper())

    assert got is not None
    assert [o.email for o in got] == [HA_NOI.email]


# --- counting -------------------------------------------------------------------------------


async def test_room_size_counts_the_occupants(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI, DA_NANG, FakeOccupant("guest1")])

    assert await presence.count(ROOM) == 3
    seen = fake_jitsi.requests[-1]
    assert (seen.path, seen.query) == ("/room-size", {"room": ROOM, "domain": "meet.example.vn"})


async def test_room_size_of_a_room_holding_only_its_focus_is_one(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    # The plugin subtracts the focus only when more than one occupant is in: a count, not a roll.
    fake_jitsi.set_room(ROOM, [])

    assert await presence.count(ROOM) == 1
    assert await presence.occupants(ROOM) == []


# --- failing --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_a_server_error_is_transient(
    fake_jitsi: FakeJitsi, presence: MucSizePresence, status: int
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    fake_jitsi.behaviour.status = status

    with pytest.raises(TransientConnectorError, match=f"HTTP {status}"):
        await presence.occupants(ROOM)
    with pytest.raises(TransientConnectorError, match=f"HTTP {status}"):
        await presence.count(ROOM)


async def test_a_server_that_hangs_is_transient_once_the_timeout_passes(
    fake_jitsi: FakeJitsi,
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    fake_jitsi.behaviour.delay = 10.0
    impatient = presence_for(fake_jitsi, timeout=0.2)
    started = time.monotonic()
    try:
        with pytest.raises(TransientConnectorError, match="no answer in time") as caught:
            await impatient.occupants(ROOM)
    finally:
        await impatient.aclose()

    assert 0.15 < time.monotonic() - started < 1.0
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


async def test_a_server_that_is_down_is_transient_and_comes_back(
    fake_jitsi: FakeJitsi, presence: MucSizePresence
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    await fake_jitsi.stop()

    with pytest.raises(TransientConnectorError) as caught:
        await presence.occupants(ROOM)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)

    await fake_jitsi.start()
    got = await presence.occupants(ROOM)
    assert got is not None
    assert len(got) == 1


@pytest.mark.parametrize("sent", [None, "not-the-token"], ids=["missing", "wrong"])
async def test_a_refused_token_is_permanent_and_never_shown(
    fake_jitsi: FakeJitsi, sent: str | None
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    fake_jitsi.behaviour.token = TOKEN
    p = presence_for(fake_jitsi, token=sent)
    try:
        with pytest.raises(PermanentConnectorError, match="HTTP 403") as caught:
            await p.occupants(ROOM)
        with pytest.raises(PermanentConnectorError, match="HTTP 403"):
            await p.count(ROOM)
    finally:
        await p.aclose()
    assert not isinstance(caught.value, TransientConnectorError)
    assert sent is None or sent not in str(caught.value)


async def test_the_right_token_is_sent_and_accepted(fake_jitsi: FakeJitsi) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    fake_jitsi.behaviour.token = TOKEN
    p = presence_for(fake_jitsi, token=TOKEN)
    try:
        got = await p.occupants(ROOM)
        assert await p.count(ROOM) == 1
    finally:
        await p.aclose()

    assert got is not None
    assert [o.email for o in got] == [HA_NOI.email]
    assert all(r.query["token"] == TOKEN for r in fake_jitsi.requests)


async def test_a_token_can_be_minted_per_room(fake_jitsi: FakeJitsi) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    fake_jitsi.behaviour.token = f"token-for-{ROOM}"
    asked: list[str] = []

    def mint(room: str) -> str:
        asked.append(room)
        return f"token-for-{room}"

    p = presence_for(fake_jitsi, token=mint)
    try:
        assert await p.count(ROOM) == 1
    finally:
        await p.aclose()
    assert asked == [ROOM]


# --- answers only a broken deployment gives (MockTransport) ---------------------------------


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (401, b"[]", "HTTP 401"),
        (400, b"[]", "HTTP 400"),
        (302, b"[]", "HTTP 302"),
        (200, b"<html>Welcome to nginx!</html>", "not JSON"),
        (200, b'{"participants": 2}', "not a list"),  # /room answered like /room-size
        (200, b'[{"email": "x@example.vn"}]', "without a jid"),
    ],
    ids=["401", "400", "redirect", "html", "object", "no-jid"],
)
async def test_answers_from_a_misconfigured_server_are_permanent(
    status: int, body: bytes, says: str
) -> None:
    p = mocked(lambda request: httpx.Response(status, content=body))

    with pytest.raises(PermanentConnectorError, match=says):
        await p.occupants(ROOM)


@pytest.mark.parametrize("body", [b"[]", b'{"participants": true}', b'{"participants": -1}', b"7"])
async def test_a_room_size_without_a_count_is_permanent(body: bytes) -> None:
    p = mocked(lambda request: httpx.Response(200, content=body))

    with pytest.raises(PermanentConnectorError, match="no participant count"):
        await p.count(ROOM)


async def test_an_occupant_listed_once_per_session_comes_back_once() -> None:
    jid = f"{ROOM}@conference.meet.example.vn/a1b2c3d4"
    entry = {"jid": jid, "email": HA_NOI.email, "display_name": HA_NOI.display_name}
    p = mocked(lambda request: httpx.Response(200, json=[entry, entry]))

    assert await p.occupants(ROOM) == [Occupant(jid, HA_NOI.email, HA_NOI.display_name)]


async def test_a_dropped_connection_is_transient() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    with pytest.raises(TransientConnectorError) as caught:
        await mocked(drop).occupants(ROOM)
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


# --- configuration and lifecycle ------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "domain", "timeout"),
    [
        ("prosody:5280", "meet.example.vn", 1.0),
        ("ftp://prosody:5280", "meet.example.vn", 1.0),
        ("http://prosody:5280/?room=x", "meet.example.vn", 1.0),
        ("http://prosody:5280", " ", 1.0),
        ("http://prosody:5280", "meet.example.vn", 0.0),
    ],
    ids=["no-scheme", "ftp", "query", "no-domain", "no-timeout"],
)
def test_a_bad_configuration_is_refused_up_front(
    base_url: str, domain: str, timeout: float
) -> None:
    with pytest.raises(PermanentConnectorError):
        MucSizePresence(base_url, domain, timeout=timeout)


async def test_a_base_url_with_a_path_prefix_keeps_it() -> None:
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"participants": 4})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    p = MucSizePresence("https://meet.example.vn/muc/", "meet.example.vn", client=client)
    assert await p.count(ROOM) == 4
    assert paths == ["/muc/room-size"]
    await client.aclose()


async def test_aclose_closes_its_own_client_but_not_one_passed_in(
    fake_jitsi: FakeJitsi,
) -> None:
    fake_jitsi.set_room(ROOM, [HA_NOI])
    own = presence_for(fake_jitsi)
    assert await own.count(ROOM) == 1
    client = own._client
    await own.aclose()
    assert client is not None
    assert client.is_closed

    async with httpx.AsyncClient() as shared:
        borrowed = MucSizePresence(fake_jitsi.url, fake_jitsi.domain, client=shared)
        assert await borrowed.count(ROOM) == 1
        await borrowed.aclose()
        assert not shared.is_closed
