"""One suite for the `Mailer` port, run against each implementation: `SmtpMailer` over the test
SMTP server on 127.0.0.1, and the tests' `FakeMailer`, so that the fake keeps the port's rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from connectors.base import Mailer, PermanentConnectorError
from connectors.smtp import SmtpMailer
from tests.builders import FakeMailer
from tests.smtp_server import SmtpTestServer

SENDER = "vanphong@moet.example.org"


@dataclass
class Port:
    """A mailer and what reached the other side, as (return path, recipients, message)."""

    mailer: Mailer
    received: Callable[[], list[tuple[str, tuple[str, ...], EmailMessage]]]


@pytest.fixture(params=["smtp", "fake"])
def port(request: pytest.FixtureRequest) -> Iterator[Port]:
    if request.param == "fake":
        fake = FakeMailer(sender=SENDER)
        yield Port(fake, lambda: [(s.mail_from, s.rcpt_tos, s.parsed()) for s in fake.sent])
        return
    with SmtpTestServer() as server:
        smtp = SmtpMailer(server.host, server.port, sender=SENDER, timeout=2.0)
        yield Port(smtp, lambda: [(m.mail_from, m.rcpt_tos, m.parsed()) for m in server.messages])


def message(**headers: Any) -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg["Subject"] = "Giấy mời họp trực tuyến"
    msg.set_content("Kính gửi các điểm cầu.")
    return msg


async def test_every_recipient_has_it_and_bcc_is_not_transmitted(port: Port) -> None:
    await port.mailer.send(
        message(To="a@example.org", Cc="b@example.org", Bcc="c@example.org", From=SENDER)
    )
    [(mail_from, rcpt_tos, got)] = port.received()
    assert mail_from == SENDER
    assert sorted(rcpt_tos) == ["a@example.org", "b@example.org", "c@example.org"]
    assert got["Bcc"] is None
    assert str(got["Subject"]) == "Giấy mời họp trực tuyến"


async def test_a_message_without_from_gets_the_default_sender(port: Port) -> None:
    await port.mailer.send(message(To="a@example.org"))
    [(mail_from, _, _)] = port.received()
    assert mail_from == SENDER


async def test_a_message_without_recipients_is_permanent(port: Port) -> None:
    with pytest.raises(PermanentConnectorError):
        await port.mailer.send(message(From=SENDER))
    assert port.received() == []


async def test_send_many_answers_one_entry_per_message(port: Port) -> None:
    results = await port.mailer.send_many(
        [message(To="a@example.org"), message(From=SENDER), message(To="b@example.org")]
    )
    assert results[0] is None
    assert isinstance(results[1], PermanentConnectorError)
    assert results[2] is None
    assert [rcpt_tos for _, rcpt_tos, _ in port.received()] == [
        ("a@example.org",),
        ("b@example.org",),
    ]
