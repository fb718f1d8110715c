"""The free-slot finder: a brute-force oracle for the contract, and worked examples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import (
    DEFAULT_POLICIES,
    BookingPolicy,
    SessionKind,
    TimeRange,
    WorkingWindow,
)
from orchestrator.domain.policy import check_policy
from orchestrator.domain.slots import find_free_slots, merge_ranges

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")
HANOI = [("hanoi", "Asia/Ho_Chi_Minh")]
ALL_DAY = BookingPolicy(
    working_days=(0, 1, 2, 3, 4, 5, 6),
    working_hours=(WorkingWindow(start=time(0), end=time(23, 59, 59)),),
    holidays=False,
)
M = timedelta(minutes=1)
Range = tuple[datetime, datetime]


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN)


def find(**overrides: object) -> list[TimeRange]:
    args: dict[str, object] = {
        "busy": [],
        "duration": 60 * M,
        "buffer_before": timedelta(0),
        "buffer_after": timedelta(0),
        "zones": HANOI,
        "policy": BookingPolicy(),
        "now": vn(2026, 12, 1, 8),
    }
    args.update(overrides)
    return find_free_slots(**args)  # type: ignore[arg-type]


def local_starts(slots: list[TimeRange], zone: ZoneInfo = VN) -> list[datetime]:
    return [s.start.astimezone(zone).replace(tzinfo=None) for s in slots]


# --- the oracle ------------------------------------------------------------------------------


def oracle(
    *,
    busy: Sequence[Range],
    duration: timedelta,
    window_start: datetime,
    window_end: datetime,
    buffer_before: timedelta,
    buffer_after: timedelta,
    zones: Sequence[tuple[str, str]],
    policy: BookingPolicy,
    now: datetime,
    step: timedelta,
    align_zone: str,
    limit: int,
) -> list[datetime]:
    """Every grid start of every local day around the window, each checked naively."""
    zone = ZoneInfo(align_zone)
    found: list[datetime] = []
    day = window_start.astimezone(zone).date() - timedelta(days=1)
    while day <= window_end.astimezone(zone).date() + timedelta(days=1):
        s = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        next_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        while s < next_day:
            if (
                window_start <= s
                and s + duration <= window_end
                and is_free(busy, s - buffer_before, s + duration + buffer_after)
                and not check_policy(start=s, end=s + duration, now=now, zones=zones, policy=policy)
            ):
                found.append(s)
            s += step
        day += timedelta(days=1)
    return found[:limit]


def is_free(busy: Sequence[Range], start: datetime, end: datetime) -> bool:
    return all(not (a < end and start < b) for a, b in busy if a < b)


def on_grid(s: datetime, align_zone: str, step: timedelta) -> bool:
    day = s.astimezone(ZoneInfo(align_zone)).date()
    begin = datetime.combine(day, time(0), tzinfo=ZoneInfo(align_zone))
    return (s - begin) % step == timedelta(0)


# --- property tests --------------------------------------------------------------------------

# Each anchor sits a day or two before something hard: a DST change in Paris or New York, the
# Lunar New Year, Vietnam's National Day, or an ordinary week.
ANCHORS = [
    datetime(2027, 3, 26, tzinfo=UTC),  # Paris springs forward on the 28th
    datetime(2027, 3, 12, tzinfo=UTC),  # New York springs forward on the 14th
    datetime(2027, 10, 29, tzinfo=UTC),  # Paris falls back on the 31st
    datetime(2027, 11, 5, tzinfo=UTC),  # New York falls back on the 7th
    datetime(2027, 2, 3, tzinfo=UTC),  # Lunar New Year holidays from the 4th
    datetime(2027, 8, 31, tzinfo=UTC),  # National Day, 2-3 September
    datetime(2026, 12, 7, tzinfo=UTC),  # an ordinary week
]
ZONES = [
    ("hanoi", "Asia/Ho_Chi_Minh"),
    ("saigon", "Asia/Ho_Chi_Minh"),
    ("paris", "Europe/Paris"),
    ("new-york", "America/New_York"),
    ("delhi", "Asia/Kolkata"),
]
HOURS = [
    BookingPolicy().working_hours,
    (WorkingWindow(start=time(0), end=time(23, 59, 59)),),
    # Straddles the hour that a DST change skips or repeats.
    (
        WorkingWindow(start=time(1), end=time(4)),
        WorkingWindow(start=time(6, 15), end=time(22)),
    ),
    (WorkingWindow(start=time(9), end=time(12)),),
    (),
]

policies = st.builds(
    BookingPolicy,
    working_days=st.sampled_from([(0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5, 6), (0, 2, 4, 6)]),
    working_hours=st.sampled_from(HOURS),
    holidays=st.booleans(),
    min_notice_minutes=st.sampled_from([0, 0, 90, 24 * 60, 15 * 24 * 60]),
    max_duration_minutes=st.sampled_from([8 * 60, 8 * 60, 2 * 60]),
)


@st.composite
def searches(draw: st.DrawFn) -> dict[str, object]:
    anchor = draw(st.sampled_from(ANCHORS))
    origin = anchor - timedelta(days=1)
    busy: list[Range] = []
    for _ in range(draw(st.integers(0, 20))):
        start = origin + 5 * M * draw(st.integers(0, 6 * 24 * 12))
        end = start + 5 * M * draw(st.integers(-1, 120))
        busy.append((start, end))
    if draw(st.booleans()):  # the same instants in another zone compare the same
        offset = timezone(timedelta(hours=7))
        busy = [(a.astimezone(offset), b.astimezone(offset)) for a, b in busy]
    window_start = anchor + M * draw(st.integers(-12 * 60, 48 * 60))
    window_end = (
        window_start + timedelta(days=draw(st.integers(0, 5))) + M * draw(st.integers(0, 24 * 60))
    )
    policy = draw(policies)
    return {
        "busy": busy,
        "duration": 5 * M * draw(st.integers(1, 60)),
        "window_start": window_start,
        "window_end": window_end,
        "buffer_before": 5 * M * draw(st.integers(0, 24)),
        "buffer_after": 5 * M * draw(st.integers(0, 24)),
        "zones": draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)),
        "policy": policy,
        # Around the moment the notice period lets the window open, so that it often matters.
        "now": window_start
        - M * policy.min_notice_minutes
        + M * draw(st.integers(-2 * 24 * 60, 24 * 60)),
        "step": M * draw(st.sampled_from([7, 15, 20, 30, 45, 60])),
        "align_zone": draw(
            st.sampled_from(
                ["Asia/Ho_Chi_Minh", "Europe/Paris", "Asia/Kolkata", "America/New_York"]
            )
        ),
        "limit": draw(st.integers(1, 12)),
    }


@settings(max_examples=150, deadline=None)
@given(searches())
def test_finds_exactly_the_first_slots_the_oracle_finds(search: dict[str, object]) -> None:
    slots = find_free_slots(**search)  # type: ignore[arg-type]

    busy: list[Range] = search["busy"]  # type: ignore[assignment]
    duration: timedelta = search["duration"]  # type: ignore[assignment]
    for slot in slots:
        assert slot.end - slot.start == duration
        assert search["window_start"] <= slot.start  # type: ignore[operator]
        assert slot.end <= search["window_end"]  # type: ignore[operator]
        assert on_grid(slot.start, search["align_zone"], search["step"])  # type: ignore[arg-type]
        assert is_free(
            busy,
            slot.start - search["buffer_before"],  # type: ignore[operator]
            slot.end + search["buffer_after"],  # type: ignore[operator]
        )
        assert not check_policy(
            start=slot.start,
            end=slot.end,
            now=search["now"],  # type: ignore[arg-type]
            zones=search["zones"],  # type: ignore[arg-type]
            policy=search["policy"],  # type: ignore[arg-type]
        )
    assert [s.start for s in slots] == oracle(**search)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(-2, 10)), max_size=12))
def test_merge_ranges_is_the_sorted_union(spans: list[tuple[int, int]]) -> None:
    origin = datetime(2027, 1, 1, tzinfo=UTC)
    ranges = [(origin + a * M, origin + (a + n) * M) for a, n in spans]

    merged = merge_ranges(ranges)

    covered = {a + i for a, n in spans for i in range(n)}
    assert {int((a - origin) / M) + i for a, b in merged for i in range(int((b - a) / M))} == (
        covered
    )
    for (_, end), (start, _) in pairwise(merged):
        assert end < start  # sorted, disjoint and not touching


# --- examples --------------------------------------------------------------------------------


def test_merge_ranges_merges_touching_and_overlapping_ranges() -> None:
    a, b, c, d = (vn(2027, 1, 4, h) for h in (8, 9, 10, 11))
    assert merge_ranges([(c, d), (a, b), (b, c), (a, a), (d, c)]) == [
        (a.astimezone(UTC), d.astimezone(UTC))
    ]
    assert merge_ranges([]) == []


def test_a_busy_morning_leaves_the_afternoon_first() -> None:
    slots = find(
        busy=[(vn(2026, 12, 7, 7), vn(2026, 12, 7, 11, 30))],  # Monday morning
        window_start=vn(2026, 12, 7),
        window_end=vn(2026, 12, 12),
    )

    assert local_starts(slots) == [
        *(datetime(2026, 12, 7, h, m) for h, m in [(13, 30), (14, 0), (14, 30), (15, 0)]),
        *(datetime(2026, 12, 7, h, m) for h, m in [(15, 30), (16, 0)]),
        *(datetime(2026, 12, 8, h, m) for h, m in [(7, 30), (8, 0), (8, 30), (9, 0)]),
    ]


def test_the_buffers_widen_the_busy_check_not_the_slot() -> None:
    slots = find(
        busy=[(vn(2026, 12, 7, 7), vn(2026, 12, 7, 11, 30))],
        buffer_before=timedelta(minutes=45),
        window_start=vn(2026, 12, 7),
        window_end=vn(2026, 12, 12),
        limit=1,
    )

    assert slots == [TimeRange(start=vn(2026, 12, 7, 13, 30), end=vn(2026, 12, 7, 14, 30))]


@pytest.mark.parametrize(
    ("busy_end", "first"),
    [
        (vn(2026, 12, 7, 8, 45), vn(2026, 12, 7, 9)),
        (vn(2026, 12, 7, 8, 45) + timedelta(microseconds=1), vn(2026, 12, 7, 9, 30)),
    ],
)
def test_a_busy_range_touching_the_buffer_before_does_not_block(
    busy_end: datetime, first: datetime
) -> None:
    slots = find(
        busy=[(vn(2026, 12, 7, 8), busy_end)],
        buffer_before=timedelta(minutes=15),
        window_start=vn(2026, 12, 7, 9),
        window_end=vn(2026, 12, 7, 17),
        limit=1,
    )

    assert [s.start for s in slots] == [first]


@pytest.mark.parametrize(
    ("busy_start", "first"),
    [
        (vn(2026, 12, 7, 10, 15), vn(2026, 12, 7, 9)),
        (vn(2026, 12, 7, 10, 15) - timedelta(microseconds=1), vn(2026, 12, 7, 10, 30)),
    ],
)
def test_a_busy_range_touching_the_buffer_after_does_not_block(
    busy_start: datetime, first: datetime
) -> None:
    slots = find(
        busy=[(busy_start, vn(2026, 12, 7, 10, 15))],
        buffer_after=timedelta(minutes=15),
        window_start=vn(2026, 12, 7, 9),
        window_end=vn(2026, 12, 7, 17),
        limit=1,
    )

    assert [s.start for s in slots] == [first]


def test_no_slot_on_national_day() -> None:
    slots = find(window_start=vn(2027, 9, 1), window_end=vn(2027, 9, 8), limit=1000)

    days = {s.start.astimezone(VN).date() for s in slots}
    assert days == {date(2027, 9, 1), date(2027, 9, 6), date(2027, 9, 7)}  # 2-3 Sept are off


def test_no_slot_during_the_lunar_new_year_2027() -> None:
    slots = find(window_start=vn(2027, 2, 1), window_end=vn(2027, 2, 13), limit=1000)

    days = {s.start.astimezone(VN).date() for s in slots}
    assert days == {date(2027, 2, d) for d in (1, 2, 3, 11, 12)}  # Tet: 4-10 February


def test_fifteen_days_notice_yields_nothing_sooner() -> None:
    now = vn(2026, 12, 1, 8)  # a Tuesday

    slots = find(
        policy=DEFAULT_POLICIES[SessionKind.REGIONAL],
        now=now,
        window_start=now,
        window_end=now + timedelta(days=30),
    )

    assert len(slots) == 10
    assert all(s.start >= now + timedelta(days=15) for s in slots)
    assert slots[0].start == vn(2026, 12, 16, 8)


def test_a_session_longer_than_the_maximum_has_no_slot() -> None:
    policy = BookingPolicy(max_duration_minutes=8 * 60)
    window = {"window_start": vn(2026, 12, 7), "window_end": vn(2027, 1, 7)}

    assert find(policy=policy, duration=timedelta(hours=8), **window)  # 07:30-15:30 fits
    assert find(policy=policy, duration=timedelta(hours=8, minutes=30), **window) == []


def test_the_grid_follows_local_midnight_across_a_dst_change() -> None:
    common = {"policy": ALL_DAY, "duration": 30 * M, "zones": [], "align_zone": "Europe/Paris"}
    common["now"] = datetime(2027, 1, 1, tzinfo=UTC)

    spring = find(
        **common,
        window_start=datetime(2027, 3, 28, tzinfo=PARIS),
        window_end=datetime(2027, 3, 29, tzinfo=PARIS),
        limit=100,
    )
    autumn = find(
        **common,
        window_start=datetime(2027, 10, 31, tzinfo=PARIS),
        window_end=datetime(2027, 11, 1, tzinfo=PARIS),
        limit=100,
    )

    assert len(spring) == 46  # 23 hours of half-hour starts (no zones: no working hours)
    assert [t.time() for t in local_starts(spring, PARIS)[3:6]] == [
        time(1, 30),
        time(3),
        time(3, 30),
    ]
    assert len(autumn) == 50  # 25 hours
    assert [t.time() for t in local_starts(autumn, PARIS)[4:8]] == [
        time(2),
        time(2, 30),
        time(2),
        time(2, 30),
    ]


def test_the_grid_restarts_every_local_day() -> None:
    slots = find(
        policy=ALL_DAY,
        duration=M,
        step=7 * M,
        zones=[],
        window_start=vn(2027, 1, 4, 23, 50),
        window_end=vn(2027, 1, 5, 1),
        limit=4,
    )

    assert [t.time() for t in local_starts(slots)] == [
        time(23, 55),
        time(0),
        time(0, 7),
        time(0, 14),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"window_start": datetime(2027, 1, 4)},
        {"now": datetime(2027, 1, 1)},
        {"duration": timedelta(0)},
        {"step": timedelta(0)},
        {"buffer_before": -M},
        {"zones": [("mars", "Mars/Olympus_Mons")]},
        {"align_zone": "Nowhere"},
        {"window_end": vn(2027, 1, 3)},
    ],
)
def test_nonsense_is_refused(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"window_start": vn(2027, 1, 4), "window_end": vn(2027, 1, 8)}
    args.update(bad)

    with pytest.raises(InvalidRequest):
        find(**args)
