"""The webhook benchmarks' second figure beside the rate: the server's CPU time a post, read
from /proc for a real child process, and the share of a core it used at the timed rate."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.serving import cpu_seconds
from bench.webhook_runs import LoadResult, Reference

BURN = "end = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
SLEEP = "time.sleep(0.4)\n"
# system time: the kernel fills each read from /dev/zero
KERNEL = (
    "zero = open('/dev/zero', 'rb', buffering=0)\n"
    "end = time.process_time() + 0.4\n"
    "while time.process_time() < end: zero.read(1 << 20)\n"
)
# a command name with spaces and parentheses, as /proc/<pid>/stat shows it between parentheses
RENAMED = "import ctypes\nctypes.CDLL(None).prctl(15, b'a) b (c', 0, 0, 0)\n"


def _result(sent: int, rate: float, cpu_s: float | None) -> LoadResult:
    return LoadResult(
        sent=sent,
        accepted=sent,
        statuses={200: sent},
        errors=[],
        rate=rate,
        measured=sent,
        p50=0.002,
        p99=0.004,
        max=0.008,
        cpu_s=cpu_s,
    )


def _cpu_of(work: str, before: str = "") -> float:
    """The CPU seconds a child used while it ran `work`: read by `cpu_seconds` once it has
    started (and run `before`), then told to go, and again once it says it is done."""
    code = (
        f"import sys, time\n{before}print('ready', flush=True)\nsys.stdin.readline()\n"
        f"{work}print('done', flush=True)\nsys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            assert child.stdout.readline() == "ready\n"
            start = cpu_seconds(child.pid)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "done\n"
            return cpu_seconds(child.pid) - start
        finally:
            child.stdin.close()
            child.wait(10)


def test_cpu_seconds_counts_a_busy_child_and_not_a_sleeping_one() -> None:
    busy = _cpu_of(BURN)
    idle = _cpu_of(SLEEP)
    assert 0.38 <= busy <= 0.6
    assert idle < 0.05


def test_cpu_seconds_counts_the_kernel_s_time_too() -> None:
    assert 0.38 <= _cpu_of(KERNEL) <= 0.6


def test_cpu_seconds_reads_past_a_command_name_with_spaces_and_parentheses() -> None:
    assert 0.38 <= _cpu_of(BURN, before=RENAMED) <= 0.6


def test_cpu_seconds_of_no_such_process_raises() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    with pytest.raises(FileNotFoundError):
        cpu_seconds(child.pid)


def test_the_cpu_a_post_and_the_busy_share() -> None:
    # 10,000 posts for 1.2 s of CPU: 120 µs each; at 7,000 posts a second, 84 % of a core
    result = _result(10_000, 7_000.0, 1.2)
    assert result.cpu_per_post == pytest.approx(120e-6)
    assert result.busy == pytest.approx(0.84)
    assert "server CPU 120 µs a post, busy 84%" in result.note


def test_a_load_without_the_server_measured_says_zero() -> None:
    assert _result(0, 0.0, 0.0).cpu_per_post == 0.0
    assert _result(500, 1_000.0, 0.0).busy == 0.0


def test_a_load_whose_server_was_not_measured_says_so_not_zero() -> None:
    unmeasured = _result(500, 1_000.0, None)
    assert unmeasured.cpu_per_post == 0.0
    assert "server CPU not measured" in unmeasured.note
    assert "µs a post" not in unmeasured.note


def test_the_reference_takes_the_mean_of_its_two_slices() -> None:
    before = _result(20_000, 20_000.0, 1.0)  # 50 µs a post, 100 %
    after = _result(20_000, 16_000.0, 1.2)  # 60 µs a post, 96 %
    assert Reference(before, after).cpu_note == "bare 55 µs a post, busy 98%"
