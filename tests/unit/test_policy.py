"""Booking policy and the claim arithmetic, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestrator.domain.models import (
    BookingPolicy,
    TimeRange,
    WorkingWindow,
    claimed_range,
    resources_for,
)
from orchestrator.domain.policy import check_policy, holiday_name

NOW = datetime(2026, 11, 23, 2, tzinfo=UTC)
VN = [("ha-noi", "Asia/Ho_Chi_Minh")]


def rules(
    start: datetime,
    end: datetime,
    policy: BookingPolicy | None = None,
    zones: list[tuple[str, str]] | None = None,
) -> list[str]:
    return [
        b.rule
        for b in check_policy(
            start=start, end=end, now=NOW, zones=zones or VN, policy=policy or BookingPolicy()
        )
    ]


def hanoi(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def test_working_hours_bound_start_and_end() -> None:
    assert rules(hanoi(10, 7, 30), hanoi(10, 11, 30)) == []
    assert rules(hanoi(10, 13, 30), hanoi(10, 17)) == []
    assert rules(hanoi(10, 7), hanoi(10, 8)) == ["working_hours"]
    assert rules(hanoi(10, 11), hanoi(10, 12)) == ["working_hours"]
    assert rules(hanoi(10, 11, 30), hanoi(10, 12)) == ["working_hours"]
    assert rules(hanoi(10, 16), hanoi(10, 17, 1)) == ["working_hours"]
    assert rules(hanoi(10, 7, 30), hanoi(10, 17)) == []  # a full day with a lunch break


def test_vietnamese_holidays_include_lunar_ones() -> None:
    assert holiday_name("VN", date(2027, 2, 8))  # Tết Nguyên Đán 2027
    assert holiday_name("VN", date(2027, 4, 16))  # Giỗ Tổ Hùng Vương, 10th of the 3rd lunar month
    assert holiday_name("VN", date(2026, 9, 2))
    assert holiday_name("VN", date(2026, 12, 10)) is None
    assert rules(hanoi(16, 8, month=4, year=2027), hanoi(16, 9, month=4, year=2027)) == ["holiday"]
    off = BookingPolicy(holidays=False)
    assert rules(hanoi(16, 8, month=4, year=2027), hanoi(16, 9, month=4, year=2027), off) == []


def test_weekend_notice_duration_and_past() -> None:
    assert rules(hanoi(12, 8), hanoi(12, 9)) == ["weekend"]
    regional = BookingPolicy(min_notice_minutes=15 * 24 * 60)
    assert rules(hanoi(7, 8), hanoi(7, 9), regional) == ["min_notice"]
    assert rules(hanoi(8, 9), hanoi(8, 10), regional) == []  # exactly 15 days ahead
    assert rules(hanoi(8, 8, 59), hanoi(8, 10), regional) == ["min_notice"]
    assert "max_duration" in rules(hanoi(10, 8), hanoi(11, 9))
    assert rules(hanoi(20, 8, month=11), hanoi(20, 9, month=11))[0] == "in_past"


def test_each_zone_is_judged_in_its_own_hours() -> None:
    zones = [("ha-noi", "Asia/Ho_Chi_Minh"), ("paris", "Europe/Paris")]
    # 14:00-15:00 in Hà Nội is 08:00-09:00 in Paris in winter, 09:00-10:00 in summer
    assert rules(hanoi(10, 14), hanoi(10, 15), zones=zones) == []
    assert rules(hanoi(10, 8), hanoi(10, 9), zones=zones) == ["working_hours"]


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        WorkingWindow(start=time(12), end=time(8))
    with pytest.raises(ValidationError):
        TimeRange(start=NOW, end=NOW)
    with pytest.raises(ValidationError):
        TimeRange(start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))  # naive


def test_resources_cover_every_claim_once() -> None:
    got = resources_for(
        sites=["a", "b", "a"], region="r", leader_groups=["g"], chair_email=" Chair@Example.org "
    )
    assert got == ["site:a", "site:b", "region:r", "group:g", "chair:chair@example.org"]


minutes = st.integers(min_value=0, max_value=24 * 60)


@given(
    a=minutes,
    la=st.integers(1, 300),
    b=minutes,
    lb=st.integers(1, 300),
    ba=st.integers(0, 60),
    aa=st.integers(0, 60),
    bb=st.integers(0, 60),
    ab=st.integers(0, 60),
)
def test_buffered_overlap_is_half_open(
    a: int, la: int, b: int, lb: int, ba: int, aa: int, bb: int, ab: int
) -> None:
    base = datetime(2026, 12, 10, tzinfo=UTC)
    x = claimed_range(base + timedelta(minutes=a), base + timedelta(minutes=a + la), ba, aa)
    y = claimed_range(base + timedelta(minutes=b), base + timedelta(minutes=b + lb), bb, ab)
    # integer minutes: [a - ba, a + la + aa) and [b - bb, b + lb + ab) share a minute iff overlap
    xs = set(range(a - ba, a + la + aa))
    ys = set(range(b - bb, b + lb + ab))
    assert x.overlaps(y) == bool(xs & ys) == y.overlaps(x)
