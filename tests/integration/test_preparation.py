"""Preparation tasks of a regional meeting over HTTP: the board, uploads, limits, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.store.files import safe_name
from tests.builders import bearer, book_regional, client, issue_tokens

REGION = "dong-bang-song-hong"
START = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)  # Tuesday 12 January 2027, 08:00 in Hà Nội


@pytest.fixture
async def api(container: Container) -> AsyncIterator[tuple[httpx.AsyncClient, str, dict[str, str]]]:
    session_id = (await book_regional(container, region=REGION, start=START)).id
    issued = await issue_tokens(container, "ha-noi", "da-nang", chair_email=None)
    tokens = {"office": issued.office, **issued.coordinators}
    async with client(container) as http:
        yield http, session_id, tokens


auth = bearer


async def test_board_and_uploads(
    api: tuple[httpx.AsyncClient, str, dict[str, str]],
) -> None:
    http, session_id, tokens = api
    board = await http.get(f"/api/sessions/{session_id}/tasks", headers=auth(tokens["office"]))
    assert board.status_code == 200, board.text
    tasks = {t["id"]: t for t in board.json()["tasks"]}
    # the region head (Hà Nội) owes the plan and the joint report 15 days before, the results
    # within 15 days after; each site a topic report
    assert {
        "meeting_plan:ha-noi",
        "joint_report:ha-noi",
        "results_report:ha-noi",
        "topic_report:ha-noi",
    } <= set(tasks)
    plan = tasks["meeting_plan:ha-noi"]
    assert plan["due"].startswith("2026-12-28")  # 15 days before 12 January, end of the day
    assert plan["status"] == "pending"
    upload = await http.post(
        f"/api/sessions/{session_id}/tasks/meeting_plan:ha-noi/submission",
        files={"file": ("Kế hoạch giao ban.pdf", b"%PDF-1.4 ...", "application/pdf")},
        headers=auth(tokens["ha-noi"]),
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["status"] == "submitted"
    raw = await http.post(
        f"/api/sessions/{session_id}/tasks/topic_report:ha-noi/submission",
        params={"filename": "chuyen-de.docx"},
        content=b"PK\x03\x04 docx",
        headers={**auth(tokens["ha-noi"]), "Content-Type": "application/octet-stream"},
    )
    assert raw.status_code == 201, raw.text
    mine = await http.get(f"/api/sessions/{session_id}/tasks", headers=auth(tokens["ha-noi"]))
    assert {t["site_id"] for t in mine.json()["tasks"]} == {"ha-noi"}


async def test_uploads_are_checked(api: tuple[httpx.AsyncClient, str, dict[str, str]]) -> None:
    http, session_id, tokens = api
    path = f"/api/sessions/{session_id}/tasks/meeting_plan:ha-noi/submission"
    other = await http.post(
        path, files={"file": ("a.pdf", b"x", "application/pdf")}, headers=auth(tokens["da-nang"])
    )
    assert other.status_code in (403, 404)
    exe = await http.post(
        path,
        files={"file": ("virus.exe", b"MZ", "application/x-msdownload")},
        headers=auth(tokens["ha-noi"]),
    )
    assert exe.status_code == 422
    empty = await http.post(
        path, files={"file": ("a.pdf", b"", "application/pdf")}, headers=auth(tokens["ha-noi"])
    )
    assert empty.status_code == 422
    missing = await http.post(
        f"/api/sessions/{session_id}/tasks/nothing:ha-noi/submission",
        files={"file": ("a.pdf", b"x", "application/pdf")},
        headers=auth(tokens["ha-noi"]),
    )
    assert missing.status_code == 404


async def test_late_and_overdue_show_on_the_board(
    api: tuple[httpx.AsyncClient, str, dict[str, str]], clock: ManualClock
) -> None:
    http, session_id, tokens = api
    clock.set(datetime(2026, 12, 30, 3, tzinfo=UTC))  # after the plan's due date
    board = await http.get(f"/api/sessions/{session_id}/tasks", headers=auth(tokens["office"]))
    tasks = {t["id"]: t for t in board.json()["tasks"]}
    assert tasks["meeting_plan:ha-noi"]["status"] == "overdue"
    assert board.json()["late"] >= 1
    await http.post(
        f"/api/sessions/{session_id}/tasks/meeting_plan:ha-noi/submission",
        files={"file": ("plan.pdf", b"%PDF", "application/pdf")},
        headers=auth(tokens["ha-noi"]),
    )
    board = await http.get(f"/api/sessions/{session_id}/tasks", headers=auth(tokens["office"]))
    assert {t["id"]: t for t in board.json()["tasks"]}["meeting_plan:ha-noi"]["status"] == "late"


def test_file_names_are_made_safe() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("Kế hoạch.pdf") == "K-ho-ch.pdf"
