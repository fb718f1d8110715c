"""The `Mailer` over SMTP: one connection per `send`, one per batch in `send_many`.

It owns the translation of aiosmtplib's and the socket layer's errors into the connector tree.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from email.message import EmailMessage

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from connectors.base import (
    ConnectorError,
    PermanentConnectorError,
    TransientConnectorError,
    caused_by_untrusted_certificate,
)

# What a refusal was of, for the error message; the first match wins (subclasses first).
_REFUSED: tuple[tuple[type[SMTPResponseException], str], ...] = (
    (SMTPConnectResponseError, "refused the connection"),
    (SMTPHeloError, "refused EHLO/HELO"),
    (SMTPAuthenticationError, "refused the login"),
    (SMTPSenderRefused, "refused the sender"),
    (SMTPDataError, "refused the message"),
)

# After these the client is still in step with the server (aiosmtplib has sent RSET), so the
# connection can carry the next message. Anything else leaves it in an unknown state.
_CLEAN_FAILURES = (SMTPResponseException, SMTPRecipientsRefused, SMTPNotSupported, ValueError)


def _transient_code(code: int) -> bool:
    """4xx is temporary (RFC 5321 4.2.1); an unreadable reply may be a passing fault too."""
    return not 500 <= code <= 599


class SmtpMailer:
    """Sends mail through an SMTP server with aiosmtplib."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout: float = 30.0,
        sender: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        """`starttls` upgrades a plain connection and fails if the server cannot; `use_tls` is
        implicit TLS from the first byte (port 465). Without either nothing is encrypted, even
        when the server offers STARTTLS. `timeout` bounds each network step in seconds. `sender`
        is the From of messages that have none. An empty `username` means no login.
        """
        where = f"SMTP server {host}:{port}"
        if starttls and use_tls:
            raise PermanentConnectorError(f"{where}: choose starttls or use_tls, not both")
        if not 0 < port < 65536:
            raise PermanentConnectorError(f"{where}: port out of range")
        if timeout <= 0:
            raise PermanentConnectorError(f"{where}: timeout must be positive, got {timeout}")
        if password is not None and not username:
            raise PermanentConnectorError(f"{where}: a password is set but no username")
        if username and password is None:
            raise PermanentConnectorError(f"{where}: username {username!r} has no password")
        self._where = where
        self._host = host
        self._port = port
        self._username = username or None
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._timeout = timeout
        self._sender = sender
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        login = f", username={self._username!r}" if self._username else ""
        return f"SmtpMailer({self._host!r}, {self._port}{login})"

    async def send(self, message: EmailMessage) -> None:
        client = await self._connect()
        try:
            await self._deliver(client, message)
        except BaseException:
            client.close()
            raise
        await self._quit(client)

    async def send_many(self, messages: Sequence[EmailMessage]) -> list[ConnectorError | None]:
        results: list[ConnectorError | None] = []
        client: SMTP | None = None
        failures_without_connection = 0
        given_up: ConnectorError | None = None
        try:
            for message in messages:
                if given_up is not None:
                    results.append(given_up)
                    continue
                try:
                    if client is None:
                        client = await self._connect()
                    await self._deliver(client, message)
                except ConnectorError as error:
                    results.append(error)
                    if client is not None and not client.is_connected:
                        client = None
                    if client is None:
                        failures_without_connection += 1
                        if failures_without_connection >= 2:
                            given_up = error
                    continue
                results.append(None)
                failures_without_connection = 0
        except BaseException:  # cancelled: drop the connection without a polite QUIT
            if client is not None:
                client.close()
            raise
        if client is not None:
            await self._quit(client)
        return results

    async def _connect(self) -> SMTP:
        client = SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._use_tls,
            start_tls=self._starttls,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
        except (SMTPException, OSError) as exc:
            raise self._translate(exc) from exc
        return client

    async def probe(self) -> None:
        """Connect, say EHLO (upgrading and logging in as configured) and QUIT, sending nothing:
        whether mail could leave now. Raises `ConnectorError` as `send` does."""
        client = await self._connect()
        try:
            await client.ehlo()
        except (SMTPException, OSError) as exc:
            client.close()
            raise self._translate(exc) from exc
        await self._quit(client)

    async def _deliver(self, client: SMTP, message: EmailMessage) -> None:
        if message["From"] is None and self._sender is not None:
            # A copy: setting a header on a shallow copy would change the caller's message.
            message = copy.deepcopy(message)
            message["From"] = self._sender
        try:
            refused, _ = await client.send_message(message)
        except (SMTPException, OSError, ValueError) as exc:
            if not isinstance(exc, _CLEAN_FAILURES):
                client.close()
            raise self._translate(exc) from exc
        if refused:
            listed = ", ".join(
                f"{address} ({reply.code} {reply.message})" for address, reply in refused.items()
            )
            raise PermanentConnectorError(
                f"{self._where} refused {listed} but accepted the message for the other "
                "recipients; not retried, so that they do not get it twice"
            )

    async def _quit(self, client: SMTP) -> None:
        """QUIT politely; the messages are already accepted, so a failing QUIT changes nothing."""
        if not client.is_connected:
            return
        try:
            await client.quit()
        except (SMTPException, OSError):
            client.close()

    def _translate(self, exc: BaseException) -> ConnectorError:
        where = self._where
        if isinstance(exc, SMTPRecipientsRefused):
            listed = ", ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
            if all(_transient_code(r.code) for r in exc.recipients):
                return TransientConnectorError(f"{where} refused every recipient: {listed}")
            return PermanentConnectorError(f"{where} refused every recipient: {listed}")
        if isinstance(exc, SMTPResponseException):
            what = next((text for kind, text in _REFUSED if isinstance(exc, kind)), "replied")
            reply = f"{where} {what}: {exc.code} {exc.message}"
            if _transient_code(exc.code):
                return TransientConnectorError(reply)
            return PermanentConnectorError(reply)
        if caused_by_untrusted_certificate(exc):
            return PermanentConnectorError(f"{where}: its TLS certificate is not trusted: {exc}")
        if isinstance(exc, SMTPTimeoutError | TimeoutError):
            return TransientConnectorError(f"{where} did not answer within {self._timeout} s")
        if isinstance(exc, SMTPServerDisconnected):
            return TransientConnectorError(f"{where} closed the connection: {exc}")
        if isinstance(exc, SMTPConnectError | OSError):
            # aiosmtplib's connect errors already carry the OS reason ("Connect call failed").
            return TransientConnectorError(f"{where}: {exc}")
        if isinstance(exc, ValueError):
            return PermanentConnectorError(f"{where}: the message cannot be sent: {exc}")
        # SMTPNotSupported and the rest: the server lacks what the configuration or the message
        # needs (STARTTLS, AUTH, SMTPUTF8); waiting will not add it.
        return PermanentConnectorError(f"{where}: {exc}")
