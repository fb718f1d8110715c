"""Where a benchmark's server spends its time, sampled while the benchmark runs.

`BENCH_PROFILE=DIR` has `attendance` and `destroyed` sample their server with py-spy during each
timed load (`sampled`), into `DIR/<label>.txt` in py-spy's raw format (one stack a line, its
frames separated by `;`, then its count), and print where the time went (`summary`): the share
of the samples by package or module, and the lines and functions that hold the most. `python -m
bench.profiling FILE...` prints it again for files already written.

The server is sampled **without being stopped** (`--nonblocking`). By default py-spy stops the
process for each sample, and on the virtual machines these benchmarks run on the stops land at
system calls far more often than time does: a loop of 10 µs of arithmetic and one `os.getpid()`
had 70 % of its samples on the `getpid()` line stopped, 2 % unstopped. Stopped, a webhook's
socket reads and writes and `asyncio.get_running_loop()` (which calls `getpid()`) held about
29 % of the server's samples; unstopped, under 6 %. An unstopped sample may now and then read a
stack as it changes: single samples are noise, shares of hundreds are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bench.common import BenchError

RATE = 200  # samples a second
ENV = "BENCH_PROFILE"


def profile_dir() -> Path | None:
    """Where the profiles go (`BENCH_PROFILE`), created; None when not asked for."""
    where = os.environ.get(ENV)
    if not where:
        return None
    path = Path(where)
    path.mkdir(parents=True, exist_ok=True)
    return path


def py_spy() -> str:
    """The py-spy command: beside this Python (a virtual environment's), else on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchError(f"{ENV} is set but py-spy is not installed (pip install -e '.[dev]')")
    return found


@contextlib.asynccontextmanager
async def sampled(
    pid: int, label: str, say: Callable[[str], None] = print
) -> AsyncIterator[Path | None]:
    """Sample process `pid` while the block runs, into `<BENCH_PROFILE>/<label>.txt`, and
    print its `summary` after (`say`), or why there is none: a failed sampling costs the
    benchmark nothing. Nothing at all when `BENCH_PROFILE` is not set."""
    where = profile_dir()
    if where is None:
        yield None
        return
    out = where / f"{label}.txt"
    out.unlink(missing_ok=True)  # (not an earlier run's, should this one write nothing)
    argv = [py_spy(), "record", "--nonblocking", "--rate", str(RATE), "--format", "raw"]
    spy = await asyncio.create_subprocess_exec(
        *argv,
        "--output",
        str(out),
        "--pid",
        str(pid),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield out
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then ends
        try:
            _, err = await asyncio.wait_for(spy.communicate(), 30)
        except TimeoutError:
            spy.kill()
            _, err = await spy.communicate()
    if out.exists():
        say(f"profile {label} ({out}):\n{summary(out)}")
    else:
        said = err.decode(errors="replace").strip() or "no message"
        say(f"profile {label}: py-spy wrote nothing ({said})")


def read(path: Path) -> Counter[tuple[str, ...]]:
    """A raw profile: how many samples each stack (outermost frame first) got."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def where_of(frame: str) -> tuple[str, str, str]:
    """(function, file, line) of a py-spy frame `function (file:line)`; a frame without a
    file (native code) is its own function, file and line empty."""
    name, paren, rest = frame.partition(" (")
    if not paren:
        return frame, "", ""
    file, _, line = rest.rstrip(")").rpartition(":")
    return name, file, line


def area(file: str) -> str:
    """What a file belongs to, for the shares: the project's module (`orchestrator/...`,
    `connectors/...`, `bench/...`, as py-spy names them: from the project's root) or else the
    package or standard module it is in (`sqlalchemy/connectors/...` is SQLAlchemy's)."""
    parts = Path(file).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    if not parts:
        return "(native)"
    if parts[0] in ("orchestrator", "connectors", "bench") and len(parts) > 1:
        return "/".join(parts)
    return parts[0].removesuffix(".py")


def summary(path: Path, top: int = 12) -> str:
    """The shares of the samples by `area` of the innermost frame, and the `top` lines (by
    their own samples) and project functions (with what they call) that hold the most."""
    stacks = read(path)
    total = sum(stacks.values())
    if not total:
        return "  no samples"
    areas: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, n in stacks.items():
        name, file, line = where_of(stack[-1])
        areas[area(file)] += n
        lines[f"{name} ({file}:{line})" if file else name] += n
        seen = set()
        for frame in stack:
            name, file, _ = where_of(frame)
            mine = area(file)
            if "/" in mine and not mine.startswith("orchestrator/cli/"):
                key = f"{name} ({mine})"
                if key in seen:
                    continue
                seen.add(key)
                inclusive[key] += n

    def block(title: str, counts: Counter[str]) -> list[str]:
        return [title, *(f"  {100 * v / total:5.1f} %  {k}" for k, v in counts.most_common(top))]

    return "\n".join(
        [
            f"  {total:,} samples at {RATE}/s (the server's threads together)",
            *block("  by area (the innermost frame's module or package):", areas),
            *block("  by line (own samples):", lines),
            *block("  the project's functions, with what they call:", inclusive),
        ]
    )


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.profiling FILE...", file=sys.stderr)
        return 2
    for name in argv:
        print(f"{name}:\n{summary(Path(name))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
