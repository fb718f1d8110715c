"""SmtpMailer against a real SMTP server on 127.0.0.1: delivery intact, and every way of failing
mapped to the transient or permanent side of the connector errors."""

from __future__ import annotations

import time
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest
from aiosmtplib import SMTPException

from connectors.base import ConnectorError, PermanentConnectorError, TransientConnectorError
from connectors.smtp import SmtpMailer

if TYPE_CHECKING:  # loaded by pytest as a plugin (tests/conftest.py), so asserts are rewritten
    from tests.smtp_server import SmtpTestServer

OFFICE = "van-phong@bo.example.vn"
HA_NOI = "dieu-phoi.ha-noi@example.vn"
DA_NANG = "dieu-phoi.da-nang@example.vn"
SUBJECT = "Mời họp trực tuyến: Hội nghị tổng kết công tác năm 2026 — điểm cầu Hà Nội"
BODY = (
    "Kính gửi điểm cầu Hà Nội,\n\n"
    "Phiên họp bắt đầu lúc 09:00 ngày 23/11/2026 (giờ Hà Nội, UTC+7).\n"
    ".Dòng này bắt đầu bằng dấu chấm.\n"
    "Đường dẫn: https://meet.example.vn/hoi-nghi-tong-ket\n"
)
ICS = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//orchestrator//vi\r\n"
    "METHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:7f3c2a1e.ha-noi@bo.example.vn\r\n"
    "SEQUENCE:0\r\n"
    "DTSTAMP:20261120T020000Z\r\n"
    "DTSTART;TZID=Asia/Ho_Chi_Minh:20261123T090000\r\n"
    "DTEND;TZID=Asia/Ho_Chi_Minh:20261123T113000\r\n"
    "SUMMARY:Hội nghị tổng kết công tác năm 2026\r\n"
    "LOCATION:Phòng họp trực tuyến tầng 3\\, trụ sở Bộ\r\n"
    "ORGANIZER;CN=Văn phòng Bộ:mailto:van-phong@bo.example.vn\r\n"
    "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dieu-phoi\r\n"
    " .ha-noi@example.vn\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
).encode()
CALENDAR_PARAMS = {"method": "REQUEST", "charset": "UTF-8", "component": "VEVENT"}


def message(to: str | list[str] = HA_NOI, subject: str = SUBJECT) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = OFFICE
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(BODY)
    return msg


def invite() -> EmailMessage:
    """multipart/mixed > multipart/alternative (text, HTML, text/calendar) + invite.ics."""
    msg = message()
    msg.add_alternative("<p>Kính gửi điểm cầu Hà Nội</p>", subtype="html")
    # Inline as text (sent 8bit: the server offers 8BITMIME), attached as bytes (base64).
    msg.add_alternative(ICS.decode(), subtype="calendar", params=CALENDAR_PARAMS)
    msg.add_attachment(ICS, "text", "calendar", filename="invite.ics")
    return msg


def mailer(server: SmtpTestServer, **options: object) -> SmtpMailer:
    defaults: dict[str, object] = {"timeout": 1.0, "local_hostname": "client.test"}
    return SmtpMailer(server.host, server.port, **{**defaults, **options})  # type: ignore[arg-type]


def calendar_parts(received: EmailMessage) -> list[EmailMessage]:
    return [part for part in received.walk() if part.get_content_type() == "text/calendar"]


async def test_an_invite_arrives_intact(smtp_server: SmtpTestServer) -> None:
    sent = invite()
    await mailer(smtp_server).send(sent)

    [got] = smtp_server.messages
    assert got.mail_from == OFFICE
    assert got.rcpt_tos == (HA_NOI,)
    received = got.parsed()
    assert received["Subject"] == SUBJECT
    assert received.get_content_type() == "multipart/mixed"
    alternative = next(received.iter_parts())
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    body = received.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content() == BODY  # the line starting with "." survived dot-stuffing
    inline, attached = calendar_parts(received)
    assert {k: inline.get_param(k) for k in CALENDAR_PARAMS} == CALENDAR_PARAMS
    assert inline["Content-Transfer-Encoding"] == "8bit"
    assert inline.get_payload(decode=True) == ICS
    assert attached.get_filename() == "invite.ics"
    assert attached.get_payload(decode=True) == ICS
    # The calendar part as generated is in what the server received, byte for byte.
    sent_part = calendar_parts(sent)[0].as_bytes(policy=sent.policy.clone(linesep="\r\n"))
    assert sent_part.split(b"\r\n\r\n", 1)[1] in got.content


async def test_all_recipients_receive_one_copy(smtp_server: SmtpTestServer) -> None:
    msg = message([HA_NOI, DA_NANG])
    msg["Cc"] = "lanh-dao@bo.example.vn"
    msg["Bcc"] = "luu-tru@bo.example.vn"
    await mailer(smtp_server).send(msg)

    [got] = smtp_server.messages
    assert set(got.rcpt_tos) == {HA_NOI, DA_NANG, "lanh-dao@bo.example.vn", "luu-tru@bo.example.vn"}
    assert got.parsed()["Bcc"] is None


async def test_a_message_without_from_gets_the_default_sender(
    smtp_server: SmtpTestServer,
) -> None:
    msg = message()
    del msg["From"]
    await mailer(smtp_server, sender=OFFICE).send(msg)

    [got] = smtp_server.messages
    assert got.mail_from == OFFICE
    assert got.parsed()["From"] == OFFICE
    assert msg["From"] is None  # the caller's message is left as it was


async def test_a_message_without_any_sender_is_permanent(smtp_server: SmtpTestServer) -> None:
    msg = message()
    del msg["From"]
    with pytest.raises(PermanentConnectorError, match="From"):
        await mailer(smtp_server).send(msg)
    assert smtp_server.messages == []


async def test_a_refused_recipient_is_permanent(smtp_server: SmtpTestServer) -> None:
    smtp_server.behaviour.refuse_recipients[HA_NOI] = "550 5.1.1 No such user"

    with pytest.raises(PermanentConnectorError) as caught:
        await mailer(smtp_server).send(message())

    text = str(caught.value)
    assert f"{smtp_server.host}:{smtp_server.port}" in text
    assert "550" in text
    assert HA_NOI in text
    assert isinstance(caught.value.__cause__, SMTPException)
    assert smtp_server.messages == []


async def test_a_partly_refused_message_is_permanent_and_names_the_refused(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.behaviour.refuse_recipients[DA_NANG] = "450 4.2.1 Mailbox busy"

    with pytest.raises(PermanentConnectorError, match=r"dieu-phoi\.da-nang@example\.vn \(450"):
        await mailer(smtp_server).send(message([HA_NOI, DA_NANG]))

    [got] = smtp_server.messages  # the other recipient has it: a retry would send it twice
    assert got.rcpt_tos == (HA_NOI,)


@pytest.mark.parametrize(
    ("where", "reply", "error"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", TransientConnectorError),
        ("mail", "451 4.3.0 Temporary failure", TransientConnectorError),
        ("data", "451 4.3.0 Temporary failure", TransientConnectorError),
        ("data", "421 4.3.2 Shutting down", TransientConnectorError),
        ("rcpt", "550 5.1.1 No such user", PermanentConnectorError),
        ("mail", "553 5.7.1 Sender not allowed", PermanentConnectorError),
        ("data", "554 5.6.0 Message rejected", PermanentConnectorError),
    ],
)
async def test_replies_map_by_their_code(
    smtp_server: SmtpTestServer, where: str, reply: str, error: type[ConnectorError]
) -> None:
    behaviour = smtp_server.behaviour
    if where == "rcpt":
        behaviour.refuse_recipients[HA_NOI] = reply
    elif where == "mail":
        behaviour.mail_reply = reply
    else:
        behaviour.data_reply = reply

    with pytest.raises(ConnectorError) as caught:
        await mailer(smtp_server).send(message())

    assert type(caught.value) is error
    assert reply[:3] in str(caught.value)
    assert smtp_server.messages == []


async def test_a_server_that_is_down_is_transient(smtp_server: SmtpTestServer) -> None:
    smtp_server.stop()

    with pytest.raises(TransientConnectorError) as caught:
        await mailer(smtp_server).send(message())

    assert f"{smtp_server.host}:{smtp_server.port}" in str(caught.value)
    assert isinstance(caught.value.__cause__, SMTPException)


async def test_a_slow_server_is_transient_within_the_timeout(smtp_server: SmtpTestServer) -> None:
    smtp_server.behaviour.data_delay = 1.5
    started = time.monotonic()

    with pytest.raises(TransientConnectorError, match=r"did not answer within 0\.5 s"):
        await mailer(smtp_server, timeout=0.5).send(message())

    assert time.monotonic() - started < 1.2


async def test_the_next_send_succeeds_once_the_server_is_back(
    smtp_server: SmtpTestServer,
) -> None:
    mail = mailer(smtp_server)
    await mail.send(message(subject="trước"))
    smtp_server.stop()
    with pytest.raises(TransientConnectorError):
        await mail.send(message(subject="trong lúc dừng"))
    smtp_server.start()

    await mail.send(message(subject="sau"))

    assert [m.parsed()["Subject"] for m in smtp_server.messages] == ["trước", "sau"]


async def test_login_with_the_right_password(smtp_server: SmtpTestServer) -> None:
    smtp_server.behaviour.credentials = ("van-phong", "mật-khẩu-đúng")

    await mailer(smtp_server, username="van-phong", password="mật-khẩu-đúng").send(message())

    assert [m.login for m in smtp_server.messages] == ["van-phong"]


async def test_a_wrong_password_is_permanent_and_never_shown(smtp_server: SmtpTestServer) -> None:
    smtp_server.behaviour.credentials = ("van-phong", "mật-khẩu-đúng")
    mail = mailer(smtp_server, username="van-phong", password="sai-secret-42")

    with pytest.raises(PermanentConnectorError, match="535") as caught:
        await mail.send(message())

    shown = [str(caught.value), repr(caught.value), repr(mail), str(caught.value.__cause__)]
    assert not any("sai-secret-42" in text for text in shown)
    assert smtp_server.messages == []


async def test_starttls_the_server_does_not_offer_is_permanent(
    smtp_server: SmtpTestServer,
) -> None:
    with pytest.raises(PermanentConnectorError, match="STARTTLS"):
        await mailer(smtp_server, starttls=True).send(message())


@pytest.mark.parametrize(
    "options",
    [
        {"starttls": True, "use_tls": True},
        {"password": "x"},
        {"username": "van-phong"},
        {"timeout": 0},
    ],
)
def test_bad_configuration_is_permanent(options: dict[str, object]) -> None:
    with pytest.raises(PermanentConnectorError):
        SmtpMailer("127.0.0.1", 2525, **options)  # type: ignore[arg-type]


async def test_send_many_reports_the_bad_one_and_delivers_the_rest(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.behaviour.refuse_recipients[DA_NANG] = "550 5.1.1 No such user"
    batch = [message(HA_NOI, "một"), message(DA_NANG, "hai"), message(HA_NOI, "ba")]

    results = await mailer(smtp_server).send_many(batch)

    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], PermanentConnectorError)
    assert DA_NANG in str(results[1])
    got = smtp_server.messages
    assert [m.parsed()["Subject"] for m in got] == ["một", "ba"]
    assert got[0].peer == got[1].peer  # one connection carried the batch


async def test_send_many_reconnects_after_the_server_drops_the_connection(
    smtp_server: SmtpTestServer,
) -> None:
    # 421 makes the client close the connection; the next message needs a new one.
    smtp_server.behaviour.refuse_recipients[DA_NANG] = "421 4.3.2 Shutting down"
    batch = [message(HA_NOI, "một"), message(DA_NANG, "hai"), message(HA_NOI, "ba")]

    results = await mailer(smtp_server).send_many(batch)

    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], TransientConnectorError)
    got = smtp_server.messages
    assert [m.parsed()["Subject"] for m in got] == ["một", "ba"]
    assert got[0].peer != got[1].peer


async def test_send_many_drops_a_connection_that_timed_out(smtp_server: SmtpTestServer) -> None:
    # A late reply to the timed-out DATA must not be read as the answer to the next command.
    smtp_server.behaviour.slow_recipients[DA_NANG] = 1.5
    batch = [message(DA_NANG, "chậm"), message(HA_NOI, "kịp")]

    results = await mailer(smtp_server, timeout=0.5).send_many(batch)

    assert isinstance(results[0], TransientConnectorError)
    assert results[1] is None
    [got] = smtp_server.messages
    assert got.parsed()["Subject"] == "kịp"


async def test_send_many_gives_up_quickly_when_the_server_is_down(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.stop()
    started = time.monotonic()

    results = await mailer(smtp_server).send_many([message()] * 500)

    assert len(results) == 500
    assert all(isinstance(r, TransientConnectorError) for r in results)
    assert len({id(r) for r in results[1:]}) == 1  # tried twice, then the rest share the error
    assert time.monotonic() - started < 1.0


async def test_send_many_of_nothing_opens_no_connection() -> None:
    mail = SmtpMailer("127.0.0.1", 9, timeout=0.2)  # nothing listens there
    assert await mail.send_many([]) == []
