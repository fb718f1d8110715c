"""`bench.profiling`: a benchmark's server sampled by py-spy without being stopped, and the
summary of where its time went. The sampling is real (py-spy on a child process)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import profiling

SERVE = "<module> (orchestrator:6);serve (orchestrator/cli/serve.py:35)"
HOOK = f"{SERVE};run (asyncio/runners.py:118);event_sync (orchestrator/web/attendance.py:79)"
RAW = "\n".join(
    [
        f"{HOOK};EventLog.ingest (orchestrator/attendance/eventlog.py:172) 30",
        f"{HOOK};model_validate_json (pydantic/main.py:847) 10",
        f"{SERVE};run (asyncio/runners.py:118);Handle._run (asyncio/events.py:80) 40",
        "Thread._bootstrap (threading.py:995);pysqlite_step 20",
    ]
)


def test_the_summary_shares_the_samples_by_area_line_and_project_function(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(RAW)
    text = profiling.summary(raw)
    assert "100 samples" in text
    by_area, by_line, mine = (
        text.split("by area")[1].split("by line")[0],
        text.split("by line")[1].split("the project's")[0],
        text.split("the project's functions")[1],
    )
    assert "40.0 %  asyncio" in by_area
    assert "30.0 %  orchestrator/attendance/eventlog.py" in by_area
    assert "10.0 %  pydantic" in by_area
    assert "20.0 %  (native)" in by_area
    assert "40.0 %  Handle._run (asyncio/events.py:80)" in by_line
    # a project function counts what it calls; the command's own frames are left out
    assert "40.0 %  event_sync (orchestrator/web/attendance.py)" in mine
    assert "30.0 %  EventLog.ingest (orchestrator/attendance/eventlog.py)" in mine
    assert "serve" not in mine


async def test_nothing_is_sampled_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(profiling.ENV, raising=False)
    async with profiling.sampled(1, "nothing") as out:
        assert out is None


def test_a_file_s_area_is_the_project_s_module_or_the_package_it_is_in() -> None:
    assert profiling.area("orchestrator/web/http.py") == "orchestrator/web/http.py"
    assert profiling.area("connectors/jitsi/events.py") == "connectors/jitsi/events.py"
    assert profiling.area("sqlalchemy/connectors/asyncio.py") == "sqlalchemy"
    lib = "/x/.venv/lib/python3.11/site-packages/sqlalchemy/connectors/asyncio.py"
    assert profiling.area(lib) == "sqlalchemy"
    assert profiling.area("asyncio/events.py") == "asyncio"
    assert profiling.area("threading.py") == "threading"
    assert profiling.area("") == "(native)"


# A loop of about 10 µs of arithmetic, then one system call: stopped for each sample, py-spy
# put about 70 % of the samples on the system call's line here; its time is about 2 %.
BUSY = textwrap.dedent(
    """
    import os, sys, time
    def arithmetic():
        s = 0
        for i in range(300):
            s += i * i
        return s
    def system_call():
        return os.getpid()
    print("ready", flush=True)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        arithmetic()
        system_call()
    """
)


@pytest.fixture
def busy() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", BUSY], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        yield child
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


async def test_a_process_is_sampled_where_its_time_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy: subprocess.Popen[str]
) -> None:
    """Sampled unstopped, the samples follow the time: most on the arithmetic, few on the
    system call (stopped at each sample, py-spy put most of them there)."""
    monkeypatch.setenv(profiling.ENV, str(tmp_path / "profiles"))
    said: list[str] = []
    async with profiling.sampled(busy.pid, "busy", said.append) as out:
        await asyncio.sleep(2.0)
    assert out == tmp_path / "profiles" / "busy.txt"
    if not out.exists() and "ermission" in said[0]:  # (another user's, or no ptrace here)
        pytest.skip(f"py-spy may not read this process: {said[0]}")
    stacks = profiling.read(out)
    total = sum(stacks.values())
    assert total >= 100  # about 400 at 200 a second
    on = {
        name: sum(n for stack, n in stacks.items() if profiling.where_of(stack[-1])[0] == name)
        for name in ("arithmetic", "system_call")
    }
    assert on["arithmetic"] > 0.6 * total
    assert on["system_call"] < 0.2 * total
    assert len(said) == 1
    assert "busy" in said[0]
    assert "arithmetic" in said[0]


async def test_a_failed_sampling_says_why_and_costs_the_benchmark_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy: subprocess.Popen[str]
) -> None:
    """py-spy cannot sample a process that has ended: the block still runs and ends well, and
    the summary is replaced by what py-spy said; an earlier run's file is not taken for it."""
    monkeypatch.setenv(profiling.ENV, str(tmp_path))
    (tmp_path / "gone.txt").write_text("old;stack 5\n")
    busy.kill()
    busy.wait()
    said: list[str] = []
    async with profiling.sampled(busy.pid, "gone", said.append) as out:
        await asyncio.sleep(0.2)
    assert out is not None
    assert not out.exists()
    assert len(said) == 1
    assert said[0].startswith("profile gone: py-spy wrote nothing (")
