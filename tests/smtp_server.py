"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, recording what it receives and
misbehaving on demand: refusing, failing for now, answering slowly, going away and coming back.

Use the `smtp_server` fixture (add `pytest_plugins = ["tests.smtp_server"]` to the test module
or the root conftest), or `with SmtpTestServer() as server:` anywhere else.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted, as it arrived."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes  # the DATA as received (CRLF line ends, dot-stuffing undone)
    peer: tuple[str, int]  # the client's address: equal for messages sent over one connection
    login: str | None  # the user that authenticated, if any

    def parsed(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Behaviour:
    """How the server answers; tests change it at any time (plain attributes, read per command).

    Replies are full SMTP reply lines such as "550 5.1.1 No such user" or "451 4.3.0 Try later".
    """

    refuse_recipients: dict[str, str] = field(default_factory=dict)  # address -> reply to RCPT
    mail_reply: str | None = None  # reply to every MAIL FROM instead of accepting
    data_reply: str | None = None  # reply to every DATA instead of accepting
    data_delay: float = 0.0  # seconds to wait before answering DATA
    slow_recipients: dict[str, float] = field(default_factory=dict)  # address -> extra DATA delay
    credentials: tuple[str, str] | None = None  # (user, password) the server accepts, if any


class _Handler:
    def __init__(self, owner: SmtpTestServer) -> None:
        self._owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._owner.behaviour.mail_reply
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._owner.behaviour.refuse_recipients.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        behaviour = self._owner.behaviour
        delay = behaviour.data_delay + sum(
            behaviour.slow_recipients.get(address.lower(), 0.0) for address in envelope.rcpt_tos
        )
        if delay:
            await asyncio.sleep(delay)
        if behaviour.data_reply is not None:
            return behaviour.data_reply
        credentials = cast(LoginPassword | None, session.auth_data)
        assert isinstance(envelope.content, bytes)  # decode_data is off
        self._owner._record(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=envelope.content,
                peer=cast(tuple[str, int], session.peer),  # typed str, but a (host, port) pair
                login=credentials.login.decode() if credentials else None,
            )
        )
        return "250 2.0.0 Accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        expected = self._owner.behaviour.credentials
        ok = (
            expected is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == expected
        )
        # handled=False: aiosmtpd then sends the refusal (535) itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class SmtpTestServer:
    """An aiosmtpd server in its own thread on 127.0.0.1; `port` stays the same across restarts.

    `messages` lists what was accepted, in order; `behaviour` decides the answers. `stop()` closes
    the port (clients get "connection refused"), `start()` opens it again, `restart()` does both.
    AUTH (PLAIN, LOGIN) is offered without TLS and succeeds only with `behaviour.credentials`.
    """

    def __init__(self, port: int | None = None) -> None:
        self.host = HOST
        self.port = port if port is not None else _free_port()
        self.behaviour = Behaviour()
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def _record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)

    def start(self) -> None:
        if self._controller is not None:
            return
        # A controller's loop closes when it stops, so every start needs a new one.
        controller = Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            ready_timeout=2.0,
            server_hostname="smtp.test",  # skips a DNS lookup of this machine's name
            authenticator=self._handler.authenticate,
            auth_require_tls=False,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Close the port and drop open connections; a DATA still waiting is cancelled."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def reset(self) -> None:
        """Forget received messages and go back to accepting everything."""
        self.behaviour = Behaviour()
        with self._lock:
            self._messages.clear()

    def __enter__(self) -> SmtpTestServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A running `SmtpTestServer`, stopped after the test."""
    with SmtpTestServer() as server:
        yield server
