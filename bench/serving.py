"""The service as an operator runs it, for the benchmarks that talk to it over HTTP.

The command line (`orchestrator ...` in a child process), `orchestrator serve` processes on free
loopback ports, and the client processes of `bench.loadgen`: every child is stopped by its own
pid, and gets SIGTERM if the benchmark dies. Then, for the webhook benchmarks (`attendance`,
`destroyed`): one service set up to take event-sync webhooks, a generated directory, a live
session booked over HTTP and its attendance record as the API shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import BenchError, Context, check

ROOT = Path(__file__).resolve().parent.parent  # where `python -m bench.<name>` works
STARTUP_S = 60.0  # for a server to answer `GET /healthz`
EVENTS_TOKEN = "bench-event-sync-token-5f1c2d9e0a43"


# the command line ----------------------------------------------------------------------------


def cli() -> list[str]:
    script = Path(sys.executable).with_name("orchestrator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestrator"]


def clean_env() -> dict[str, str]:
    """This process's environment without any `ORCH_` setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}


def service_env(work: Path, **settings: str) -> dict[str, str]:
    """The environment of the CLI and `serve`: data in `work/var`, and the given `ORCH_...`."""
    env = clean_env()
    env["ORCH_DATA_DIR"] = str(work / "var")
    env.update(settings)
    return env


def db_args(url: str | None) -> list[str]:
    """`--database-url URL`, or nothing (SQLite in the data dir) when `url` is None."""
    return ["--database-url", url] if url else []


def run_cli(
    url: str | None, work: Path, env: dict[str, str], *args: str, timeout: float = 600
) -> str:
    """`orchestrator [--database-url URL] ARGS...` in `work`: its standard output."""
    done = subprocess.run(
        [*cli(), *db_args(url), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"orchestrator {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


async def operator_setup(
    url: str | None, work: Path, env: dict[str, str], directory: Path, cli_timeout_s: float = 600
) -> tuple[str, float]:
    """`orchestrator tokens create --role office`, then `orchestrator directory import FILE`
    (each given `cli_timeout_s`): (the office token, the seconds the import took)."""
    office = (
        await asyncio.to_thread(
            run_cli,
            url,
            work,
            env,
            "tokens",
            "create",
            "--role",
            "office",
            "--label",
            "bench",
            timeout=cli_timeout_s,
        )
    ).strip()
    check(bool(office) and "\n" not in office, f"odd token output: {office!r}")
    t = time.perf_counter()
    await asyncio.to_thread(
        run_cli, url, work, env, "directory", "import", str(directory), timeout=cli_timeout_s
    )
    return office, time.perf_counter() - t


# processes -----------------------------------------------------------------------------------


def parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook: the child gets SIGTERM if this process dies (Linux), so no server is
    left behind. Resolved here, in the parent: the hook itself only makes one libc call."""
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return hook


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """The CPU time process `pid`'s threads have used so far (user and system), from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # (the command name may hold spaces)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    """One child process (a server or a client), its output in `log`, stopped by its own pid."""

    def __init__(self, argv: list[str], work: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=parent_death_signal(),
            )

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.log.name}\n" + "\n".join(text)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def memory(self) -> tuple[float, float]:
        """(resident, peak resident) memory in MB, from /proc (Linux)."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value
        rss, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
        return rss, peak

    def cpu_seconds(self) -> float:
        """The CPU time its threads have used so far (user and system), from /proc (Linux)."""
        return cpu_seconds(self.proc.pid)

    def terminate(self) -> None:
        """SIGTERM, if it still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def reap(self) -> None:
        """Wait for it to end (20 s, then SIGKILL)."""
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.terminate()
        self.reap()

    async def wait(self, within_s: float) -> int:
        deadline = time.monotonic() + within_s
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise BenchError(f"{self.log.stem} did not end within {within_s:.0f} s")
            await asyncio.sleep(0.05)
        return int(self.proc.returncode)


def stop_all(procs: Iterable[Process]) -> None:
    """SIGTERM to every one, then wait for each: they stop side by side."""
    procs = list(procs)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.reap()


def start_server(
    url: str | None, work: Path, env: dict[str, str], log: Path
) -> tuple[Process, str]:
    """`orchestrator [--database-url URL] serve` on a free loopback port: (process, base URL)."""
    port = free_port()
    argv = [*cli(), *db_args(url), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return Process(argv, work, env, log), f"http://127.0.0.1:{port}"


async def wait_healthy(http: aiohttp.ClientSession, server: Process, base: str) -> None:
    """Until `GET /healthz` answers 200 (at most `STARTUP_S`)."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"server exited early:\n{server.tail()}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise BenchError(f"server not healthy in {STARTUP_S:.0f} s:\n{server.tail()}")


async def run_client(
    module: str,
    verb: str,
    cfg: dict[str, Any],
    *,
    tmp: Path,
    label: str,
    within_s: float,
    name: str,
) -> dict[str, Any]:
    """`python -m bench.<module> VERB CONFIG RESULT` (see `bench.loadgen.main`) in its own
    process: `cfg` in, its result out. Its files are `tmp/VERB-LABEL.json`, `...-result.json`
    and `.log`; `name` says what failed if it does not end well within `within_s`."""
    config, result = tmp / f"{verb}-{label}.json", tmp / f"{verb}-{label}-result.json"
    config.write_text(json.dumps(cfg), encoding="utf-8")
    client = Process(
        [sys.executable, "-m", f"bench.{module}", verb, str(config), str(result)],
        ROOT,
        clean_env(),
        tmp / f"{verb}-{label}.log",
    )
    try:
        code = await client.wait(within_s)
    finally:
        await asyncio.to_thread(client.stop)
    if code != 0 or not result.exists():
        raise BenchError(f"{name} ({label}) failed ({code}):\n{client.tail()}")
    return dict(json.loads(result.read_text(encoding="utf-8")))


# a service taking event-sync webhooks --------------------------------------------------------

DIRECTORY_HEAD = """
[[regions]]
id = "ca-nuoc"
name = "Cả nước"
head_site = "site-00000"
"""
SITE = """
[[sites]]
id = "{id}"
name = "Điểm cầu {id}"
region = "ca-nuoc"
timezone = "Asia/Ho_Chi_Minh"
coordinator = {{ name = "Đầu mối {id}", email = "dau-moi@{id}.example.org" }}
"""


def directory_toml(site_ids: Iterable[str]) -> str:
    """A directory of one region holding these sites, as `orchestrator directory import` reads
    it."""
    return DIRECTORY_HEAD + "".join(SITE.format(id=s) for s in site_ids)


@dataclass
class Service:
    """A running `orchestrator serve` and the office token made for it."""

    server: Process
    base: str
    office: str
    stopped_s: float = 0.0  # how long it took to stop, once it has


@asynccontextmanager
async def webhook_service(
    ctx: Context, bench: str, tmp: Path, label: str, url: str | None, directory: Path, sites: int
) -> AsyncIterator[Service]:
    """In `tmp/label`, as an operator would: an office token and the directory imported (said,
    with its `sites` and the seconds it took), then one `orchestrator serve` with the event-sync
    token set and the invite worker off (nothing else runs beside the webhooks). On the way out
    it is stopped by its pid, and a BenchError gets the end of its log."""
    work = tmp / label
    work.mkdir()
    env = service_env(work, ORCH_JITSI__EVENTS_TOKEN=EVENTS_TOKEN, ORCH_INVITES__WORKER="false")
    office, seconds = await operator_setup(url, work, env, directory)
    ctx.say(bench, f"{label}: directory of {sites} sites imported in {seconds:.1f} s")
    server, base = start_server(url, work, env, work / "server.log")
    service = Service(server, base, office)
    try:
        yield service
    except BenchError as exc:
        raise BenchError(f"{exc}\n{server.tail()}") from exc
    finally:
        t = time.perf_counter()
        await asyncio.to_thread(server.stop)
        service.stopped_s = time.perf_counter() - t


async def book_live(
    http: aiohttp.ClientSession, base: str, office: str, title: str, sites: list[str], chair: str
) -> dict[str, Any]:
    """`POST /api/sessions` of a `static` session of these sites that started two hours ago and
    ends in four (an `override_reason` books it despite the policy): the answer."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    body = {
        "title": title,
        "kind": "national",
        "start": (now - timedelta(hours=2)).isoformat(),
        "end": (now + timedelta(hours=4)).isoformat(),
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": sites[0],
        "sites": sites,
        "chair": {"name": "Chủ trì", "email": chair},
        "provider": "static",
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "override_reason": "benchmark: a session live now",
    }
    async with http.post(
        f"{base}/api/sessions", json=body, headers={"Authorization": f"Bearer {office}"}
    ) as r:
        answer = await r.json(content_type=None)
        check(r.status == 201, f"booking {title!r} answered {r.status}: {str(answer)[:500]}")
    check(len(answer["sites"]) == len(sites), f"{title!r} booked {len(answer['sites'])} sites")
    check(bool(answer.get("room")), f"{title!r} has no room: {answer.get('room')!r}")
    return dict(answer)


async def attendance_record(
    http: aiohttp.ClientSession, base: str, office: str, session: dict[str, Any], label: str
) -> dict[str, dict[str, Any]]:
    """`GET /api/sessions/{id}/attendance`, checked to hold a line for each of the session's
    sites and no unmatched occupant: the lines by site id, in the record's order."""
    async with http.get(
        f"{base}/api/sessions/{session['id']}/attendance",
        headers={"Authorization": f"Bearer {office}"},
    ) as r:
        check(r.status == 200, f"{label}: GET attendance answered {r.status}")
        record = await r.json()
    lines = {line["site_id"]: line for line in record["sites"]}
    check(len(lines) == len(session["sites"]), f"{label}: the record has {len(lines)} sites")
    check(not record["unmatched"], f"{label}: unmatched occupants: {record['unmatched'][:3]}")
    return lines
