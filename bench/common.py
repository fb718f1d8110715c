"""What every benchmark shares: sizes, figures and their lines, databases, directories, dates.

A benchmark module defines `NAME`, `TITLE` and `async def run(ctx: Context) -> None`; it reports
each figure with `ctx.report(Figure(...))` and raises `BenchError` (or anything else) when a
result is wrong, which makes `python -m bench` exit non-zero. Each figure is judged by its ratio
to a reference measured in the same run (DESIGN 9; memory by its absolute target), and not at
all at the tiny size. A missed target is not an error: figures are recorded, not gated.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.directory.loader import Directory
from orchestrator.domain.models import Coordinator, LeaderGroup, Principal, Region, Role, Site
from orchestrator.domain.policy import holiday_name

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE = Principal(role=Role.OFFICE, token_id="bench", label="bench")
PG_URL_VARS = ("ORCH_BENCH_DATABASE_URL", "ORCH_TEST_DATABASE_URL")


class BenchError(Exception):
    """A wrong result (a double booking, a missing site, a server error): the run fails."""


class BenchSkip(Exception):
    """The benchmark (or part of it) cannot run here, e.g. no PostgreSQL outside CI."""


def check(condition: bool, message: str) -> None:
    """Raise BenchError with `message` unless `condition` holds."""
    if not condition:
        raise BenchError(message)


@dataclass(frozen=True)
class Figure:
    """One measured figure beside a reference measured in the same run, judged by their ratio.

    DESIGN 9: an absolute figure moves by 30 % from one run to the next on this machine, so the
    ratio `value / reference` is what is judged against `ratio_target` (at most, or at least when
    not `lower_is_better`; `allowance`, in the figure's unit, is added to the bound: the 20 ms
    across instances). `absolute` is the figure DESIGN 9 expects on a quiet run, printed for
    information. A figure without `ratio_target` (memory, which is not noisy) is judged by its
    absolute target. Tiny runs judge nothing: their sizes say nothing of the targets.
    """

    bench: str
    what: str
    value: float
    unit: str
    reference_what: str
    reference: float
    ratio_target: float | None
    absolute: float | None = None
    lower_is_better: bool = True
    allowance: float = 0.0
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference > 0 else math.inf

    def verdict(self, tiny: bool) -> bool | None:
        """True (within target), False (missed), or None (not judged: a tiny run)."""
        if tiny:
            return None
        if self.ratio_target is None:
            if self.absolute is None:
                return None
            if self.lower_is_better:
                return self.value < self.absolute
            return self.value >= self.absolute
        bound = self.ratio_target * self.reference
        if self.lower_is_better:
            return self.value <= bound + self.allowance
        return self.value >= bound - self.allowance

    def line(self, tiny: bool) -> str:
        verdict = self.verdict(tiny)
        note = f" ({self.note})" if self.note else ""
        reference = (
            f"reference {self.reference_what}: {fmt(self.reference, self.unit)} "
            f"(ratio x{self.ratio:.3g})"
        )
        if self.ratio_target is None:
            op = "<" if self.lower_is_better else ">="
            absolute = "none" if self.absolute is None else fmt(self.absolute, self.unit)
            judged = f"target {op} {absolute} (absolute)"
        else:
            op = "<=" if self.lower_is_better else ">="
            sign = "+" if self.lower_is_better else "-"
            extra = f" {sign} {fmt(self.allowance, self.unit)}" if self.allowance else ""
            judged = f"ratio target {op} x{self.ratio_target:g}{extra}"
            if self.absolute is not None:
                quiet = "<" if self.lower_is_better else ">="
                judged += f" (quiet run: {quiet} {fmt(self.absolute, self.unit)}, not judged)"
        if verdict is None:
            outcome = "not judged [tiny size]" if tiny else "not judged"
        else:
            outcome = "PASS" if verdict else "FAIL"
        return (
            f"[{self.bench}] {self.what}: {fmt(self.value, self.unit)}{note} | {reference} | "
            f"{judged} | {outcome}"
        )


def fmt(value: float, unit: str) -> str:
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms"
    if unit == "s":
        return f"{value:.3f}".rstrip("0").rstrip(".") + " s"
    return f"{value:g} {unit}"


@dataclass
class Context:
    """What a benchmark is given: its size and where to report."""

    tiny: bool
    ci: bool
    pg_admin_url: str | None
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def size(self, full: int, tiny: int) -> int:
        return tiny if self.tiny else full

    def report(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(figure.line(self.tiny), flush=True)

    def say(self, bench: str, message: str) -> None:
        print(f"[{bench}] {message}", flush=True)

    def require_pg(self, bench: str) -> str:
        """The admin URL of PostgreSQL; raises BenchSkip (BenchError on CI) if there is none."""
        if self.pg_admin_url is None:
            message = (
                "PostgreSQL not reachable (set ORCH_TEST_DATABASE_URL, e.g. "
                "`. scripts/pg-test-env.sh; pg_test_env`)"
            )
            if self.ci:
                raise BenchError(f"{message}; CI=true needs it")
            raise BenchSkip(message)
        return self.pg_admin_url

    def optional_pg(self, bench: str, skipped: str | None = None) -> str | None:
        """The admin URL of PostgreSQL for a benchmark's PostgreSQL part, or None when there is
        none: then it says `skipped` (by default why) and the part is skipped; BenchError on CI."""
        try:
            return self.require_pg(bench)
        except BenchSkip as exc:
            self.say(bench, skipped or f"postgresql: SKIPPED: {exc}")
            return None


# timing --------------------------------------------------------------------------------------


class Timer:
    """`with Timer() as t: ...` then `t.seconds`."""

    seconds: float = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) by the nearest-rank method."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# PostgreSQL ----------------------------------------------------------------------------------


def pg_admin_url_from_env() -> str | None:
    for var in PG_URL_VARS:
        url = os.environ.get(var)
        if url:
            return url
    return None


async def pg_reachable(url: str) -> str | None:
    """None if PostgreSQL answers at `url`, else why not."""
    engine = create_async_engine(url, connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()
    return None


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def pg_database(admin_url: str, label: str) -> AsyncIterator[str]:
    """A fresh, empty database `orch_bench_<label>_<random>`, dropped afterwards."""
    name = f"orch_bench_{label}_{uuid.uuid4().hex[:8]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# directories ---------------------------------------------------------------------------------


def site_id(i: int) -> str:
    return f"site-{i:05d}"


def make_directory(
    sites: int, groups: Iterable[str] = (), regions: int = 1, zone: str = "Asia/Ho_Chi_Minh"
) -> Directory:
    """`sites` sites spread over `regions` regions, and the given leader groups."""
    region_list = tuple(
        Region(id=f"region-{r:02d}", name=f"Vùng {r}", head_site=site_id(r) if r < sites else None)
        for r in range(regions)
    )
    site_list = tuple(
        Site(
            id=site_id(i),
            name=f"Điểm cầu {i}",
            region=f"region-{i % regions:02d}",
            timezone=zone,
            coordinator=Coordinator(name=f"Đầu mối {i}", email=f"dau-moi-{i}@example.org"),
            capacity=30,
        )
        for i in range(sites)
    )
    group_list = tuple(LeaderGroup(id=g, name=f"Nhóm {g}", members=("A", "B")) for g in groups)
    return Directory(regions=region_list, sites=site_list, leader_groups=group_list, policies={})


# dates ---------------------------------------------------------------------------------------


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and holiday_name("VN", day) is None


def working_days(first: date, count: int) -> list[date]:
    """The first `count` working days (Mon-Fri, no Vietnamese public holiday) from `first` on."""
    out: list[date] = []
    day = first
    for _ in range(count * 3 + 60):  # bounded: holidays never take more than this
        if len(out) == count:
            break
        if is_working_day(day):
            out.append(day)
        day += timedelta(days=1)
    if len(out) < count:
        raise BenchError(f"could not find {count} working days from {first}")
    return out


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """`day` at `hour:minute` in Hà Nội / Hồ Chí Minh time, as an aware UTC instant."""
    return datetime.combine(day, dtime(hour, minute), tzinfo=HCM).astimezone(UTC)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
