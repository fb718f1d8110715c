"""Series on real SQLite and PostgreSQL (DESIGN 10): every occurrence booked, checked and
claimed like a session in one transaction; skipped dates and why; changes of the whole series
and of one occurrence; the outbox rows the invites read."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from orchestrator.booking.schemas import UpdateSessionRequest
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    SeriesOut,
    UpdateSeriesRequest,
)
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import (
    BookingConflict,
    IdempotencyMismatch,
    InvalidRequest,
    InvalidState,
    PermissionDenied,
    SeriesConflict,
    SeriesNotFound,
    SeriesPolicyViolation,
)
from orchestrator.domain.models import SeriesStatus, SessionStatus
from orchestrator.store import tables as t
from orchestrator.store.base import SeriesQuery, SessionQuery
from orchestrator.store.sql import SqlStore
from tests.builders import (
    bearer,
    book_national,
    chair,
    client,
    coordinator,
    issue_tokens,
    national_data,
)
from tests.conftest import OFFICE, SIX

# Thursdays at 08:00 in Hà Nội from 14 January 2027; the fourth, 4 February, is the 29th of the
# lunar year (a public holiday).
FIRST = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)
WEEKLY = "FREQ=WEEKLY;BYDAY=TH;COUNT=8"
THURSDAYS = [
    "2027-01-14",
    "2027-01-21",
    "2027-01-28",
    "2027-02-04",
    "2027-02-11",
    "2027-02-18",
    "2027-02-25",
    "2027-03-04",
]


def occurrence(day: str) -> str:
    return f"{day}T08:00:00+07:00"


def series_request(**over: Any) -> BookSeriesRequest:
    base: dict[str, Any] = {
        "title": "Giao ban tuần",
        "start": FIRST,
        "end": FIRST + timedelta(hours=2),
        "recurrence": WEEKLY,
    }
    data = national_data(**{**base, **over})
    return BookSeriesRequest.model_validate(data)


async def book_series(c: Container, **over: Any) -> SeriesOut:
    answer = await c.bookings.series.book(series_request(**over), OFFICE)
    assert answer.status == 201
    return answer.value


async def outbox_rows(c: Container) -> list[tuple[str, str, int, dict[str, Any]]]:
    assert isinstance(c.store, SqlStore)
    o = t.outbox.c
    async with c.store.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(o.kind, o.session_id, o.version, o.payload).order_by(o.id)
        )
        return [(r.kind, r.session_id, r.version, dict(r.payload)) for r in rows]


async def active_claims(c: Container) -> int:
    assert isinstance(c.store, SqlStore)
    async with c.store.engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).where(t.claims.c.active.is_(True)))
    return int(count or 0)


async def hold(c: Container, days: int, hours: float = 2, length: float = 1) -> str:
    """Book Cần Thơ alone `days` after the first Thursday, `hours` after 08:00 in Hà Nội for
    `length` hours (by default 10:00 to 11:00: inside the series' buffer after, 10:00 to 10:15),
    without buffers; the id of that session."""
    site = "can-tho"
    held = await book_national(
        c,
        title="Held",
        start=FIRST + timedelta(days=days, hours=hours),
        end=FIRST + timedelta(days=days, hours=hours + length),
        host_site=site,
        sites=[site],
        leader_groups=[],
        chair={"name": "Other", "email": "other@moet.example.org"},
        buffer_before_minutes=0,
        buffer_after_minutes=0,
    )
    return held.id


# booking --------------------------------------------------------------------------------


async def test_every_occurrence_is_a_session_with_its_series_and_original_start(
    container: Container,
) -> None:
    out = await book_series(container, override_reason="Họp cả ngày 29 Tết theo chỉ đạo")
    assert out.recurrence == WEEKLY
    assert out.timezone == "Asia/Ho_Chi_Minh"
    assert out.status is SeriesStatus.ACTIVE
    assert [o.occurrence.isoformat() for o in out.occurrences] == [occurrence(d) for d in THURSDAYS]
    assert [o.start for o in out.occurrences] == [o.occurrence for o in out.occurrences]
    assert all(o.status is SessionStatus.SCHEDULED for o in out.occurrences)
    assert out.skipped == []
    assert out.policy_overridden == ["holiday"]
    assert [s.site_id for s in out.sites] == SIX
    assert out.version == 1
    for o in out.occurrences:
        session = await container.bookings.get(o.session_id, OFFICE)
        assert session.series_id == out.id
        assert session.occurrence == o.occurrence
        assert [s.site_id for s in session.sites] == SIX
        assert all(s.join_url for s in session.sites)  # each site's own link, as any session
    rooms = {(await container.bookings.session(o.session_id)).room for o in out.occurrences}
    assert len(rooms) == 8
    # every claim of every occurrence: 6 sites, the leader group and the chair, 8 times
    assert await active_claims(container) == 8 * 8
    assert await container.bookings.series.get(out.id, OFFICE) == out.model_copy(
        update={"policy_overridden": []}
    )
    # one outbox row for the invites of the whole series, none for each occurrence
    assert await outbox_rows(container) == [
        (
            "series-invites",
            out.id,
            1,
            {"series_id": out.id, "message": "series", "occurrence": None, "site_ids": None},
        )
    ]


async def test_a_single_booking_on_an_occurrence_is_refused_naming_it(
    container: Container,
) -> None:
    out = await book_series(container, override_reason="ok")
    third = out.occurrences[2]
    with pytest.raises(BookingConflict) as info:
        await book_national(
            container,
            title="Another",
            start=third.start + timedelta(hours=1),
            end=third.start + timedelta(hours=3),
            host_site="da-nang",
            sites=["da-nang"],
            leader_groups=[],
            chair={"name": "Other", "email": "other@moet.example.org"},
        )
    assert {(c.resource, c.session_id) for c in info.value.conflicts} == {
        ("site:da-nang", third.session_id)
    }


async def test_all_or_nothing_judges_the_policy_first_naming_each_occurrence(
    container: Container,
) -> None:
    with pytest.raises(SeriesPolicyViolation) as info:
        await container.bookings.series.book(series_request(), OFFICE)
    assert info.value.code == "policy_violation"
    body = info.value.extra()
    assert body["rule"] == "holiday"
    assert [(v["occurrence"], v["rule"]) for v in body["violations"]] == [  # type: ignore[attr-defined]
        (occurrence("2027-02-04"), "holiday")
    ]
    assert await container.bookings.series.list_series(SeriesQuery(), OFFICE) == []
    assert await container.bookings.list_sessions(SessionQuery(), OFFICE) == []
    assert await active_claims(container) == 0


async def test_all_or_nothing_refuses_any_conflict_naming_each_occurrence(
    container: Container,
) -> None:
    held = await hold(container, 7)
    with pytest.raises(SeriesConflict) as info:
        await container.bookings.series.book(series_request(override_reason="ok"), OFFICE)
    assert info.value.status == 409
    assert info.value.extra() == {
        "conflicts": [
            {
                "occurrence": occurrence("2027-01-21"),
                "resource": "site:can-tho",
                "session_id": held,
                "start": "2027-01-21T03:00:00Z",
                "end": "2027-01-21T04:00:00Z",
            }
        ]
    }
    assert await container.bookings.series.list_series(SeriesQuery(), OFFICE) == []
    assert len(await container.bookings.list_sessions(SessionQuery(), OFFICE)) == 1


async def test_skipping_books_the_rest_and_says_why_each_date_was_left_out(
    container: Container,
) -> None:
    held = await hold(container, 7)
    out = await book_series(container, conflict_policy="skip_conflicting_occurrences")
    booked = [o.occurrence.isoformat() for o in out.occurrences]
    assert booked == [occurrence(d) for d in THURSDAYS if d not in ("2027-01-21", "2027-02-04")]
    skipped = {k.occurrence.isoformat(): k for k in out.skipped}
    assert list(skipped) == [occurrence("2027-01-21"), occurrence("2027-02-04")]
    conflict = skipped[occurrence("2027-01-21")]
    assert conflict.rule is None
    assert [(c.resource, c.session_id) for c in conflict.conflicts] == [("site:can-tho", held)]
    holiday = skipped[occurrence("2027-02-04")]
    assert holiday.rule == "holiday"
    assert holiday.conflicts == []
    assert "2027-02-04" in (holiday.detail or "")
    # the skipped dates are kept with the series (the invites' EXDATEs)
    read = await container.bookings.series.get(out.id, OFFICE)
    assert read.skipped == out.skipped
    assert await active_claims(container) == 6 * 8 + 2  # the held session's site and chair


async def test_skipping_every_occurrence_books_nothing(container: Container) -> None:
    with pytest.raises(SeriesPolicyViolation):
        await container.bookings.series.book(
            series_request(
                recurrence="FREQ=WEEKLY;BYDAY=TH;COUNT=1",
                start=datetime(2027, 2, 4, 1, 0, tzinfo=UTC),
                end=datetime(2027, 2, 4, 3, 0, tzinfo=UTC),
                conflict_policy="skip_conflicting_occurrences",
            ),
            OFFICE,
        )
    assert await container.bookings.series.list_series(SeriesQuery(), OFFICE) == []


async def test_skipping_sites_is_refused_for_a_series() -> None:
    with pytest.raises(ValidationError) as info:
        series_request(conflict_policy="skip_conflicting")
    [error] = info.value.errors()
    assert error["ctx"]["reason"] == "series_skip_sites"


async def test_the_rule_is_checked_before_anything_is_written(container: Container) -> None:
    wednesday = FIRST - timedelta(days=1)
    with pytest.raises(InvalidRequest) as info:
        await container.bookings.series.book(
            series_request(start=wednesday, end=wednesday + timedelta(hours=2)), OFFICE
        )
    assert info.value.reason == "not_an_instance"
    with pytest.raises(InvalidRequest) as info:
        await container.bookings.series.book(
            series_request(
                recurrence="FREQ=DAILY;COUNT=3",
                end=FIRST + timedelta(hours=9),
                buffer_before_minutes=8 * 60,
                buffer_after_minutes=8 * 60,
            ),
            OFFICE,
        )
    assert info.value.reason == "occurrences_overlap"
    with pytest.raises(InvalidRequest) as info:
        await container.bookings.series.book(series_request(sites=["nowhere"]), OFFICE)
    assert info.value.reason == "unknown_sites"
    assert await active_claims(container) == 0


async def test_idempotent_booking_books_once(container: Container) -> None:
    req = series_request(override_reason="ok")
    first = await container.bookings.series.book(req, OFFICE, idempotency_key="k-1")
    again = await container.bookings.series.book(req, OFFICE, idempotency_key="k-1")
    assert again.replayed
    assert again.value == first.value
    assert len(await container.bookings.series.list_series(SeriesQuery(), OFFICE)) == 1
    with pytest.raises(IdempotencyMismatch):
        await container.bookings.series.book(
            series_request(override_reason="other"), OFFICE, idempotency_key="k-1"
        )


async def test_roles_and_visibility_as_for_sessions(container: Container) -> None:
    out = await book_series(container, override_reason="ok", sites=["ha-noi", "da-nang"])
    with pytest.raises(PermissionDenied):
        await container.bookings.series.book(series_request(), coordinator("da-nang"))
    assert (await container.bookings.series.get(out.id, chair())).id == out.id
    assert (await container.bookings.series.get(out.id, coordinator("da-nang"))).id == out.id
    for outsider in (chair("someone@example.org"), coordinator("can-tho")):
        with pytest.raises(SeriesNotFound):
            await container.bookings.series.get(out.id, outsider)
        assert await container.bookings.series.list_series(SeriesQuery(), outsider) == []
    listed = await container.bookings.series.list_series(SeriesQuery(), coordinator("da-nang"))
    assert [s.id for s in listed] == [out.id]
    with pytest.raises(PermissionDenied):
        await container.bookings.series.cancel(out.id, chair())
    entries = await container.access.audit_log(OFFICE, target=f"series:{out.id}")
    assert [(e.action, e.reason) for e in entries] == [("series.book", "ok")]


# changes --------------------------------------------------------------------------------


async def test_patch_moves_every_occurrence_not_yet_started(
    container: Container, clock: ManualClock
) -> None:
    out = await book_series(container, override_reason="ok")
    clock.set(FIRST + timedelta(minutes=30))  # the first occurrence is live
    moved = await container.bookings.series.update(
        out.id, UpdateSeriesRequest(start_time=time(9, 0), override_reason="ok"), OFFICE
    )
    assert moved.version == 2
    assert moved.start == out.start  # the rule and the first occurrence never change
    assert moved.recurrence == out.recurrence
    starts = [o.start.isoformat() for o in moved.occurrences]
    assert starts[0] == occurrence(THURSDAYS[0])
    assert starts[1:] == [f"{d}T09:00:00+07:00" for d in THURSDAYS[1:]]
    assert [o.occurrence for o in moved.occurrences] == [o.occurrence for o in out.occurrences]
    assert all(o.end - o.start == timedelta(hours=2) for o in moved.occurrences)
    assert moved.occurrences[0].status is SessionStatus.LIVE
    assert moved.overwritten == []
    read = await container.bookings.series.get(out.id, OFFICE)
    assert read.occurrences == moved.occurrences
    # the claims moved too: 07:30 on the second Thursday is free now, 10:30 is not
    second = FIRST + timedelta(days=7)
    free: dict[str, Any] = {
        "title": "x",
        "host_site": "can-tho",
        "sites": ["can-tho"],
        "leader_groups": [],
        "chair": {"name": "Other", "email": "other@moet.example.org"},
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
    }
    await book_national(
        container, start=second - timedelta(minutes=30), end=second + timedelta(minutes=30), **free
    )
    with pytest.raises(BookingConflict):
        await book_national(
            container,
            start=second + timedelta(hours=2, minutes=30),
            end=second + timedelta(hours=3),
            **free,
        )
    series_rows = [r for r in await outbox_rows(container) if r[0] == "series-invites"]
    assert [(r[2], r[3]["message"]) for r in series_rows] == [(1, "series"), (2, "series")]


async def test_patch_is_all_or_nothing_each_occurrence_checked(container: Container) -> None:
    out = await book_series(container, override_reason="ok")
    # 11:00 to 11:30 on the sixth Thursday: clear of the series until it moves an hour later
    held = await hold(container, 35, hours=3, length=0.5)
    with pytest.raises(SeriesConflict) as info:
        await container.bookings.series.update(
            out.id, UpdateSeriesRequest(start_time=time(9, 0), override_reason="ok"), OFFICE
        )
    assert [(c.occurrence.isoformat(), c.conflict.session_id) for c in info.value.occurrences] == [
        (occurrence("2027-02-18"), held)
    ]
    with pytest.raises(SeriesPolicyViolation) as policy:
        await container.bookings.series.update(
            out.id, UpdateSeriesRequest(start_time=time(12, 0)), OFFICE
        )
    assert {b.breach.rule for b in policy.value.occurrences} == {"working_hours", "holiday"}
    # each occurrence at lunch, the holiday said once (its first broken rule)
    assert len(policy.value.occurrences) == 8
    read = await container.bookings.series.get(out.id, OFFICE)
    assert read.version == 1
    assert read.occurrences == out.occurrences


async def test_one_occurrence_changed_alone_is_an_exception_a_series_change_overwrites(
    container: Container,
) -> None:
    out = await book_series(container, override_reason="ok")
    second, third = out.occurrences[1], out.occurrences[2]
    changed = await container.bookings.update(
        second.session_id,
        UpdateSessionRequest(title="Giao ban (đổi)", remove_sites=["nghe-an"]),
        OFFICE,
    )
    assert changed.series_id == out.id
    assert changed.occurrence == second.occurrence
    cancelled = await container.bookings.cancel(third.session_id, OFFICE)
    assert cancelled.status is SessionStatus.CANCELLED
    read = await container.bookings.series.get(out.id, OFFICE)
    assert read.version == 3  # each change of an occurrence raises the series' version
    assert read.occurrences[1].changed == ["sites", "title"]
    assert read.occurrences[2].status is SessionStatus.CANCELLED
    rows = await outbox_rows(container)
    assert [(r[0], r[2], r[3]["message"], r[3]["occurrence"], r[3]["site_ids"]) for r in rows] == [
        ("series-invites", 1, "series", None, None),
        ("series-invites", 2, "cancel-occurrence", occurrence(THURSDAYS[1]), ["nghe-an"]),
        ("series-invites", 2, "occurrence", occurrence(THURSDAYS[1]), SIX[:5]),
        ("series-invites", 3, "cancel-occurrence", occurrence(THURSDAYS[2]), None),
    ]
    assert all(r[0] == "series-invites" for r in rows)  # never the single-session kind
    # a series change of the title replaces the occurrence's own, and says so
    after = await container.bookings.series.update(
        out.id, UpdateSeriesRequest(title="Giao ban tuần (mới)"), OFFICE
    )
    assert after.version == 4
    assert [(w.session_id, w.fields) for w in after.overwritten] == [(second.session_id, ["title"])]
    assert after.occurrences[1].changed == ["sites"]  # its own sites stay its own
    assert after.occurrences[2].status is SessionStatus.CANCELLED  # cancelled stays cancelled
    titles = [(await container.bookings.session(o.session_id)).title for o in after.occurrences]
    assert titles == ["Giao ban tuần (mới)"] * 2 + ["Giao ban tuần"] + ["Giao ban tuần (mới)"] * 5
    alone = await container.bookings.session(second.session_id)
    assert "nghe-an" not in alone.site_ids
    # adding a site to the series gives it to every occurrence not yet started, this one too
    grown = await container.bookings.series.update(
        out.id, UpdateSeriesRequest(add_sites=["nghe-an"], override_reason="ok"), OFFICE
    )
    assert [(w.session_id, w.fields) for w in grown.overwritten] == [(second.session_id, ["sites"])]
    assert "nghe-an" in (await container.bookings.session(second.session_id)).site_ids


async def test_removing_a_site_from_the_series_releases_its_claims(container: Container) -> None:
    out = await book_series(container, override_reason="ok")
    after = await container.bookings.series.update(
        out.id, UpdateSeriesRequest(remove_sites=["nghe-an"]), OFFICE
    )
    assert [s.site_id for s in after.sites] == SIX[:5]
    assert await active_claims(container) == 7 * 8
    rows = await outbox_rows(container)
    assert [(r[2], r[3]["message"], r[3]["site_ids"]) for r in rows[1:]] == [
        (2, "series", None),
        (2, "cancel-series", ["nghe-an"]),
    ]
    with pytest.raises(InvalidRequest) as info:
        await container.bookings.series.update(
            out.id, UpdateSeriesRequest(remove_sites=["nghe-an"]), OFFICE
        )
    assert info.value.reason == "not_in_series"


async def test_cancel_cancels_every_occurrence_not_yet_started(
    container: Container, clock: ManualClock
) -> None:
    out = await book_series(container, override_reason="ok")
    clock.set(FIRST + timedelta(days=7, hours=3))  # the second occurrence has ended
    done = await container.bookings.series.cancel(out.id, OFFICE, "Đổi lịch")
    assert done.status is SeriesStatus.CANCELLED
    assert [o.status for o in done.occurrences] == [SessionStatus.ENDED] * 2 + [
        SessionStatus.CANCELLED
    ] * 6
    assert await active_claims(container) == 2 * 8
    assert done.version == 2
    again = await container.bookings.series.cancel(out.id, OFFICE)
    assert again.version == 2
    assert [r[3]["message"] for r in await outbox_rows(container)] == ["series", "cancel-series"]
    with pytest.raises(InvalidState) as info:
        await container.bookings.series.update(out.id, UpdateSeriesRequest(title="x"), OFFICE)
    assert info.value.reason == "series_cancelled_no_change"
    # the freed dates can be booked again
    await book_series(
        container,
        override_reason="ok",
        start=FIRST + timedelta(days=14),
        end=FIRST + timedelta(days=14, hours=2),
        recurrence="FREQ=WEEKLY;BYDAY=TH;COUNT=3",
    )


async def test_a_series_whose_occurrences_all_started_cannot_be_changed(
    container: Container, clock: ManualClock
) -> None:
    out = await book_series(container, recurrence="FREQ=WEEKLY;BYDAY=TH;COUNT=2")
    clock.set(FIRST + timedelta(days=8))
    with pytest.raises(InvalidState) as info:
        await container.bookings.series.update(out.id, UpdateSeriesRequest(title="x"), OFFICE)
    assert info.value.reason == "series_over_no_change"
    with pytest.raises(InvalidState) as cancel:
        await container.bookings.series.cancel(out.id, OFFICE)
    assert cancel.value.reason == "series_over_no_cancel"
    assert (await container.bookings.series.get(out.id, OFFICE)).status is SeriesStatus.ENDED


async def test_listing_by_status_tells_ended_from_active_before_the_limit(
    container: Container, clock: ManualClock
) -> None:
    """An ended series is one whose occurrences not cancelled have all ended; the store tells
    them apart, so a limit counts only the series of the status asked for."""
    ended = await book_series(container, recurrence="FREQ=WEEKLY;BYDAY=TH;COUNT=2")
    later = FIRST + timedelta(days=1)  # a Friday: no claim shared with the Thursdays
    active = await book_series(
        container,
        title="Giao ban thứ Sáu",
        start=later,
        end=later + timedelta(hours=2),
        recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=3",
    )
    cancelled = await book_series(
        container,
        title="Họp đã hủy",
        start=later + timedelta(hours=6),  # 14:00-15:00 in Hà Nội
        end=later + timedelta(hours=7),
        recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=2",
    )
    await container.bookings.series.cancel(cancelled.id, OFFICE)
    clock.set(FIRST + timedelta(days=8))  # the Thursdays are over, two Fridays to come
    series = container.bookings.series

    async def ids(status: SeriesStatus | None, limit: int = 1) -> list[str]:
        found = await series.list_series(SeriesQuery(status=status, limit=limit), OFFICE)
        assert all(status is None or s.status is status for s in found)
        return [s.id for s in found]

    assert await ids(SeriesStatus.ACTIVE) == [active.id]  # the ended one, first, not counted
    assert await ids(SeriesStatus.ENDED) == [ended.id]
    assert await ids(SeriesStatus.CANCELLED) == [cancelled.id]
    assert await ids(None, limit=10) == [ended.id, active.id, cancelled.id]
    clock.set(later + timedelta(days=15))  # every Friday over too
    assert await ids(SeriesStatus.ACTIVE) == []
    assert await ids(SeriesStatus.ENDED, limit=10) == [ended.id, active.id]


# over HTTP ------------------------------------------------------------------------------


def _body(**over: Any) -> dict[str, Any]:
    return series_request(**over).model_dump(mode="json")


async def test_the_api_books_reads_changes_and_cancels_a_series(container: Container) -> None:
    tokens = await issue_tokens(container, "da-nang", "can-tho")
    office = bearer(tokens.office)
    async with client(container, timeout=30) as http:
        two = _body(override_reason="ok", sites=["ha-noi", "da-nang"])
        r = await http.post("/api/series", json=two, headers=office)
        assert r.status_code == 201, r.text
        s = r.json()
        assert s["recurrence"] == WEEKLY
        assert [o["occurrence"] for o in s["occurrences"]] == [occurrence(d) for d in THURSDAYS]
        assert [x["site_id"] for x in s["sites"]] == ["ha-noi", "da-nang"]
        assert set(s["sites"][0]) == {"site_id", "name", "join_gateway_url"}
        assert s["skipped"] == []
        assert s["version"] == 1
        # each occurrence is an ordinary session naming its series and original start
        first = s["occurrences"][0]
        got = (await http.get(f"/api/sessions/{first['session_id']}", headers=office)).json()
        assert got["series_id"] == s["id"]
        assert got["occurrence"] == occurrence(THURSDAYS[0])
        # roles and visibility as for sessions
        assert (await http.get(f"/api/series/{s['id']}", headers=office)).json() == s | {
            "policy_overridden": []
        }
        # each site's join gateway link, a site's identity: a coordinator sees only their own
        links = {x["site_id"]: x["join_gateway_url"] for x in s["sites"]}
        assert all("/join/" in (u or "") for u in links.values())
        assert len(set(links.values())) == 2
        mine = bearer(tokens.coordinators["da-nang"])
        seen = (await http.get(f"/api/series/{s['id']}", headers=mine)).json()
        assert {x["site_id"]: x["join_gateway_url"] for x in seen["sites"]} == {
            "ha-noi": None,
            "da-nang": links["da-nang"],
        }
        other = bearer(tokens.coordinators["can-tho"])
        assert (await http.get("/api/series", headers=other)).json() == {"series": [], "count": 0}
        listed = (await http.get("/api/series?status=active", headers=mine)).json()
        assert [x["id"] for x in listed["series"]] == [s["id"]]
        r = await http.post("/api/series", json=_body(), headers=mine)
        assert r.status_code == 403
        # a series change, then the cancel
        r = await http.patch(
            f"/api/series/{s['id']}",
            json={"start_time": "09:00", "override_reason": "ok"},
            headers=office,
        )
        assert r.status_code == 200, r.text
        assert r.json()["occurrences"][0]["start"] == "2027-01-14T09:00:00+07:00"
        assert r.json()["overwritten"] == []
        r = await http.post(f"/api/series/{s['id']}/cancel", json={"reason": "x"}, headers=office)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        assert (await http.get("/api/series?status=cancelled", headers=office)).json()["count"] == 1
        assert (await http.get("/api/series/nope", headers=office)).status_code == 404


async def test_the_api_names_each_occurrence_of_a_refusal_in_either_language(
    container: Container,
) -> None:
    tokens = await issue_tokens(container)
    office = bearer(tokens.office)
    async with client(container, timeout=30) as http:
        r = await http.post("/api/series", json=_body(), headers=office)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "policy_violation"
        assert body["violations"] == [
            {
                "occurrence": occurrence("2027-02-04"),
                "rule": "holiday",
                "detail": body["violations"][0]["detail"],
                "site_id": "ha-noi",
            }
        ]
        vi = await http.post(
            "/api/series", json=_body(), headers={**office, "Accept-Language": "vi"}
        )
        assert "2027-02-04 08:00" in vi.json()["detail"]
        assert "Các buổi" in vi.json()["detail"]
        await hold(container, 7)
        r = await http.post("/api/series", json=_body(override_reason="ok"), headers=office)
        assert r.status_code == 409, r.text
        assert [c["occurrence"] for c in r.json()["conflicts"]] == [occurrence("2027-01-21")]
        r = await http.post(
            "/api/series",
            json=_body(conflict_policy="skip_conflicting_occurrences"),
            headers=office,
        )
        assert r.status_code == 201, r.text
        assert [(k["occurrence"], k["rule"]) for k in r.json()["skipped"]] == [
            (occurrence("2027-01-21"), None),
            (occurrence("2027-02-04"), "holiday"),
        ]
        wrong = {**_body(override_reason="ok"), "conflict_policy": "skip_conflicting"}
        r = await http.post("/api/series", json=wrong, headers=office)
        assert r.status_code == 422
        assert r.json()["code"] == "validation_error"
        assert "skip_conflicting_occurrences" in r.json()["detail"]
        bad = {**_body(override_reason="ok"), "recurrence": "FREQ=WEEKLY;BYDAY=WE;COUNT=3"}
        r = await http.post("/api/series", json=bad, headers={**office, "Accept-Language": "vi"})
        assert r.status_code == 422
        assert r.json()["code"] == "invalid_request"
        assert r.json()["field"] == "start"
        assert "không phải một buổi của quy tắc lặp" in r.json()["detail"]


async def test_a_long_series_moves_with_every_link_kept(container: Container) -> None:
    """40 occurrences × 6 sites: enough rows for the bulk statements (COPY, arrays)."""
    out = await book_series(container, override_reason="ok", recurrence="FREQ=WEEKLY;COUNT=40")
    before = {
        o.session_id: (await container.bookings.session(o.session_id)).sites
        for o in out.occurrences
    }
    assert all(s.join_url for sites in before.values() for s in sites)
    moved = await container.bookings.series.update(
        out.id, UpdateSeriesRequest(start_time=time(9, 0), override_reason="ok"), OFFICE
    )
    assert {o.start.time() for o in moved.occurrences} == {time(9, 0)}
    for o in moved.occurrences:
        session = await container.bookings.session(o.session_id)
        assert session.sites == before[o.session_id]
        assert session.start == o.start
    assert await active_claims(container) == 40 * 8
