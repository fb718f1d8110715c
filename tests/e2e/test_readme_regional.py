"""The README's regional round, run as a reader runs it today: its shell lines (with the real
`date`) give the request's body, which the service answers on today's clock; its command-line row
books a round the same way. Both databases; no clock is moved here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import holidays
import pytest
from typer.testing import CliRunner

from orchestrator.bootstrap import Container, build
from orchestrator.cli import app
from orchestrator.directory.loader import load_directory
from orchestrator.settings import Settings
from tests.builders import OFFICE, FakeMailer, bearer, client, issue_tokens
from tests.conftest import EXAMPLE_DIRECTORY, ROOT

README = ROOT / "README.md"
NOTICE = timedelta(days=15)

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the README's shell is bash")


def _regional_shell() -> str:
    """The shell block of the README's regional round."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**A regional round**") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def _run_shell(script: str, stand_in: str) -> str:
    """Run the README's lines in bash, `stand_in` defining the command they call."""
    done = subprocess.run(
        ["bash", "-c", f"set -eu\nB=http://svc AUTH=x\n{stand_in}\n{script}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def readme_plan_body() -> dict[str, object]:
    """The body the README's `curl` sends today: curl's last argument, its `--data`."""
    body = _run_shell(_regional_shell(), 'curl() { printf "%s" "${@: -1}"; }')
    return json.loads(body)  # type: ignore[no-any-return]


def readme_cli_args() -> list[str]:
    """The arguments of the README's `plan regional` row, as the shell expands them today."""
    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `plan regional` |"))
    command = re.search(r"\| `(orchestrator plan regional [^`]*)`", row).group(1)  # type: ignore[union-attr]
    out = _run_shell(command, 'orchestrator() { printf "%s\\0" "$@"; }')
    return out.split("\0")[:-1]


@pytest.fixture
async def today(settings: Settings) -> AsyncIterator[Container]:
    """The service on today's clock (none injected), the example directory loaded."""
    c = build(settings, mailer=FakeMailer())
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    try:
        yield c
    finally:
        await c.close()


async def test_the_readmes_regional_round_is_proposed_and_booked_today(today: Container) -> None:
    body = readme_plan_body()
    now = datetime.now(UTC)
    tokens = await issue_tokens(today)
    async with client(today) as http:
        r = await http.post("/api/plans/regional", json=body, headers=bearer(tokens.office))
        assert r.status_code == 200, r.text
        plan = r.json()
        assert [p["region"] for p in plan["proposals"]] == body["regions"]
        for p in plan["proposals"]:
            assert datetime.fromisoformat(p["start"]) >= now + NOTICE
            assert p["start"].endswith("+07:00")
        chairs = {p["region"]: p["chair_source"] for p in plan["proposals"]}
        assert chairs["dong-bang-song-hong"] == "fallback"  # as the README says
        booked = await http.post(
            "/api/plans/regional",
            json={**body, "commit": True},
            headers={**bearer(tokens.office), "Idempotency-Key": "readme-round"},
        )
        assert booked.status_code == 201, booked.text
        assert len(booked.json()["sessions"]) == 3


def test_the_readmes_plan_command_books_today(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "var"), "--database-url", db_url]
    imported = runner.invoke(app, [*base, "directory", "import", str(EXAMPLE_DIRECTORY)])
    assert imported.exit_code == 0, imported.stderr
    args = readme_cli_args()
    assert args[:2] == ["plan", "regional"]
    done = runner.invoke(app, [*base, *args, "--json"])
    assert done.exit_code == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["committed"]
    assert len(plan["sessions"]) == 2


def test_a_window_inside_the_notice_names_the_notice_on_the_command_line(
    db_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "var"), "--database-url", db_url]
    assert runner.invoke(app, [*base, "directory", "import", str(EXAMPLE_DIRECTORY)]).exit_code == 0
    first = datetime.now(UTC).date() + timedelta(days=1)
    done = runner.invoke(
        app,
        [
            *base,
            "plan",
            "regional",
            "--regions",
            "dong-nam-bo",
            "--from",
            first.isoformat(),
            "--to",
            (first + timedelta(days=7)).isoformat(),
            "--timezone",
            "Asia/Tokyo",
        ],
    )
    assert done.exit_code == 1
    assert "regional meetings need 15 days' notice" in done.stderr
    assert "(Asia/Tokyo)" in done.stderr
    assert "+00:00" not in done.stderr
    assert "once the other regions" not in done.stderr


def test_the_command_line_books_the_chair_it_is_given(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "var"), "--database-url", db_url]
    assert runner.invoke(app, [*base, "directory", "import", str(EXAMPLE_DIRECTORY)]).exit_code == 0
    first = datetime.now(UTC).date() + timedelta(days=16)
    window = ["--from", first.isoformat(), "--to", (first + timedelta(days=14)).isoformat()]
    shown = runner.invoke(
        app, [*base, "plan", "regional", "--regions", "dong-bang-song-hong,dong-nam-bo", *window]
    )
    assert shown.exit_code == 0, shown.stderr
    assert "no region chair in the directory" in shown.stdout
    assert "the region's chair in the directory" in shown.stdout
    booked = runner.invoke(
        app,
        [
            *base,
            "plan",
            "regional",
            "--regions",
            "dong-bang-song-hong",
            *window,
            "--chair",
            "dong-bang-song-hong=Nguyễn Thị Hồng <truong-vung@sgddt-ha-noi.example.org>",
            "--commit",
            "--json",
        ],
    )
    assert booked.exit_code == 0, booked.stderr
    (session,) = json.loads(booked.stdout)["sessions"]
    assert session["chair"] == {
        "name": "Nguyễn Thị Hồng",
        "email": "truong-vung@sgddt-ha-noi.example.org",
    }
    wrong = runner.invoke(
        app, [*base, "plan", "regional", "--regions", "dong-nam-bo", *window, "--chair", "x"]
    )
    assert wrong.exit_code == 2
    assert "REGION=" in wrong.stderr


CURL_STAND_IN = r"""
curl() {
  local method=GET url="" data="" key=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -X) method=$2; shift 2 ;;
      -H) case "$2" in Idempotency-Key:*) key=${2#Idempotency-Key: } ;; esac; shift 2 ;;
      --data) data=$2; shift 2 ;;
      -o) shift 2 ;;
      -*) shift ;;
      *) url=$1; shift ;;
    esac
  done
  case "$data" in @*) data=$(cat "${data#@}") ;; esac
  "$PY" -c 'import json, sys; print(json.dumps(dict(zip(("method", "url", "data", "key"),
    sys.argv[1:]))))' "$method" "$url" "$data" "$key"
}
"""


def readme_tour_calls(workdir: Path) -> list[dict[str, str]]:
    """Each request the README's API tour makes today (its blocks that need no session id from
    an earlier answer), in order, as its shell lines build them."""
    text = README.read_text(encoding="utf-8")
    tour = text[text.index("## A short tour of the API") : text.index("**A regional round**")]
    blocks = re.findall(r"```sh\n(.*?)```", tour, re.S)
    kept = [b for b in blocks if not re.search(r"\$ID|\$COORD|\$CHAIR|326c6f3e", b)]
    script = "\n".join(kept)
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"set -eu\ncd '{workdir}'\nTOKEN=x PY='{sys.executable}'\n{CURL_STAND_IN}\n{script}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def test_the_readmes_api_tour_answers_as_it_says_today(
    today: Container, tmp_path: Path
) -> None:
    calls = readme_tour_calls(tmp_path)
    tokens = await issue_tokens(today)
    answers = []
    async with client(today) as http:
        for call in calls:
            path = call["url"].removeprefix("http://127.0.0.1:8080")
            headers = bearer(tokens.office)
            if call["key"]:
                headers["Idempotency-Key"] = call["key"]
            if call["method"] == "POST":
                r = await http.post(
                    path,
                    content=call["data"].encode(),
                    headers={**headers, "Content-Type": "application/json"},
                )
            else:
                r = await http.get(path, headers=headers)
            answers.append((call["method"], path, r.status_code, r.json()))
    statuses = [(m, p.split("?")[0], s) for m, p, s, _ in answers]
    day = date.fromisoformat(json.loads(calls[0]["data"])["start"][:10])
    if day in holidays.country_holidays("VN", years=day.year):
        # the README says so: on a public holiday its booking is refused, naming the holiday
        assert statuses[0] == ("POST", "/api/sessions", 422), answers
        assert answers[0][3]["rule"] == "holiday"
        return
    # book, the conflict, the weekend refused, the weekend overridden, free slots (as the README)
    assert statuses == [
        ("POST", "/api/sessions", 201),
        ("POST", "/api/sessions", 409),
        ("POST", "/api/sessions", 422),
        ("POST", "/api/sessions", 201),
        ("GET", "/api/slots", 200),
    ], answers
    assert answers[2][3]["rule"] == "weekend"
    assert answers[4][3]["slots"][0]["start"].endswith("T13:30:00+07:00")  # after the morning's
