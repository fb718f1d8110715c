"""Run the benchmarks: `python -m bench` (env BENCH_SIZE=tiny, BENCH_ONLY=name[,name])."""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import os
import sys
import time
import traceback

from bench.common import BenchError, BenchSkip, Context, pg_admin_url_from_env, pg_reachable

BENCHES = (
    "book_10k",
    "report_year",
    "series_book",
    "slots",
    "race",
    "render_invites",
    "attendance",
    "memory",
    "boards_across",
    "destroyed",
    "timeline_browser",
    "board_browser",
)
# Each benchmark must end within this (seconds): first cancelled cleanly, then, if it is stuck
# outside the event loop, the process dumps every thread's stack and exits non-zero.
LIMIT_TINY_S = 120
LIMIT_FULL_S = 1800


async def _context() -> Context:
    tiny = os.environ.get("BENCH_SIZE", "full").strip().lower() == "tiny"
    ci = os.environ.get("CI", "").strip().lower() == "true"
    url = pg_admin_url_from_env()
    if url is not None:
        why = await pg_reachable(url)
        if why is not None:
            print(f"[bench] PostgreSQL at the configured URL is not reachable: {why}", flush=True)
            url = None
    return Context(tiny=tiny, ci=ci, pg_admin_url=url)


def _selected() -> list[str]:
    only = os.environ.get("BENCH_ONLY", "").strip()
    if not only:
        return list(BENCHES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown benchmark(s) {unknown}; known: {list(BENCHES)}")
    return names


def main() -> int:
    names = _selected()
    ctx = asyncio.run(_context())
    size = "tiny" if ctx.tiny else "full"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"[bench] size={size} benchmarks={','.join(names)} cpus={os.cpu_count()} "
        f"load average={load} postgresql={'yes' if ctx.pg_admin_url else 'no'}",
        flush=True,
    )
    failed: list[str] = []
    skipped: list[str] = []
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"[bench] == {name}: {module.TITLE}", flush=True)
        t0 = time.perf_counter()
        limit = LIMIT_TINY_S if ctx.tiny else LIMIT_FULL_S
        faulthandler.dump_traceback_later(limit + 30, exit=True)
        try:
            asyncio.run(asyncio.wait_for(module.run(ctx), limit))
        except TimeoutError:
            failed.append(name)
            print(f"[{name}] ERROR: timed out (the limit is {limit} s):", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
        except BenchSkip as exc:
            skipped.append(name)
            print(f"[{name}] SKIPPED: {exc}", flush=True)
        except BenchError as exc:
            failed.append(name)
            print(f"[{name}] ERROR: {exc}", flush=True)
        except Exception:
            failed.append(name)
            print(f"[{name}] ERROR (exception):", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            faulthandler.cancel_dump_traceback_later()
        print(f"[bench] {name} took {time.perf_counter() - t0:.1f} s", flush=True)
    verdicts = [f.verdict(ctx.tiny) for f in ctx.figures]
    judged = "no figure judged [tiny size]"
    if not ctx.tiny:
        judged = (
            f"{verdicts.count(True)} within target, {verdicts.count(False)} missed, "
            f"{verdicts.count(None)} not judged"
        )
    print(
        f"[bench] done in {time.perf_counter() - started:.1f} s: {len(ctx.figures)} figures, "
        f"{judged}; "
        f"errors: {', '.join(failed) or 'none'}; skipped: {', '.join(skipped) or 'none'}",
        flush=True,
    )
    # The plain closing line: a benchmark "passed" when it ran and every result was right,
    # whether or not its figures met their ratio targets (those are the lines above).
    ran = len(names) - len(failed) - len(skipped)
    print(f"bench: {ran} passed, {len(failed)} failed, {len(skipped)} skipped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
