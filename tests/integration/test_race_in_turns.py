"""Racing bookings and changes within one instance wait for each other's turn (`ClaimGate`):
one wins, every other one is refused naming the winner, whether the winner's turn told it or it
looked itself, and no turn is left behind (rule 1 is still the database's)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.booking.schemas import BookSessionRequest, UpdateSessionRequest
from orchestrator.bootstrap import Container
from orchestrator.domain.errors import BookingConflict
from tests.builders import booking
from tests.conftest import OFFICE

START = datetime(2026, 12, 14, 1, 0, tzinfo=UTC)  # Monday 08:00 in Hà Nội
CLIENTS = 16


def racing(n: int) -> BookSessionRequest:
    start = START + timedelta(minutes=5 * (n % 5))
    return booking(title=f"Race {n}", start=start, end=start + timedelta(minutes=90))


def gate_of(c: Container) -> int:
    return c.bookings._gate.busy()  # nothing else tells whether turns were left behind


async def test_one_booking_wins_the_rest_are_refused_naming_it(container: Container) -> None:
    answers = await asyncio.gather(
        *(container.bookings.book(racing(n), OFFICE) for n in range(CLIENTS)),
        return_exceptions=True,
    )
    won = [a for a in answers if not isinstance(a, BaseException)]
    assert len(won) == 1
    winner = won[0].value.id
    refused = [a for a in answers if isinstance(a, BaseException)]
    assert len(refused) == CLIENTS - 1
    for exc in refused:
        assert isinstance(exc, BookingConflict), exc
        assert winner in {c.session_id for c in exc.conflicts}
    assert gate_of(container) == 0


async def test_invalid_requests_are_refused_as_invalid_in_a_race(container: Container) -> None:
    bad = racing(99).model_copy(update={"sites": ["ha-noi", "khong-co"]})
    answers = await asyncio.gather(
        *(container.bookings.book(racing(n), OFFICE) for n in range(4)),
        container.bookings.book(bad, OFFICE),
        return_exceptions=True,
    )
    assert type(answers[-1]).__name__ == "InvalidRequest"
    assert gate_of(container) == 0


async def test_one_change_wins_the_rest_are_refused_naming_it(container: Container) -> None:
    ids = []
    for n in range(CLIENTS // 2):
        start = START + timedelta(days=1 + n // 4, minutes=45 * (n % 4))
        out = await container.bookings.book(
            booking(
                title=f"Move {n}",
                start=start,
                end=start + timedelta(minutes=45),
                buffer_before_minutes=0,
                buffer_after_minutes=0,
            ),
            OFFICE,
        )
        ids.append(out.value.id)
    target = START + timedelta(days=4, hours=1)
    move = UpdateSessionRequest(start=target, end=target + timedelta(minutes=45))
    answers = await asyncio.gather(
        *(container.bookings.update(i, move, OFFICE) for i in ids), return_exceptions=True
    )
    moved = [a for a in answers if not isinstance(a, BaseException)]
    assert len(moved) == 1
    for exc in (a for a in answers if isinstance(a, BaseException)):
        assert isinstance(exc, BookingConflict), exc
        assert moved[0].id in {c.session_id for c in exc.conflicts}
    assert gate_of(container) == 0


async def test_a_turn_ends_when_its_request_is_refused(container: Container) -> None:
    first = (await container.bookings.book(racing(0), OFFICE)).value
    with pytest.raises(BookingConflict):
        await container.bookings.book(racing(1), OFFICE)
    assert gate_of(container) == 0
    later = START + timedelta(hours=6)  # 14:00 in Hà Nội
    other = await container.bookings.book(
        racing(2).model_copy(update={"start": later, "end": later + timedelta(hours=1)}), OFFICE
    )
    back = UpdateSessionRequest(start=first.start, end=first.end)
    with pytest.raises(BookingConflict):
        await container.bookings.update(other.value.id, back, OFFICE)
    assert gate_of(container) == 0
