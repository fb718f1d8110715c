"""The `orchestrator` command as a user runs it: in-process for most verbs, a real process for
`serve` and `demo`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.conftest import EXAMPLE_DIRECTORY, ROOT
from tests.smtp_server import SmtpTestServer

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


def test_directory_import_is_idempotent_and_reports_counts(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("directory", "import", str(EXAMPLE_DIRECTORY))
    assert code == 0
    assert "6 sites" in err
    code, out, _ = cli("directory", "show", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["sites"]) == 6


def test_bad_directory_names_file_line_field_and_changes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[sites]]\nid = "hue"\nname = "Huế"\n\n[[sites]]\nid = "x"\nname = "X"\n'
        'timezone = "Asia/Hanoi"\n',
        encoding="utf-8",
    )
    code, _, err = cli("directory", "import", str(bad))
    assert code == 1
    assert f"{bad}:8: sites[1].timezone" in err
    assert "nothing was imported" in err
    _, out, _ = cli("directory", "show", "--json")
    assert "hue" not in {s["id"] for s in json.loads(out)["sites"]}


def test_token_is_printed_alone_on_stdout(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("tokens", "create", "--role", "coordinator", "--site", "da-nang")
    assert code == 0
    assert out.strip().startswith("orch_")
    assert len(out.strip().splitlines()) == 1
    assert "shown only once" in err
    code, _, err = cli("tokens", "create", "--role", "coordinator")
    assert code == 1
    assert "--site" in err
    code, _, err = cli("tokens", "create", "--role", "coordinator", "--site", "atlantis")
    assert code == 1
    code, out, _ = cli("tokens", "list")
    assert "coordinator" in out


def test_book_list_show_reschedule_cancel(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "sessions",
        "book",
        "--title",
        "Hội nghị trực tuyến",
        "--start",
        "2030-01-08T08:00",
        "--end",
        "2030-01-08T11:30",
        "--host-site",
        "ha-noi",
        "--sites",
        "ha-noi,da-nang,can-tho",
        "--chair-email",
        "chair@moet.example.org",
        "--groups",
        "lanh-dao-bo",
        "--override-reason",
        "test clock is the real one",
    )
    assert code == 0, err
    session_id = out.strip().splitlines()[-1]
    code, out, _ = cli("sessions", "show", session_id)
    shown = json.loads(out)
    assert shown["start"] == "2030-01-08T08:00:00+07:00"
    assert len(shown["sites"]) == 3
    # the same slot again: a conflict naming the claim, exit 1
    code, _, err = cli(
        "sessions",
        "book",
        "--title",
        "again",
        "--start",
        "2030-01-08T09:00",
        "--end",
        "2030-01-08T10:00",
        "--host-site",
        "da-nang",
        "--sites",
        "da-nang",
        "--chair-email",
        "x@example.org",
        "--override-reason",
        "x",
    )
    assert code == 1
    assert "site:da-nang" in err
    assert session_id in err
    code, out, _ = cli("sessions", "list", "--site", "can-tho")
    assert code == 0
    assert session_id in out
    code, _, err = cli(
        "sessions",
        "reschedule",
        session_id,
        "--start",
        "2030-01-09T08:00",
        "--end",
        "2030-01-09T10:00",
        "--remove-sites",
        "can-tho",
        "--override-reason",
        "x",
    )
    assert code == 0, err
    _, out, _ = cli("sessions", "show", session_id)
    assert [s["site_id"] for s in json.loads(out)["sites"]] == ["ha-noi", "da-nang"]
    code, out, _ = cli("sessions", "cancel", session_id, "--reason", "hoãn")
    assert code == 0
    assert "cancelled" in out
    code, out, _ = cli("audit", "--target", f"session:{session_id}")
    assert "session.cancel" in out
    assert "hoãn" in out


def test_book_from_file_and_invalid_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    booking = tmp_path / "b.json"
    booking.write_text(
        json.dumps(
            {
                "title": "Từ tệp",
                "start": "2027-03-10T08:00:00+07:00",
                "end": "2027-03-10T09:00:00+07:00",
                "host_site": "ha-noi",
                "sites": ["ha-noi"],
                "chair": {"name": "C", "email": "c@example.org"},
            }
        ),
        encoding="utf-8",
    )
    code, out, err = cli("sessions", "book", "--file", str(booking), "--json")
    assert code == 0, err
    assert json.loads(out)["title"] == "Từ tệp"
    code, _, err = cli("sessions", "book", "--title", "x")
    assert code == 2
    assert "--start" in err
    code, _, err = cli(
        "sessions",
        "book",
        "--title",
        "x",
        "--start",
        "soon",
        "--end",
        "later",
        "--host-site",
        "ha-noi",
        "--chair-email",
        "c@example.org",
    )
    assert code == 1
    assert "ISO" in err
    code, _, err = cli("sessions", "show", "missing")
    assert code == 1
    assert "does not exist" in err


def test_policy_breach_is_explained(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(
        "sessions",
        "book",
        "--title",
        "Saturday",
        "--start",
        "2030-01-05T08:00",
        "--end",
        "2030-01-05T09:00",
        "--host-site",
        "ha-noi",
        "--sites",
        "ha-noi",
        "--chair-email",
        "c@example.org",
    )
    assert code == 1
    assert "weekend" in err
    assert "override_reason" in err


def test_slots_and_regional_plan(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "slots",
        "find",
        "--sites",
        "ha-noi,da-nang",
        "--groups",
        "lanh-dao-bo",
        "--duration",
        "90",
        "--from",
        "2030-01-07T00:00",
        "--to",
        "2030-01-09T00:00",
        "--json",
    )
    assert code == 0, err
    slots = json.loads(out)["slots"]
    assert slots[0]["start"] == "2030-01-07T07:30:00+07:00"  # Monday 07:30 in Hà Nội
    code, out, err = cli(
        "plan",
        "regional",
        "--regions",
        "dong-bang-song-hong,dong-bang-song-cuu-long",
        "--from",
        "2030-01-07T00:00",
        "--to",
        "2030-01-25T00:00",
        "--duration",
        "180",
        "--groups",
        "lanh-dao-bo",
        "--commit",
        "--json",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["committed"]
    assert len(plan["sessions"]) == 2
    code, _, err = cli(
        "plan",
        "regional",
        "--regions",
        "nowhere",
        "--from",
        "2030-01-07T00:00",
        "--to",
        "2030-01-25T00:00",
    )
    assert code == 1
    assert "unknown region" in err


def test_db_upgrade_and_help(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("db", "upgrade")
    assert code == 0
    assert "up to date" in err
    for verb in (
        ["serve"],
        ["demo"],
        ["sessions", "book"],
        ["slots", "find"],
        ["plan", "regional"],
        ["tokens", "create"],
        ["directory", "import"],
        ["db", "upgrade"],
    ):
        result = runner.invoke(app, [*verb, "--help"])
        assert result.exit_code == 0, verb
        assert "Usage" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the service exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service did not become healthy in time")


def test_demo_serves_the_six_site_session(tmp_path: Path) -> None:
    """The README's first command: SQLite under ./var, six bridge sites, a booked session."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "--data-dir",
            str(tmp_path / "var"),
            "demo",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        assert (tmp_path / "var" / "orchestrator.sqlite3").is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Demo ready" in err
    token = next(line.split()[-1] for line in err.splitlines() if "office token" in line)
    session_line = next(line for line in err.splitlines() if "Demo ready" in line)
    session_id = session_line.rsplit(" ", 1)[-1]
    assert token.startswith("orch_")
    # the session survives the restart of the service
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "--data-dir",
            str(tmp_path / "var"),
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(url, proc)
        r = httpx.get(
            f"{url}/api/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200
        assert [s["site_id"] for s in r.json()["sites"]] == [
            "ha-noi",
            "da-nang",
            "tp-ho-chi-minh",
            "can-tho",
            "thai-nguyen",
            "nghe-an",
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_invites_export_send_status_and_feeds(
    db_url: str, tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    config = tmp_path / "orchestrator.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\nsender = "vp@moet.example.org"\n'
        '[server]\nbase_url = "https://hop.moet.example.org"\n',
        encoding="utf-8",
    )

    def cli(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(
            app,
            [
                "--config",
                str(config),
                "--data-dir",
                str(tmp_path / "var"),
                "--database-url",
                db_url,
                *args,
            ],
        )
        return result.exit_code, result.stdout, result.stderr

    assert cli("directory", "import", str(EXAMPLE_DIRECTORY))[0] == 0
    code, out, err = cli(
        "sessions",
        "book",
        "--title",
        "Hội nghị",
        "--start",
        "2030-01-08T08:00",
        "--end",
        "2030-01-08T10:00",
        "--host-site",
        "ha-noi",
        "--sites",
        "ha-noi,da-nang",
        "--chair-email",
        "chair@moet.example.org",
    )
    assert code == 0, err
    session_id = out.strip().splitlines()[-1]
    code, _, err = cli("invites", "export", session_id, "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "da-nang.eml",
        "da-nang.ics",
        "ha-noi.eml",
        "ha-noi.ics",
    ]
    assert b"METHOD:REQUEST" in (tmp_path / "out" / "da-nang.ics").read_bytes()
    code, out, _ = cli("invites", "status", session_id, "--json")
    assert {s["state"] for s in json.loads(out)["sites"]} == {"queued"}
    code, _, err = cli("invites", "send")
    assert code == 0, err
    assert len(smtp_server.messages) == 2
    code, out, _ = cli("invites", "status", session_id, "--json")
    assert {s["state"] for s in json.loads(out)["sites"]} == {"sent"}
    code, out, _ = cli("feeds", "create", "--site", "da-nang")
    assert code == 0
    assert out.strip().startswith(
        "https://hop.moet.example.org/api/sites/da-nang/calendar.ics?token="
    )


def test_attendance_verb(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "sessions",
        "book",
        "--title",
        "Giao ban",
        "--start",
        "2030-01-08T08:00",
        "--end",
        "2030-01-08T10:00",
        "--host-site",
        "ha-noi",
        "--sites",
        "ha-noi,da-nang",
        "--chair-email",
        "chair@moet.example.org",
    )
    assert code == 0, err
    session_id = out.strip().splitlines()[-1]
    code, out, err = cli("attendance", session_id)
    assert code == 0, err
    assert "ha-noi" in out
    assert "Điểm cầu" in out
    code, out, _ = cli("attendance", session_id, "--format", "json")
    # the session is years ahead: not started yet (DESIGN 7), not absent
    assert {s["status"] for s in json.loads(out)["sites"]} == {"not_started"}
    code, _, err = cli("attendance", session_id, "--format", "xlsx")
    assert code == 2
    code, _, err = cli(
        "attendance", session_id, "--format", "xlsx", "--out", str(tmp_path / "a.xlsx")
    )
    assert code == 0, err
    assert (tmp_path / "a.xlsx").read_bytes()[:2] == b"PK"
    code, _, err = cli("attendance", session_id, "--freeze")
    assert code == 1
    assert "ended" in err


def test_commands_elsewhere_than_the_services_folder_refuse_to_start_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("ORCH_DATABASE_URL", "ORCH_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./var, no orchestrator.toml here
    file = tmp_path / "var" / "orchestrator.sqlite3"
    for args in (["sessions", "list"], ["report", "attendance"], ["jobs", "list"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "no database at" in result.stderr, args
        assert "db upgrade" in result.stderr, args
        assert not file.exists(), args
    # the commands that set a service up make it
    result = runner.invoke(app, ["tokens", "create", "--role", "office"])
    assert result.exit_code == 0, result.stderr
    assert file.exists()
    result = runner.invoke(app, ["sessions", "list"])
    assert result.exit_code == 0, result.stderr
