"""What many tests set up, built one way: the usual booking, the tokens and signed-in principals
of each role, the app on a real port, mail aimed at the test SMTP server, and `FakeMailer`, the
recording mailer of every test that does not send over that server, and `NoBoards`, the event
log's watchers when no board is open."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp.test_utils import TestServer

from connectors.base import ConnectorError, PermanentConnectorError
from orchestrator.booking.schemas import BookingOut, BookSessionRequest
from orchestrator.bootstrap import Container
from orchestrator.domain.models import Principal, Role
from orchestrator.settings import Settings, SmtpSettings
from orchestrator.web.app import init_app

if TYPE_CHECKING:
    from tests.smtp_server import SmtpTestServer


# The six sites of config/directory.example.toml, Hà Nội (the ministry's) first.
SIX = ["ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "nghe-an"]


CHAIR_EMAIL = "chair@moet.example.org"
OFFICE = Principal(role=Role.OFFICE, token_id="test-office", label="test office")


def chair(email: str = CHAIR_EMAIL, token_id: str = "t-c") -> Principal:
    """A chair signed in through a link (no token of its own)."""
    return Principal(role=Role.CHAIR, token_id=token_id, email=email)


def coordinator(site_id: str, token_id: str | None = None) -> Principal:
    """The coordinator of `site_id`."""
    return Principal(role=Role.COORDINATOR, token_id=token_id or f"t-{site_id}", site_id=site_id)


@dataclass(frozen=True)
class Tokens:
    """API tokens issued on a service: the office's, a chair's and some sites' coordinators'."""

    office: str
    chair: str
    coordinators: dict[str, str]


async def issue_tokens(
    c: Container, *sites: str, chair_email: str | None = CHAIR_EMAIL, office_label: str = ""
) -> Tokens:
    """Issue an office token, a token for the chair `chair_email` (none for None; `chair` is
    then empty) and one per coordinator of `sites`."""
    access = c.access
    office = (await access.create_token(Role.OFFICE, label=office_label)).token
    chair_token = ""
    if chair_email is not None:
        chair_token = (await access.create_token(Role.CHAIR, email=chair_email)).token
    coordinators = {
        site: (await access.create_token(Role.COORDINATOR, site_id=site)).token for site in sites
    }
    return Tokens(office, chair_token, coordinators)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class SignedIn:
    """A pages session: the cookie's value and the forms' CSRF token."""

    cookie: str
    csrf: str


async def sign_in(c: Container, principal: Principal) -> SignedIn:
    """Sign `principal` in to the pages, as following a sign-in link does."""
    session = c.signin.new_session(principal)
    return SignedIn(await c.signin.cookie(session), session.csrf)


START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 10 December 2026, 08:00 in Hà Nội
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)  # 11:30

# What a national meeting of the office names beyond the required fields (`national_booking`).
NATIONAL: dict[str, Any] = {
    "title": "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT",
    "kind": "national",
    "start": "2026-12-10T08:00:00+07:00",
    "end": "2026-12-10T11:30:00+07:00",
    "timezone": "Asia/Ho_Chi_Minh",
    "chair": {"name": "Chánh Văn phòng Bộ", "email": CHAIR_EMAIL},
    "leader_groups": ["lanh-dao-bo"],
    "buffer_before_minutes": 30,
    "buffer_after_minutes": 15,
}


def booking_data(**over: Any) -> dict[str, Any]:
    """A booking request's body: the six sites from 08:00 to 11:30 in Hà Nội on Thursday
    10 December 2026, hosted by Hà Nội; `over` replaces or adds fields (datetimes become ISO)."""
    data: dict[str, Any] = {
        "title": "Hội nghị trực tuyến",
        "start": START,
        "end": END,
        "host_site": "ha-noi",
        "sites": SIX,
        "chair": {"name": "Chánh Văn phòng", "email": CHAIR_EMAIL},
        **over,
    }
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def national_data(**over: Any) -> dict[str, Any]:
    """`booking_data` of a national meeting: kind, zone, leader group and buffers named."""
    return booking_data(**{**NATIONAL, **over})


# Tuesday 12 January 2027, 08:00 in Hà Nội: a regional meeting, its preparation plan due before.
REGIONAL_START = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)
REGION = "dong-bang-song-hong"  # Hà Nội is its head site and its only site in the directory


def regional_data(**over: Any) -> dict[str, Any]:
    """`booking_data` of Đồng bằng sông Hồng's regional meeting, 08:00 to 11:00 on Tuesday
    12 January 2027, chaired by the region's head; the region's sites take part (no list)."""
    data = booking_data(
        **{
            "title": "Giao ban vùng",
            "kind": "regional",
            "region": REGION,
            "start": REGIONAL_START,
            "end": REGIONAL_START + timedelta(hours=3),
            "chair": {"name": "Trưởng vùng", "email": "head@example.org"},
            **over,
        }
    )
    if "sites" not in over:
        del data["sites"]
    return data


def booking(**over: Any) -> BookSessionRequest:
    return BookSessionRequest.model_validate(booking_data(**over))


def national_booking(**over: Any) -> BookSessionRequest:
    return BookSessionRequest.model_validate(national_data(**over))


async def book(c: Container, request: BookSessionRequest | None = None, **over: Any) -> BookingOut:
    """Book `request` (else `booking(**over)`) as the office; the booking must succeed."""
    answer = await c.bookings.book(request or booking(**over), OFFICE)
    assert answer.status == 201, answer.value
    return answer.value


async def book_national(c: Container, **over: Any) -> BookingOut:
    return await book(c, national_booking(**over))


async def book_regional(c: Container, **over: Any) -> BookingOut:
    return await book(c, BookSessionRequest.model_validate(regional_data(**over)))


@asynccontextmanager
async def serving(c: Container) -> AsyncIterator[TestServer]:
    """The web app over `c` on a free port of 127.0.0.1, closed on the way out."""
    server = TestServer(init_app(c), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def base_url(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


@asynccontextmanager
async def client(c: Container, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app over `c`, served for as long as the client is open."""
    async with (
        serving(c) as server,
        httpx.AsyncClient(base_url=base_url(server), **options) as http,
    ):
        yield http


def with_smtp(settings: Settings, server: SmtpTestServer, **smtp: Any) -> Settings:
    """`settings` sending mail to the test SMTP server on 127.0.0.1, with a short timeout."""
    section = SmtpSettings(host=server.host, port=server.port, **{"timeout": 2.0, **smtp})
    return settings.model_copy(update={"smtp": section})


async def deliver(c: Container) -> None:
    """Deliver all that the outbox has due now."""
    while await c.invites.deliver_due():
        pass


@dataclass(frozen=True)
class SentMessage:
    """One message `FakeMailer` took, as a server would receive it (envelope and content)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage  # Bcc removed, From filled in: as transmitted

    def parsed(self) -> EmailMessage:
        return self.message


@dataclass
class FakeMailer:
    """The `Mailer` port, recording each message it is asked to send instead of sending it.

    Follows the port's envelope rules: the return path is `Sender`, else `From`, else the default
    sender (which is then written as `From`); the recipients are To, Cc and Bcc, and Bcc is not
    transmitted. A message without a sender or recipients is refused as the port says.
    """

    sender: str = "office@example.org"
    sent: list[SentMessage] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        rcpt_tos = tuple(
            address
            for _, address in getaddresses(
                [str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])]
            )
            if address
        )
        if not rcpt_tos:
            raise PermanentConnectorError("the message names no recipient")
        transmitted = copy.deepcopy(message)
        del transmitted["Bcc"]
        if transmitted["From"] is None:
            if not self.sender:
                raise PermanentConnectorError("the message has no sender")
            transmitted["From"] = self.sender
        [(_, mail_from)] = getaddresses([str(transmitted["Sender"] or transmitted["From"])])
        self.sent.append(SentMessage(mail_from, rcpt_tos, transmitted))

    async def send_many(self, messages: Sequence[EmailMessage]) -> list[ConnectorError | None]:
        results: list[ConnectorError | None] = []
        for message in messages:
            try:
                await self.send(message)
            except ConnectorError as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to `address` (any of To, Cc, Bcc), in order."""
        return [s.message for s in self.sent if address in s.rcpt_tos]


class NoBoards:
    """The event log's `Watchers` when no board is open: told of nothing to feed."""

    watching = False

    def feed(self, logged: object) -> None:
        raise AssertionError("no board is open")

    def publish(self, session_id: str) -> None:
        pass
