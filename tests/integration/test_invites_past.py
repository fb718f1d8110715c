"""A session already over invites nobody: booked in the past (with an override) or ended while a
retry waited, its sites' invites are `skipped` with the reason `ended`, and no mail leaves; on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from connectors.base import ConnectorError, TransientConnectorError
from orchestrator.bootstrap import Container, build
from orchestrator.domain.clock import ManualClock
from tests.builders import FakeMailer, bearer, booking_data, client, deliver, issue_tokens
from tests.conftest import NOW, OFFICE

PAST_START = NOW - timedelta(days=3)


async def invites_of(http: Any, session_id: str, token: str) -> list[dict[str, Any]]:
    r = await http.get(f"/api/sessions/{session_id}/invites", headers=bearer(token))
    assert r.status_code == 200, r.text
    sites: list[dict[str, Any]] = r.json()["sites"]
    return sites


async def test_a_past_session_booked_with_an_override_mails_no_invite(
    container: Container, mailer: FakeMailer
) -> None:
    tokens = await issue_tokens(container, "da-nang")
    async with client(container) as http:
        body = booking_data(
            title="Họp quá khứ",
            start=PAST_START,
            end=PAST_START + timedelta(hours=2),
            override_reason="Ghi nhận cuộc họp đã diễn ra",
        )
        r = await http.post("/api/sessions", json=body, headers=bearer(tokens.office))
        assert r.status_code == 201, r.text
        session_id = r.json()["id"]
        await deliver(container)
        assert mailer.sent == []
        sites = await invites_of(http, session_id, tokens.office)
        assert {(s["state"], s["reason"], s["last_error"]) for s in sites} == {
            ("skipped", "ended", None)
        }
        assert len(sites) == 6
        # the coordinator sees the same for their site; a second run sends nothing either
        mine = await invites_of(http, session_id, tokens.coordinators["da-nang"])
        assert [(s["site_id"], s["state"], s["reason"]) for s in mine] == [
            ("da-nang", "skipped", "ended")
        ]
        await deliver(container)
        assert mailer.sent == []
    status = await container.invites.status(session_id, OFFICE)
    assert status.pending_changes == 0


class _DownThenUp(FakeMailer):
    """A mail server down for the first round, up afterwards."""

    down: bool = True

    async def send_many(self, messages: Sequence[EmailMessage]) -> list[ConnectorError | None]:
        if self.down:
            self.down = False
            return [TransientConnectorError("connection refused") for _ in messages]
        return await super().send_many(messages)


async def test_a_session_that_ends_during_a_retry_backoff_is_skipped_not_sent_late(
    container: Container, clock: ManualClock, mailer: FakeMailer
) -> None:
    down = _DownThenUp()
    c = build(container.settings, clock=clock, mailer=down)
    try:
        tokens = await issue_tokens(c)
        async with client(c) as http:
            body = booking_data(title="Họp sắp tới", sites=["ha-noi", "da-nang"])
            end = datetime.fromisoformat(body["end"])
            r = await http.post("/api/sessions", json=body, headers=bearer(tokens.office))
            assert r.status_code == 201, r.text
            session_id = r.json()["id"]
            await deliver(c)  # the mail server is down: every site waits for a retry
            assert down.sent == []
            sites = await invites_of(http, session_id, tokens.office)
            assert {s["state"] for s in sites} == {"queued"}
            clock.set(end + timedelta(minutes=1))  # the session is over before the next try
            await deliver(c)
            assert down.sent == []
            sites = await invites_of(http, session_id, tokens.office)
            assert {(s["state"], s["reason"]) for s in sites} == {("skipped", "ended")}
    finally:
        await c.close()
