"""Reports with known answers (DESIGN 11), on SQLite and PostgreSQL: sessions whose events make
sites present, late, partial, left early, absent and unknown, frozen and not; the range's dates
in a zone; the default year; chairs scoped to their sessions, coordinators refused; the freeze
writing per-site results and the migration back-filling the records frozen before it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.attendance.sources import Observation
from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import PermissionDenied
from orchestrator.reports.service import PreparationQuery, ReportQuery, school_year
from orchestrator.store import migrate
from orchestrator.store.sql import SqlStore
from tests.builders import (
    OFFICE,
    REGION,
    bearer,
    book,
    book_regional,
    chair,
    client,
    coordinator,
    issue_tokens,
)

MIN = timedelta(minutes=1)
A_START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 10 December, 08:00 in Hà Nội
A_END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)  # 11:30
B_START = datetime(2026, 12, 17, 1, 0, tzinfo=UTC)  # a week later, another chair's
B_END = datetime(2026, 12, 17, 3, 0, tzinfo=UTC)
AFTER = datetime(2027, 1, 5, 3, 0, tzinfo=UTC)  # both have ended

OTHER_CHAIR = "other.chair@example.org"
NORTH_CENTRAL = "bac-trung-bo-duyen-hai-mien-trung"  # Đà Nẵng and Nghệ An


def _join(room: str, site: str, at: datetime) -> Observation:
    return Observation("jitsi", "join", room, at, f"j:{room}:{site}:{at.isoformat()}", site, site)


def _leave(room: str, site: str, at: datetime) -> Observation:
    return Observation("jitsi", "leave", room, at, f"l:{room}:{site}:{at.isoformat()}", site, site)


def _unknown(room: str, site: str, at: datetime) -> Observation:
    return Observation("poll", "unknown", room, at, f"u:{room}:{site}:{at.isoformat()}", site)


async def _year(c: Container, clock: ManualClock) -> tuple[BookingOut, BookingOut]:
    """Session A (six sites, frozen) and B (two sites, another chair's, ended, not frozen):

    A: Hà Nội present (joined in the connection test), Đà Nẵng present and late (30 minutes
    in), TP HCM partial and left early (the first hour), Cần Thơ and Nghệ An absent, Thái Nguyên
    unknown (every poll of it failed). B: Hà Nội present, Đà Nẵng absent.
    """
    a = await book(c, start=A_START, end=A_END)
    b = await book(
        c,
        start=B_START,
        end=B_END,
        sites=["ha-noi", "da-nang"],
        chair={"name": "Phó Chánh Văn phòng", "email": OTHER_CHAIR},
    )
    assert a.room
    assert b.room
    await c.attendance.ingest(
        [
            _join(a.room, "ha-noi", A_START - 5 * MIN),
            _join(a.room, "da-nang", A_START + 30 * MIN),
            _join(a.room, "tp-ho-chi-minh", A_START),
            _leave(a.room, "tp-ho-chi-minh", A_START + 60 * MIN),
            *(_unknown(a.room, "thai-nguyen", A_START + i * 10 * MIN) for i in range(3)),
            _join(b.room, "ha-noi", B_START),
        ]
    )
    clock.set(A_END + 5 * MIN)
    await c.attendance.freeze(a.id)
    clock.set(AFTER)
    return a, b


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def _counts(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row[k]
        for k in (
            "sessions",
            "present",
            "partial",
            "absent",
            "unknown",
            "late",
            "left_early",
            "attendance_rate",
            "provisional",
        )
    )


async def test_the_freeze_writes_each_sites_result_beside_the_record(
    container: Container, clock: ManualClock
) -> None:
    a, _ = await _year(container, clock)
    async with container.store.read() as uow:
        results = {r.site_id: r for r in await uow.reports.results([a.id])}
    assert {s: (r.status, r.late, r.left_early) for s, r in results.items()} == {
        "ha-noi": ("present", False, False),
        "da-nang": ("present", True, False),
        "tp-ho-chi-minh": ("partial", False, True),
        "can-tho": ("absent", False, False),
        "thai-nguyen": ("unknown", False, False),
        "nghe-an": ("absent", False, False),
    }
    assert results["tp-ho-chi-minh"].connected_minutes == 60.0
    assert results["da-nang"].connected_minutes == 180.0


async def test_the_migration_back_fills_records_frozen_before_it(
    container: Container, clock: ManualClock
) -> None:
    a, _ = await _year(container, clock)
    store = container.store
    assert isinstance(store, SqlStore)
    async with store.read() as uow:
        before = sorted(await uow.reports.results([a.id]), key=lambda r: r.site_id)
    assert len(before) == 6
    await migrate.downgrade(store.engine, "0011")
    async with store.engine.connect() as conn:  # the table is gone with its rows
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert "attendance_results" not in tables
    await migrate.upgrade(store.engine)
    async with store.read() as uow:
        after = sorted(await uow.reports.results([a.id]), key=lambda r: r.site_id)
    assert after == before


async def test_attendance_report_known_answer(container: Container, clock: ManualClock) -> None:
    await _year(container, clock)
    out = await container.reports.attendance(
        ReportQuery.model_validate({"from": "2026-12-01", "to": "2026-12-31"}), OFFICE
    )
    sites = _by([s.model_dump() for s in out.sites], "site_id")
    #                 sessions present partial absent unknown late left_early rate provisional
    assert {s: _counts(r) for s, r in sites.items()} == {
        "ha-noi": (2, 2, 0, 0, 0, 0, 0, 1.0, 1),
        "da-nang": (2, 1, 0, 1, 0, 1, 0, 0.5, 1),
        "tp-ho-chi-minh": (1, 0, 1, 0, 0, 0, 1, 0.0, 0),
        "can-tho": (1, 0, 0, 1, 0, 0, 0, 0.0, 0),
        "thai-nguyen": (1, 0, 0, 0, 1, 0, 0, None, 0),
        "nghe-an": (1, 0, 0, 1, 0, 0, 0, 0.0, 0),
    }
    assert sites["da-nang"]["region"] == NORTH_CENTRAL
    assert sites["ha-noi"]["connected_minutes"] == 210.0 + 120.0
    regions = _by([r.model_dump() for r in out.regions], "region")
    # rates recomputed from the sums, not averaged: 1 present of 3 known
    assert _counts(regions[NORTH_CENTRAL]) == (3, 1, 0, 2, 0, 1, 0, 0.3333, 1)
    assert _counts(regions["trung-du-mien-nui-phia-bac"]) == (1, 0, 0, 0, 1, 0, 0, None, 0)
    assert _counts(out.totals.model_dump()) == (8, 3, 1, 3, 1, 1, 1, 0.4286, 2)


async def test_a_cancelled_or_unended_session_is_not_counted(
    container: Container, clock: ManualClock
) -> None:
    await _year(container, clock)
    clock.set(A_START - timedelta(days=2))
    day = timedelta(days=1)
    cancelled = await book(container, start=A_START + day, end=A_END + day)
    await container.bookings.cancel(cancelled.id, OFFICE)
    clock.set(AFTER)
    later = AFTER + timedelta(hours=22)  # 08:00 the next morning: not ended yet
    await book(container, start=later, end=later + timedelta(hours=2))
    out = await container.reports.attendance(
        ReportQuery.model_validate({"from": "2026-12-01", "to": "2027-01-31"}), OFFICE
    )
    assert out.totals.sessions == 8


async def test_dates_are_inclusive_in_the_zone(container: Container, clock: ManualClock) -> None:
    await _year(container, clock)  # A starts 08:00 on 10 December in Hà Nội, 17:00 on the 9th in LA

    async def sessions(**q: str) -> int:
        return (
            await container.reports.attendance(ReportQuery.model_validate(q), OFFICE)
        ).totals.sessions

    assert await sessions(**{"from": "2026-12-10", "to": "2026-12-10"}) == 6
    assert await sessions(**{"from": "2026-12-11", "to": "2026-12-17"}) == 2  # B only
    assert await sessions(**{"from": "2026-12-01", "to": "2026-12-09"}) == 0
    la = {"tz": "America/Los_Angeles"}
    assert await sessions(**{"from": "2026-12-10", "to": "2026-12-10", **la}) == 0
    assert await sessions(**{"from": "2026-12-09", "to": "2026-12-09", **la}) == 6
    assert (
        await sessions(**{"from": "2026-12-10", "to": "2026-12-10", "region": NORTH_CENTRAL}) == 2
    )


async def test_the_default_range_is_the_administrative_year(
    container: Container, clock: ManualClock
) -> None:
    await _year(container, clock)
    out = await container.reports.attendance(ReportQuery(), OFFICE)
    assert (out.from_.isoformat(), out.to.isoformat()) == ("2026-09-01", "2027-08-31")
    assert out.totals.sessions == 8
    clock.set(datetime(2027, 9, 1, 0, 0, tzinfo=UTC))  # 07:00 on 1 September: a new year
    out = await container.reports.attendance(ReportQuery(), OFFICE)
    assert out.from_.isoformat() == "2027-09-01"
    assert out.totals.sessions == 0
    assert out.totals.attendance_rate is None
    assert school_year(datetime(2027, 8, 31).date())[0].isoformat() == "2026-09-01"


async def test_a_chair_sees_the_sessions_they_chair_and_a_coordinator_none(
    container: Container, clock: ManualClock
) -> None:
    await _year(container, clock)
    q = ReportQuery.model_validate({"from": "2026-12-01", "to": "2026-12-31"})
    mine = await container.reports.attendance(q, chair())
    assert mine.totals.sessions == 6
    assert mine.totals.provisional == 0
    theirs = await container.reports.attendance(q, chair(OTHER_CHAIR))
    assert _by([s.model_dump() for s in theirs.sites], "site_id").keys() == {"ha-noi", "da-nang"}
    assert theirs.totals.provisional == 2
    with pytest.raises(PermissionDenied):
        await container.reports.attendance(q, coordinator("ha-noi"))


async def test_the_grid_colours_each_site_at_each_session(
    container: Container, clock: ManualClock
) -> None:
    a, b = await _year(container, clock)
    grid = await container.reports.grid(
        ReportQuery.model_validate({"from": "2026-12-01", "to": "2026-12-31"}), OFFICE
    )
    assert [s.id for s in grid.sessions] == [a.id, b.id]
    assert [s.frozen for s in grid.sessions] == [True, False]
    assert grid.cells["da-nang"] == ["present late", "absent"]
    assert grid.cells["tp-ho-chi-minh"] == ["partial left_early", ""]


async def test_the_api_answers_json_csv_and_xlsx(container: Container, clock: ManualClock) -> None:
    from openpyxl import load_workbook

    await _year(container, clock)
    tokens = await issue_tokens(container, "ha-noi")
    q = {"from": "2026-12-01", "to": "2026-12-31"}
    async with client(container) as http:
        r = await http.get("/api/reports/attendance", params=q, headers=bearer(tokens.office))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["from"], body["to"], body["tz"]) == (
            "2026-12-01",
            "2026-12-31",
            "Asia/Ho_Chi_Minh",
        )
        assert body["totals"]["sessions"] == 8
        assert body["totals"]["attendance_rate"] == 0.4286
        r = await http.get("/api/reports/attendance", params=q, headers=bearer(tokens.chair))
        assert r.json()["totals"]["sessions"] == 6
        r = await http.get(
            "/api/reports/attendance", params=q, headers=bearer(tokens.coordinators["ha-noi"])
        )
        assert r.status_code == 403
        r = await http.get("/api/reports/attendance.csv", params=q, headers=bearer(tokens.office))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        lines = r.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("Điểm cầu,Vùng,Số phiên,Có mặt")
        assert "da-nang,bac-trung-bo-duyen-hai-mien-trung,2,1,0,1,0,1,0,180.0,0.5,1" in lines
        r = await http.get(
            "/api/reports/attendance",
            params={**q, "lang": "en"},
            headers={**bearer(tokens.office), "Accept": "text/csv"},
        )
        assert r.content.decode("utf-8-sig").startswith("Site,Region,Sessions,Present")
        r = await http.get("/api/reports/attendance.xlsx", params=q, headers=bearer(tokens.office))
        book = load_workbook(io.BytesIO(r.content))
        assert book.sheetnames == ["Điểm cầu", "Vùng", "Tổng"]
        totals = list(book["Tổng"].iter_rows(values_only=True))
        assert totals[-1][:4] == (8, 3, 1, 3)
        r = await http.get(
            "/api/reports/attendance",
            params={"from": "2026-12-31", "to": "2026-12-01"},
            headers=bearer(tokens.office),
        )
        assert r.status_code == 422
        r = await http.get(
            "/api/reports/attendance",
            params={**q, "tz": "Mars/Olympus"},
            headers=bearer(tokens.office),
        )
        assert r.status_code == 422


async def test_preparation_report_known_answer(container: Container, clock: ManualClock) -> None:
    """Hà Nội heads Đồng bằng sông Hồng: it owes the regional meeting of 12 January 2027 three
    documents due on 28 December (one sent on time, one late, one never) and a results report
    due on 27 January (not due yet on 5 January)."""
    session = await book_regional(container)
    head = coordinator("ha-noi")

    async def send(task: str) -> None:
        await container.preparation.submit(
            session.id, f"{task}:ha-noi", f"{task}.pdf", "application/pdf", b"%PDF-1.4", head
        )

    clock.set(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    await send("meeting_plan")
    clock.set(datetime(2026, 12, 29, 3, 0, tzinfo=UTC))
    await send("joint_report")
    clock.set(AFTER)

    async def report(**q: str) -> dict[str, Any]:
        out = await container.reports.preparation(PreparationQuery.model_validate(q), OFFICE)
        return out.model_dump(by_alias=True)

    out = await report(**{"from": "2026-12-01", "to": "2027-01-31"})
    counts = ("due", "on_time", "late", "missing", "open")
    assert [(s["site_id"], *(s[k] for k in counts)) for s in out["sites"]] == [
        ("ha-noi", 4, 1, 1, 1, 1)
    ]
    assert [(r["region"], r["due"]) for r in out["regions"]] == [(REGION, 4)]
    assert out["totals"]["missing"] == 1
    assert (await report(**{"from": "2026-12-28", "to": "2026-12-28"}))["totals"]["due"] == 3
    assert (await report(**{"from": "2026-12-29", "to": "2027-01-26"}))["totals"]["due"] == 0
    other = await report(**{"from": "2026-12-01", "to": "2027-01-31", "region": "dong-nam-bo"})
    assert out["totals"]["due"] == 4
    assert other["totals"]["due"] == 0
    with pytest.raises(PermissionDenied):
        await container.reports.preparation(PreparationQuery(), head)
    assert (await container.reports.preparation(PreparationQuery(), chair())).totals.due == 0
