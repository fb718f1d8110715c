"""Small things on both databases: free slots through lunch are marked (the API's and the booking
dry run's), a coordinator reads back their own check-in, the host list's order and a download's
name."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestrator.attendance.service import CheckinRequest
from orchestrator.booking.schemas import SlotQuery
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import PermissionDenied
from orchestrator.domain.models import BookingPolicy, Site
from orchestrator.domain.slots import spans_break
from orchestrator.web.downloads import attachment, session_file_stem
from orchestrator.web.pages.office_common import site_order
from tests.builders import OFFICE, START, book, booking, chair, coordinator

HANOI = "Asia/Ho_Chi_Minh"


def at(hour: int, minute: int = 0) -> datetime:
    """10 December 2026 at `hour`:`minute` in Hà Nội."""
    return datetime(2026, 12, 10, hour - 7, minute, tzinfo=UTC)


def test_a_slot_through_the_break_between_working_windows() -> None:
    policy = BookingPolicy()
    assert [w.start for w in policy.working_hours] == [time(7, 30), time(13, 30)]
    assert spans_break(at(9, 45), at(13, 45), [HANOI], policy)
    assert spans_break(at(11, 0), at(14, 0), [HANOI, HANOI], policy)
    assert not spans_break(at(7, 30), at(11, 30), [HANOI], policy)
    assert not spans_break(at(13, 30), at(17, 0), [HANOI], policy)
    assert not spans_break(at(11, 30), at(13, 30), [HANOI], policy)  # the break itself
    # the same instants are a morning in Paris (02:45-06:45): no break crossed there, one in Hà Nội
    assert spans_break(at(9, 45), at(13, 45), ["Europe/Paris", HANOI], policy)
    assert not spans_break(at(9, 45), at(13, 45), ["Europe/Paris"], policy)
    one_window = BookingPolicy(working_hours=({"start": "07:30", "end": "17:00"},))
    assert not spans_break(at(9, 45), at(13, 45), [HANOI], one_window)


async def test_free_slots_say_when_they_run_through_lunch(container: Container) -> None:
    out = await container.bookings.find_slots(
        SlotQuery.model_validate(
            {
                "sites": ["ha-noi", "da-nang"],
                "duration_minutes": 240,
                "from": datetime(2026, 12, 9, 17, 0, tzinfo=UTC).isoformat(),  # 00:00 local
                "to": datetime(2026, 12, 10, 16, 0, tzinfo=UTC).isoformat(),
                "limit": 20,
            }
        ),
        OFFICE,
    )
    local = [(f"{s.start:%H:%M}", f"{s.end:%H:%M}", s.over_lunch) for s in out.slots]
    assert local[0] == ("07:30", "11:30", False)
    assert ("10:00", "14:00", True) in local
    assert ("13:00", "17:00", False) not in local  # starts in the break: refused by the policy
    assert all(lunch == (start < "11:30" and end > "13:30") for start, end, lunch in local)


async def test_the_dry_run_suggestions_mark_lunch_too(container: Container) -> None:
    checked = await container.bookings.check(
        booking(start=at(7, 30), end=at(11, 30), sites=["ha-noi"], leader_groups=[]),
        OFFICE,
        suggestions=6,
    )
    zone = ZoneInfo(HANOI)
    suggestions = [
        (f"{s.start.astimezone(zone):%H:%M}", f"{s.end.astimezone(zone):%H:%M}", s.over_lunch)
        for s in checked.suggestions
    ]
    assert suggestions[0] == ("07:30", "11:30", False)
    assert ("10:00", "14:00", True) in suggestions


async def test_a_coordinator_reads_back_their_own_check_in(container: Container) -> None:
    out = await book(container)
    clock = container.clock
    assert isinstance(clock, ManualClock)
    assert await container.attendance.last_checkin(out.id, coordinator("da-nang")) is None
    clock.set(START - timedelta(minutes=20))
    for n in (12, 14):
        await container.attendance.checkin(
            out.id, "da-nang", CheckinRequest(headcount=n, names=["A", "B"]), coordinator("da-nang")
        )
        clock.advance(timedelta(minutes=1))
    mine = await container.attendance.last_checkin(out.id, coordinator("da-nang"))
    assert mine is not None
    assert (mine.headcount, mine.names, mine.site_id) == (14, ["A", "B"], "da-nang")
    assert await container.attendance.last_checkin(out.id, coordinator("ha-noi")) is None
    for other in (OFFICE, chair()):
        with pytest.raises(PermissionDenied):
            await container.attendance.last_checkin(out.id, other)


def test_the_host_list_puts_the_head_first_then_by_name() -> None:
    def site(id_: str, name: str) -> Site:
        return Site.model_validate({"id": id_, "name": name})

    sites = [
        site("nghe-an", "Sở GD&ĐT Nghệ An"),
        site("hue", "Sở GD&ĐT Huế"),
        site("da-nang", "Sở GD&ĐT Đà Nẵng"),
        site("dak-lak", "Sở GD&ĐT Đắk Lắk"),
        site("binh-dinh", "Sở GD&ĐT Bình Định"),
    ]
    assert [s.id for s in site_order(sites, "nghe-an")] == [
        "nghe-an",
        "binh-dinh",
        "da-nang",  # "Đà" sorts as "Da", before "Đắk" ("Dak") and "Huế"
        "dak-lak",
        "hue",
    ]
    assert next(s.id for s in site_order(sites)) == "binh-dinh"


def test_download_names_are_ascii_with_the_readable_name_beside() -> None:
    stem, readable = session_file_stem(
        'Hội nghị: trực tuyến / "đặc biệt"', at(8), HANOI, "da-nang", "Sở GD&ĐT Đà Nẵng"
    )
    assert stem == "hoi-nghi-truc-tuyen-dac-biet-2026-12-10-da-nang"
    header = attachment(stem, readable, ".ics")
    assert header.startswith(f"attachment; filename=\"{stem}.ics\"; filename*=UTF-8''")
    assert header.isascii()
    assert "%2F" not in header  # no slash in the readable name
    assert "%22" not in header  # nor a quote
    # a title with no letters to keep still names the file
    assert session_file_stem("—", at(8), HANOI)[0] == "phien-hop-2026-12-10"
