"""The series-invites composer's own decisions (DESIGN 10): each row's message is decided by the
series as it is when sent, a rotated link goes out in a new invite, a series whose meetings are
over invites nobody, a site nobody can receive fails alone, a retry sends nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrator.bootstrap import Container
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.join_keys import JoinSubject
from orchestrator.domain.models import Coordinator, SessionStatus
from orchestrator.domain.outbox import OutboxKind
from tests.builders import OFFICE, FakeMailer, deliver
from tests.calendars import assert_itip
from tests.conftest import EXAMPLE_DIRECTORY
from tests.series_kit import change_occurrence, store_series


async def queue(
    c: Container,
    series_id: str,
    message: str,
    *,
    occurrence: str | None = None,
    sites: list[str] | None = None,
    bump: bool = True,
) -> int:
    async with c.store.write() as uow:
        if bump:
            version = await uow.series.bump(series_id, c.clock.now())
        else:
            series = await uow.series.get(series_id)
            assert series is not None
            version = series.version
        await uow.outbox.add(
            OutboxKind.SERIES_INVITES,
            series_id,
            version,
            {"series_id": series_id, "message": message, "occurrence": occurrence,
             "site_ids": sites},
            c.clock.now(),
        )  # fmt: skip
    return version


def calendars(mailer: FakeMailer, since: int = 0) -> list[tuple[str, Any]]:
    out = []
    for sent in mailer.sent[since:]:
        (part,) = [
            p
            for p in sent.message.walk()
            if p.get_content_type() == "text/calendar" and p.get_content_disposition() is None
        ]
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        out.append((sent.rcpt_tos[0], assert_itip(data)))
    return out


async def test_a_row_says_what_the_series_is_when_it_is_sent(
    container: Container, mailer: FakeMailer
) -> None:
    series, occurrences = await store_series(container)
    second = occurrences[1]
    # A row asks to cancel the second occurrence, but by the time it is sent the second is
    # live again for every site: each gets that occurrence's REQUEST.
    await queue(container, series.id, "cancel-occurrence", occurrence=second.start.isoformat())
    await deliver(container)
    got = calendars(mailer)
    assert len(got) == 3
    for _, cal in got:
        assert str(cal["METHOD"]) == "REQUEST"
        (event,) = cal.walk("VEVENT")
        assert event.decoded("RECURRENCE-ID") == second.start
    # And a row about an occurrence cancelled meanwhile sends its cancellation.
    await change_occurrence(container, second, status=SessionStatus.CANCELLED)
    await queue(container, series.id, "occurrence", occurrence=second.start.isoformat())
    await deliver(container)
    got = calendars(mailer, 3)
    assert {str(cal["METHOD"]) for _, cal in got} == {"CANCEL"}
    assert {int(cal.walk("VEVENT")[0]["SEQUENCE"]) for _, cal in got} == {2}


async def test_a_rotated_link_goes_out_in_a_new_invite(
    container: Container, mailer: FakeMailer
) -> None:
    series, _ = await store_series(container)
    await queue(container, series.id, "series", bump=False)
    await deliver(container)
    first = dict(calendars(mailer))
    rotated = await container.gateway.rotate_series(series.id, "da-nang", OFFICE)
    await deliver(container)
    (to, cal), = calendars(mailer, len(first))  # fmt: skip
    (master,) = cal.walk("VEVENT")
    assert str(master["URL"]) == rotated.join_gateway_url
    assert int(master["SEQUENCE"]) == 1
    assert str(first[to].walk("VEVENT")[0]["URL"]) != rotated.join_gateway_url
    urls = await container.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang"])
    assert urls["da-nang"] == rotated.join_gateway_url


async def test_a_series_over_invites_nobody_and_a_site_without_address_fails_alone(
    container: Container, mailer: FakeMailer, clock: ManualClock
) -> None:
    series, occurrences = await store_series(container, count=2)
    await queue(container, series.id, "series", bump=False)
    clock.set(occurrences[-1].end + timedelta(minutes=1))
    await deliver(container)
    assert mailer.sent == []
    state = await container.invites.series_status(series.id, OFFICE)
    assert {(s.state, s.reason) for s in state.sites} == {("skipped", "ended")}

    other, _ = await store_series(container, sites=("ha-noi", "da-nang"), title="Khác")
    # A site the directory no longer lets anybody receive fails; the other is sent.
    directory = load_directory(EXAMPLE_DIRECTORY)
    sites = tuple(
        s.model_copy(update={"coordinator": Coordinator(name="Không ai")})
        if s.id == "da-nang"
        else s
        for s in directory.sites
    )
    await container.directory.apply(
        type(directory)(directory.regions, sites, directory.leader_groups, directory.policies),
        OFFICE,
    )
    clock.set(occurrences[0].start - timedelta(days=30))
    await queue(container, other.id, "series", bump=False)
    await deliver(container)
    state = await container.invites.series_status(other.id, OFFICE)
    by_site = {s.site_id: s for s in state.sites}
    assert by_site["ha-noi"].state == "sent"
    assert by_site["da-nang"].state == "failed"
    assert by_site["da-nang"].error_kind == "no_address"
    # Delivered again, the row sends nothing twice.
    before = len(mailer.sent)
    await queue(container, other.id, "series", bump=False)
    await deliver(container)
    assert len(mailer.sent) == before
