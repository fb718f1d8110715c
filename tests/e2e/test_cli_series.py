"""`orchestrator series` as a user runs it (in-process): book, list, show, reschedule, cancel,
and the refusals said per occurrence. The clock is the real one: the dates are years ahead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.conftest import EXAMPLE_DIRECTORY

runner = CliRunner()


@pytest.fixture
def cli(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(
            app, ["--data-dir", str(tmp_path / "var"), "--database-url", db_url, *args]
        )
        return result.exit_code, result.stdout, result.stderr

    code, _, err = invoke("directory", "import", str(EXAMPLE_DIRECTORY))
    assert code == 0, err
    return invoke


# Thursdays from 10 January 2030 at 08:00 in Hà Nội; 31 January 2030 is Tết's 29th (a holiday)
BOOK = (
    "series",
    "book",
    "--title",
    "Giao ban tuần",
    "--start",
    "2030-01-10T08:00",
    "--end",
    "2030-01-10T10:00",
    "--recurrence",
    "FREQ=WEEKLY;BYDAY=TH;COUNT=6",
    "--host-site",
    "ha-noi",
    "--sites",
    "ha-noi,da-nang",
    "--chair-email",
    "chair@moet.example.org",
)


def test_book_list_show_reschedule_cancel(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(*BOOK)
    assert code == 1
    assert "2030-01-31 08:00: holiday" in err
    code, out, err = cli(*BOOK, "--skip-conflicting-occurrences")
    assert code == 0, err
    assert "skipped 2030-01-31 08:00: holiday" in err
    series_id = out.strip().splitlines()[-1]
    code, out, _ = cli("series", "show", series_id)
    shown = json.loads(out)
    assert [o["start"][:10] for o in shown["occurrences"]] == [
        "2030-01-10",
        "2030-01-17",
        "2030-01-24",
        "2030-02-07",
        "2030-02-14",
    ]
    assert shown["recurrence"] == "FREQ=WEEKLY;BYDAY=TH;COUNT=6"
    # its occurrences are sessions: one of them as the sessions' verbs show it
    code, out, _ = cli("sessions", "show", shown["occurrences"][1]["session_id"])
    assert json.loads(out)["series_id"] == series_id
    code, out, _ = cli("series", "list", "--site", "da-nang")
    assert code == 0
    assert series_id in out
    # a single booking on an occurrence is refused naming it
    code, _, err = cli(
        "sessions",
        "book",
        "--title",
        "x",
        "--start",
        "2030-01-17T09:00",
        "--end",
        "2030-01-17T10:00",
        "--host-site",
        "da-nang",
        "--sites",
        "da-nang",
        "--chair-email",
        "x@example.org",
    )
    assert code == 1
    assert shown["occurrences"][1]["session_id"] in err
    code, _, err = cli("series", "reschedule", series_id, "--start-time", "09:00")
    assert code == 0, err
    code, out, _ = cli("series", "show", series_id, "--table")
    assert "2030-01-10 09:00" in out
    assert "2030-02-14 09:00" in out
    code, _, err = cli("series", "reschedule", series_id, "--start-time", "nine")
    assert code == 1
    assert "--start-time" in err
    code, out, _ = cli("series", "cancel", series_id, "--reason", "hoãn")
    assert code == 0
    assert "cancelled" in out
    code, out, _ = cli("audit", "--target", f"series:{series_id}")
    assert "series.cancel" in out
    assert "hoãn" in out


def test_a_conflict_names_each_occurrence(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(*BOOK, "--skip-conflicting-occurrences")
    assert code == 0, err
    code, _, err = cli(
        *BOOK[:5],
        "2030-01-17T09:00",
        "--end",
        "2030-01-17T10:00",
        "--recurrence",
        "FREQ=WEEKLY;BYDAY=TH;COUNT=2",
        *BOOK[10:],
    )
    assert code == 1
    assert "2030-01-17 09:00: site:ha-noi held by session" in err
    assert "2030-01-24 09:00: site:da-nang held by session" in err
    code, _, err = cli("series", "book", "--title", "x")
    assert code == 2
    assert "--recurrence" in err
