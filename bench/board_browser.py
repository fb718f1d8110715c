"""The chair's attendance board in Chromium at national scale: a 10,000-site board beside a
100-site board of the same service, in the same run.

The service is set up as an operator would (`orchestrator tokens create`, `orchestrator
directory import` of a generated directory: the 34 provinces as regions, `orchestrator serve` on
SQLite with the event-sync token set and the invite worker off), both sessions are booked live
over `POST /api/sessions` and given a mixed record by event-sync webhooks (most sites connected
on time, some late, some dropped, some never joined). Chromium (Debian's, headless, 1366 × 768)
signs in as the office and opens each board; every time is the browser's own clock.

Figures:

1. **Opening the board**: DOMContentLoaded (from the navigation's start) of the 10,000-site
   board, judged by its ratio to the 100-site board's (at most 3 ×): the first open (the board
   read from the log and every site merged) and again, median of reloads (the board kept in
   memory). Beside it: the first byte, the HTML's size, the DOM's nodes, the page's height, when
   the stream's first record was applied and the longest task after DOMContentLoaded until then.
2. **Under load**: each board open in turn while a steady 300 event-sync webhooks a second
   (Prosody's shape, as the other benchmarks send them; a client process of its own, open loop)
   turn the session's sites over for 20 s, connected to dropped and back: the main thread's
   busy time (Chrome's own task time, `Performance.getMetrics` `TaskDuration`) judged as a
   ratio to the window's wall time (at most 0.6); webhook to tile, from sending a webhook of a
   site the page shows until that tile shows its result (a `MutationObserver` in the page,
   `performance.timeOrigin` + `now()` against the sender's clock, the same machine's, corrected
   by the two clocks' offset read before and after the load: the page's clock runs on the
   monotonic one from its start and drifts from the wall clock while that is slewed), p95 under
   1 s (an absolute bound, like memory: a person sees it or does not), and not growing over the
   run: the last third's p95 at most 1.5 × the first third's + 0.1 s.

Checked: every webhook answered 200; every tile the page shows reaches the state its last
webhook made (intervals and connection); the counts of each state, overall and (10,000-site
board) by region, equal those of `GET /api/sessions/{id}/attendance` read afterwards.

Screenshots of both boards (normal and projector, 1366 × 768 and 390 px, Vietnamese and
English; and the 10,000-site board's dropped sites) go to `var/test-artifacts/screenshots/`
(`ORCH_ARTIFACTS` overrides `var/test-artifacts`), named `bench-board-*`.

Tiny size: 20 and 400 sites, 100 webhooks a second for 3 s, one reload, screenshots in Vietnamese
only.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page

from bench.board_load import seq
from bench.browser import DESKTOP, PHONE, chromium_path, launched, new_page
from bench.common import BenchError, BenchSkip, Context, Figure, check, percentile
from bench.loadgen import Connection, client_headers, occupant, occupant_webhook
from bench.serving import (
    EVENTS_TOKEN,
    ROOT,
    Service,
    attendance_record,
    book_live,
    run_client,
    wait_healthy,
    webhook_service,
)
from orchestrator.directory.loader import load_directory

NAME = "board_browser"
TITLE = "the chair's board in Chromium: 100 and 10,000 sites, opened and under 300 webhooks/s"
PROVINCES = ROOT / "config" / "directory.provinces.toml"
ARTIFACTS = Path(os.environ.get("ORCH_ARTIFACTS", ROOT / "var" / "test-artifacts")) / "screenshots"
DCL_RATIO = 3.0
BUSY_RATIO = 0.6
TILE_P95_S = 1.0
GROWTH_RATIO, GROWTH_ALLOWANCE_S = 1.5, 0.1
SEED_CONNECTIONS = 16
SETTLE_S = 15.0  # for the page to show the load's last webhooks
FILTERS = ("connected", "dropped", "waiting", "unknown", "late", "left_early", "absent")

# Before the page's own scripts: long tasks, when the stream's first event was applied, and when
# each line of a site came over the stream (its place in its history, `board_load.seq`).
INIT = """
window.__long = [];
window.__arrived = [];
const NativeSource = window.EventSource;
window.EventSource = function (url, options) {
  const source = new NativeSource(url, options);
  const note = (e) => {
    const at = (performance.timeOrigin + performance.now()) / 1000;
    let data;
    try { data = JSON.parse(e.data); } catch (err) { return; }
    for (const row of data.sites || []) {
      const n = (row.intervals || []).length;
      window.__arrived.push([row.site_id, row.connection === 'connected' ? 2 * n - 1 : 2 * n, at]);
    }
  };
  source.addEventListener('attendance', note);
  source.addEventListener('changes', note);
  return source;
};
window.EventSource.prototype = NativeSource.prototype;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__long.push([e.startTime, e.duration]);
}).observe({ type: 'longtask', buffered: true });
document.addEventListener('DOMContentLoaded', () => {
  const board = document.getElementById('board');
  if (!board) return;
  new MutationObserver(() => {
    if (window.__firstEvent === undefined && board.dataset.updates) {
      window.__firstEvent = performance.now();
    }
  }).observe(board, { attributes: true, attributeFilter: ['data-updates'] });
});
"""
OPENED = """
async () => {
  while (window.__firstEvent === undefined) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  const nav = performance.getEntriesByType('navigation')[0];
  const dcl = nav.domContentLoadedEventStart;
  let nodes = 0;
  const walk = document.createTreeWalker(document, NodeFilter.SHOW_ALL);
  while (walk.nextNode()) nodes += 1;
  const after = window.__long.filter(([t, d]) => t + d > dcl && t < window.__firstEvent + 300);
  return {
    dcl: dcl / 1000, ttfb: nav.responseStart / 1000, bytes: nav.decodedBodySize,
    nodes, height: document.documentElement.scrollHeight,
    tiles: document.querySelectorAll('#board .tile').length,
    first: window.__firstEvent / 1000,
    longest: Math.max(0, ...after.map(([, d]) => d)) / 1000,
    shown: JSON.parse(document.getElementById('board-data').textContent).shown,
  };
}
"""
# Each tile's place in its site's history (`board_load.seq`) when it changes, with the time.
WATCH = """
() => {
  const board = document.getElementById('board');
  const seqOf = (tile) => {
    const conn = (tile.className.match(/conn-(\\w+)/) || [])[1];
    const many = tile.querySelector('.tl-count');
    const n = many ? parseInt(many.textContent, 10) : tile.querySelectorAll('.tl-span').length;
    return conn === 'connected' ? 2 * n - 1 : 2 * n;
  };
  window.__seen = [];
  window.__last = {};
  for (const t of board.querySelectorAll('.tile')) window.__last[t.dataset.site] = seqOf(t);
  new MutationObserver((records) => {
    const at = performance.timeOrigin + performance.now();
    const tiles = new Set();
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const tile = node && node.closest('.tile');
      if (tile) tiles.add(tile);
      for (const added of r.addedNodes) {
        if (added.nodeType === 1 && added.matches('.tile')) tiles.add(added);
      }
    }
    for (const tile of tiles) {
      const s = seqOf(tile);
      if (window.__last[tile.dataset.site] !== s) {
        window.__last[tile.dataset.site] = s;
        window.__seen.push([tile.dataset.site, s, at / 1000]);
      }
    }
  }).observe(board, { subtree: true, childList: true, attributes: true, characterData: true });
  window.__frames = 0;
  const frame = () => { window.__frames += 1; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  return window.__last;
}
"""
UPDATED = "() => document.getElementById('board').dataset.updates"
PROBE = "() => ({ frames: window.__frames, long: window.__long.reduce((a, [, d]) => a + d, 0) })"
COUNTS = """
() => {
  const n = (el) => parseInt(el.textContent.replace(/\\D/g, ''), 10);
  const chips = {};
  for (const b of document.querySelectorAll('#board-chips [data-count]')) {
    chips[b.dataset.count] = n(b);
  }
  const regions = {};
  const data = JSON.parse(document.getElementById('board-data').textContent);
  for (const tr of document.querySelectorAll('#board-regions tbody tr')) {
    const counts = {};
    for (const td of tr.querySelectorAll('[data-count]')) counts[td.dataset.count] = n(td);
    regions[data.regions[Number(tr.dataset.region)][0]] = counts;
  }
  return { chips, regions };
}
"""


@dataclass
class Board:
    """One live session, its sites' regions, and what the seed webhooks left of each site."""

    label: str
    session: dict[str, Any]
    region: dict[str, str]  # site -> region id
    open: dict[str, tuple[str, int]]  # site -> its device still connected (jid, joined)
    intervals: dict[str, int]

    @property
    def url(self) -> str:
        return f"/chair/sessions/{self.session['id']}"


# the directory and the seed ---------------------------------------------------------------


def directory(big: int, small: int) -> tuple[str, dict[str, str], list[str], list[str]]:
    """A directory TOML of the 34 provinces as regions, with `big` sites for the big board and
    `small` for the small one spread over them: (the TOML, each site's region, the big board's
    sites, the small one's)."""
    provinces = load_directory(PROVINCES).sites
    names = {p.id: p.name.removeprefix("Sở GD&ĐT ") for p in provinces}
    region: dict[str, str] = {}
    big_ids, small_ids = [], []
    lines: list[str] = []
    sites: list[str] = []

    def site(sid: str, name: str, province: str) -> None:
        region[sid] = f"tinh-{province}"
        sites.append(
            f'[[sites]]\nid = "{sid}"\nname = "{name}"\nregion = "tinh-{province}"\n'
            f'timezone = "Asia/Ho_Chi_Minh"\n'
            f'coordinator = {{ name = "Đầu mối {sid}", email = "dau-moi@{sid}.example.org" }}\n'
        )

    for i in range(big):
        p = provinces[i % len(provinces)].id
        k = i // len(provinces) + 1
        sid = f"{p}-{k:03d}"
        site(sid, f"Điểm trường {k:03d} {names[p]}", p)
        big_ids.append(sid)
    for i in range(small):
        p = provinces[i % len(provinces)].id
        k = i // len(provinces) + 1
        sid = f"phong-{p}-{k}"
        site(sid, f"Phòng GD&ĐT số {k} {names[p]}", p)
        small_ids.append(sid)
    heads: dict[str, str] = {}
    for sid in [*big_ids, *small_ids]:
        heads.setdefault(region[sid], sid)
    for province in provinces:
        rid = f"tinh-{province.id}"
        if rid in heads:
            lines.append(
                f'[[regions]]\nid = "{rid}"\nname = "{names[province.id]}"\n'
                f'head_site = "{heads[rid]}"\n'
            )
    return "\n".join(lines + sites), region, big_ids, small_ids


def seed_plan(
    sites: list[str], start: int
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, tuple[str, int]], dict[str, int]]:
    """The webhooks that give a session a mixed record: of every 20 sites, 14 join on time, 2
    join on time and leave after an hour, 1 joins late, 1 joins late and leaves, 2 never join.
    (the webhooks, each site's device still connected, each site's intervals)."""
    posts: list[tuple[str, dict[str, Any]]] = []
    still: dict[str, tuple[str, int]] = {}
    intervals: dict[str, int] = {}
    for i, s in enumerate(sites):
        r = i % 20
        if r >= 18:
            intervals[s] = 0
            continue
        joined = start + (30 * 60 if r in (16, 17) else -10 * 60)
        jid = f"{s}-seed@meet.example.org/seed"
        posts.append((s, {"who": occupant(s, jid, joined)}))
        intervals[s] = 1
        if r in (14, 15, 17):
            posts.append((s, {"who": occupant(s, jid, joined, start + 70 * 60)}))
        else:
            still[s] = (jid, joined)
    return posts, still, intervals


async def seed(base: str, room: str, posts: list[tuple[str, dict[str, Any]]], label: str) -> None:
    """Post the seed webhooks over a few keep-alive connections, joins before leaves."""
    host, port, headers = client_headers(base, EVENTS_TOKEN)
    ordered = sorted(posts, key=lambda p: "left_at" in p[1]["who"])
    bodies = []
    for _, p in ordered:
        endpoint, body = occupant_webhook(room, p["who"], active=1)
        bodies.append((endpoint, json.dumps(body).encode()))
    failures: list[str] = []

    async def worker(items: list[tuple[str, bytes]]) -> None:
        conn = Connection(host, port, headers)
        try:
            for endpoint, body in items:
                status, answer = await conn.post(f"/hooks/jitsi/events/{endpoint}", body)
                if status != 200:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            conn.close()

    joins = [b for b in bodies if b[0].endswith("joined")]
    leaves = [b for b in bodies if not b[0].endswith("joined")]
    for batch in (joins, leaves):
        parts = [batch[i::SEED_CONNECTIONS] for i in range(SEED_CONNECTIONS)]
        await asyncio.gather(*(worker(p) for p in parts))
    check(not failures, f"{label}: seed webhooks refused: {failures[:3]}")


# what the page must show ----------------------------------------------------------------


def state_words(line: dict[str, Any]) -> list[str]:
    """A record line's state as the board counts it (written here apart from the service's)."""
    words = [str(line["connection"])]
    if line["status"] == "absent":
        words.append("absent")
    if line.get("override") is None:
        words += [w for w in ("late", "left_early") if line[w]]
    return words


async def expected_counts(
    http: aiohttp.ClientSession, service: Service, board: Board
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    lines = await attendance_record(http, service.base, service.office, board.session, board.label)
    chips: Counter[str] = Counter()
    regions: dict[str, Counter[str]] = {}
    for site, line in lines.items():
        words = state_words(line)
        chips.update(["sites", *words])
        regions.setdefault(board.region[site], Counter()).update(["sites", *words])
    full = {k: chips.get(k, 0) for k in ("sites", *FILTERS)}
    by_region = {r: {k: c.get(k, 0) for k in ("sites", *FILTERS)} for r, c in regions.items()}
    return full, by_region


async def check_counts(
    page: Page, http: aiohttp.ClientSession, service: Service, board: Board, table: bool
) -> dict[str, int]:
    """The page's counts (chips, and the regions' table) equal the record's, once it settles."""
    want, by_region = await expected_counts(http, service, board)
    deadline = time.monotonic() + SETTLE_S
    while True:
        shown = await page.evaluate(COUNTS)
        chips = {k: shown["chips"].get(k, 0) for k in want}
        regions = shown["regions"]
        good = chips == want and (not table or regions == by_region)
        if good:
            return want
        if time.monotonic() > deadline:
            wrong = {r: (regions.get(r), c) for r, c in by_region.items() if regions.get(r) != c}
            raise BenchError(
                f"{board.label}: the page's counts {chips} are not the record's {want}; "
                f"regions (page, record) that differ: {list(wrong.items())[:3]}"
            )
        await asyncio.sleep(0.3)


# the browser ------------------------------------------------------------------------------


async def sign_in(page: Page, base: str, token: str, lang: str = "vi") -> None:
    await page.goto(f"{base}/signin?next=/chair")
    await page.get_by_label("Mã truy cập").fill(token)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_load_state()
    check("/signin" not in page.url, f"signing in failed: still at {page.url}")
    if lang != "vi":
        await page.context.add_cookies([{"name": "orch_lang", "value": lang, "url": base}])


async def opened(page: Page, url: str) -> dict[str, Any]:
    response = await page.goto(url, wait_until="load")
    check(response is not None and response.status == 200, f"GET {url} failed")
    return dict(await page.evaluate(OPENED))


@dataclass
class Loaded:
    busy: float
    wall: float
    frames: int
    long: float
    latencies: list[tuple[float, float]]  # (sent at, webhook to tile)
    server: list[float]  # webhook to its line arriving in the page
    request_p99: float
    sent: int


BROWSER_CLOCK = "() => (performance.timeOrigin + performance.now()) / 1000"


async def clock_offset(page: Page, tries: int = 9) -> tuple[float, float]:
    """How far the page's clock is ahead of this process's `time.time()`, and within how much:
    the reading with the shortest round trip, taken at its middle (half that trip)."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        before = time.time()
        at = float(await page.evaluate(BROWSER_CLOCK))
        after = time.time()
        trip = after - before
        if best is None or trip / 2 < best[1]:
            best = (at - (before + after) / 2, trip / 2)
    assert best is not None
    return best


async def metric(page: Page, cdp: Any) -> tuple[float, float, dict[str, Any]]:
    got = await cdp.send("Performance.getMetrics")
    values = {m["name"]: m["value"] for m in got["metrics"]}
    return values["TaskDuration"], values["Timestamp"], dict(await page.evaluate(PROBE))


async def under_load(
    ctx: Context, page: Page, service: Service, board: Board, tmp: Path, rate: int, seconds: float
) -> Loaded:
    """`rate` webhooks a second for `seconds` on `board`'s session while its page is open."""
    info = await opened(page, service.base + board.url)
    watched: list[str] = info["shown"]
    await page.evaluate(WATCH)
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    ahead0, within0 = await clock_offset(page)
    session = board.session
    start = int(datetime.fromisoformat(session["start"]).timestamp())
    start_at = time.time() + 1.5
    cfg = {
        "base": service.base,
        "token": EVENTS_TOKEN,
        "room": session["room"],
        "rate": rate,
        "duration": seconds,
        "start_at": start_at,
        "t1": start + 90 * 60,
        "sites": [s["site_id"] for s in session["sites"]],
        "watched": watched,
        "open": {s: list(v) for s, v in board.open.items()},
        "intervals": board.intervals,
    }
    client = asyncio.create_task(
        run_client(
            "board_load",
            "steady",
            cfg,
            tmp=tmp,
            label=board.label,
            within_s=seconds + 120,
            name="steady webhooks",
        )
    )
    await asyncio.sleep(max(0.0, start_at - time.time()))
    busy0, wall0, probe0 = await metric(page, cdp)
    await asyncio.sleep(max(0.0, start_at + seconds - time.time()))
    busy1, wall1, probe1 = await metric(page, cdp)
    result = await client
    ahead1, within1 = await clock_offset(page)
    # the page's times put on the sender's clock; a change is after its webhook when it is
    # within the offset's uncertainty of being so
    ahead, slack = (ahead0 + ahead1) / 2, max(within0, within1) + abs(ahead1 - ahead0) / 2
    bad = {k: v for k, v in result["statuses"].items() if k != "200"}
    check(not bad, f"{board.label}: webhooks answered {bad}: {result['errors'][:3]}")
    # every tile shown reaches the state the load's last webhook of its site made
    final = {s: seq(n, connected) for s, (n, connected) in result["final"].items()}
    deadline = time.monotonic() + SETTLE_S
    while True:
        last = await page.evaluate("() => window.__last")
        wrong = {s: (last.get(s), want) for s, want in final.items() if last.get(s) != want}
        if not wrong:
            break
        check(
            time.monotonic() < deadline,
            f"{board.label}: {len(wrong)} tiles (shown, sent) never showed the last webhook: "
            f"{list(wrong.items())[:5]}",
        )
        await asyncio.sleep(0.3)
    seen: list[list[Any]] = await page.evaluate("() => window.__seen")
    by_site: dict[str, list[tuple[float, int]]] = {}
    for site, s, at in seen:
        by_site.setdefault(site, []).append((float(at) - ahead, int(s)))
    arrived: list[list[Any]] = await page.evaluate("() => window.__arrived")
    came: dict[str, list[tuple[float, int]]] = {}
    for site, s, at in arrived:
        came.setdefault(site, []).append((float(at) - ahead, int(s)))
    latencies, server = [], []
    for site, want, sent in result["probes"]:
        after = sent - slack
        reached = next((at for at, s in by_site.get(site, []) if s >= want and at >= after), None)
        check(
            reached is not None,
            f"{board.label}: {site} never showed {want} after it was sent "
            f"(page clock {ahead * 1000:+.1f} ms ± {slack * 1000:.1f} ms); "
            f"its changes: {by_site.get(site, [])[-4:]}, sent at {sent}",
        )
        assert reached is not None
        latencies.append((sent, max(0.0, reached - sent)))
        line = next((at for at, s in came.get(site, []) if s >= want and at >= after), reached)
        server.append(max(0.0, line - sent))
    check(len(latencies) > 0, f"{board.label}: no webhook hit a tile the page shows")
    await cdp.detach()
    return Loaded(
        busy=busy1 - busy0,
        wall=wall1 - wall0,
        frames=int(probe1["frames"] - probe0["frames"]),
        long=(probe1["long"] - probe0["long"]) / 1000,
        latencies=latencies,
        server=server,
        request_p99=float(result["latency"]["p99"]),
        sent=int(result["sent"]),
    )


async def screenshots(
    browser: Browser, service: Service, boards: list[Board], languages: tuple[str, ...]
) -> int:
    """Both boards, normal and projector, at 1366 × 768 and 390 px, in `languages`; and the big
    board's dropped sites. The pages must not be wider than the screen."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    taken = 0
    for lang in languages:
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = await new_page(browser, viewport=viewport)
            await sign_in(page, service.base, service.office, lang)
            for board in boards:
                for suffix, query in (("", ""), ("-projector", "?projector=1")):
                    await page.goto(service.base + board.url + query, wait_until="load")
                    await page.wait_for_function(
                        "() => document.getElementById('board').dataset.updates"
                    )
                    wide = await page.evaluate("() => document.documentElement.scrollWidth")
                    check(wide <= viewport["width"], f"{board.label}{suffix} is {wide} px wide")
                    name = f"bench-board-{board.label}{suffix}-{width}-{lang}.png"
                    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)
                    taken += 1
            big = boards[-1]
            await page.goto(service.base + big.url + "?state=dropped", wait_until="load")
            name = f"bench-board-{big.label}-dropped-{width}-{lang}.png"
            await page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            taken += 1
            await page.context.close()
    return taken


async def first_record_bytes(
    http: aiohttp.ClientSession, service: Service, board: Board, shown: list[str]
) -> tuple[int, int]:
    """The size of the stream's first record as the page asks for it, and whole."""
    out = []
    sid = board.session["id"]
    for query in (f"?sites={','.join(shown)}", ""):
        url = f"{service.base}/api/sessions/{sid}/attendance/stream{query}"
        async with http.get(url, headers={"Authorization": f"Bearer {service.office}"}) as r:
            check(r.status == 200, f"{board.label}: the stream answered {r.status}")
            data = b""
            while b"\n\n" not in data:
                data += await r.content.readany()
        out.append(data.index(b"\n\n"))
    return out[0], out[1]


def third_p95(latencies: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(p95 of all, of the first third of the run, of the last third)."""
    ordered = sorted(latencies)
    begin, end = ordered[0][0], ordered[-1][0]
    span = max(end - begin, 1e-9)
    first = [d for t, d in ordered if t - begin <= span / 3] or [ordered[0][1]]
    last = [d for t, d in ordered if t - begin >= 2 * span / 3] or [ordered[-1][1]]
    return percentile([d for _, d in ordered], 95), percentile(first, 95), percentile(last, 95)


async def run(ctx: Context) -> None:
    chromium = chromium_path()
    if chromium is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if ctx.ci:
            raise BenchError(message)
        raise BenchSkip(message)
    big_n, small_n = ctx.size(10_000, 400), ctx.size(100, 20)
    rate, seconds = ctx.size(300, 100), float(ctx.size(20, 3))
    reloads = ctx.size(3, 1)
    with tempfile.TemporaryDirectory(prefix="orch-bench-board-") as name:
        tmp = Path(name)
        toml, region, big_ids, small_ids = directory(big_n, small_n)
        (tmp / "directory.toml").write_text(toml, encoding="utf-8")
        async with (
            webhook_service(
                ctx, NAME, tmp, "sqlite", None, tmp / "directory.toml", big_n + small_n
            ) as service,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http,
        ):
            await wait_healthy(http, service.server, service.base)
            boards = []
            for label, ids, chair in (
                (f"{small_n}-sites", small_ids, "chu-tri-nho@example.org"),
                (f"{big_n}-sites", big_ids, "chu-tri@example.org"),
            ):
                session = await book_live(
                    http, service.base, service.office, "Hội nghị trực tuyến toàn ngành", ids, chair
                )
                start = int(datetime.fromisoformat(session["start"]).timestamp())
                posts, still, intervals = seed_plan(ids, start)
                t = time.perf_counter()
                await seed(service.base, session["room"], posts, label)
                ctx.say(
                    NAME,
                    f"{label}: booked, {len(posts):,} seed webhooks in "
                    f"{time.perf_counter() - t:.1f} s",
                )
                boards.append(Board(label, session, region, still, intervals))
            small, big = boards
            async with launched(chromium) as browser:
                page = await new_page(browser)
                await page.add_init_script(INIT)
                await sign_in(page, service.base, service.office)
                cold = {b.label: await opened(page, service.base + b.url) for b in boards}
                warm: dict[str, list[dict[str, Any]]] = {b.label: [] for b in boards}
                for _ in range(reloads):
                    for b in boards:
                        warm[b.label].append(await opened(page, service.base + b.url))
                counts = {}
                for b in boards:
                    await page.goto(service.base + b.url, wait_until="load")
                    counts[b.label] = await check_counts(page, http, service, b, b is big)
                shown = cold[big.label]["shown"]
                record_kb, whole_kb = (
                    n / 1024 for n in await first_record_bytes(http, service, big, shown)
                )
                loads = {}
                for b in boards:
                    loads[b.label] = await under_load(ctx, page, service, b, tmp, rate, seconds)
                    await page.goto(service.base + b.url, wait_until="load")
                    await check_counts(page, http, service, b, b is big)
                await page.context.close()
                languages = ("vi",) if ctx.tiny else ("vi", "en")
                taken = await screenshots(browser, service, boards, languages)
    ctx.say(NAME, f"{taken} screenshots in {ARTIFACTS}")
    for b in boards:
        c = counts[b.label]
        ctx.say(NAME, f"{b.label}: record before the load: {c}")
    _report_open(ctx, cold, warm, small.label, big.label, record_kb, whole_kb)
    for b in boards:
        _report_load(ctx, b.label, loads[b.label], rate, seconds)


def _opened_note(o: dict[str, Any]) -> str:
    return (
        f"first byte {o['ttfb'] * 1000:.0f} ms, HTML {o['bytes'] / 1024:.0f} KB, "
        f"{o['nodes']:,} DOM nodes, {o['height']:,} px tall, {o['tiles']} tiles; stream's first "
        f"record applied at {o['first'] * 1000:.0f} ms, longest task after DOMContentLoaded "
        f"{o['longest'] * 1000:.0f} ms"
    )


def _report_open(
    ctx: Context,
    cold: dict[str, dict[str, Any]],
    warm: dict[str, list[dict[str, Any]]],
    small: str,
    big: str,
    record_kb: float,
    whole_kb: float,
) -> None:
    ctx.say(NAME, f"{small}, first open: {_opened_note(cold[small])}")
    ctx.say(NAME, f"{big}, first open: {_opened_note(cold[big])}")
    ctx.say(
        NAME,
        f"{big}: the stream's first record as the page asks for it (the {len(cold[big]['shown'])}"
        f" sites shown, every site's state): {record_kb:,.0f} KB; whole: {whole_kb:,.0f} KB",
    )
    ctx.report(
        Figure(
            NAME,
            f"{big} board: DOMContentLoaded, first open (the log read, every site merged)",
            cold[big]["dcl"],
            "s",
            f"{small} board, first open",
            cold[small]["dcl"],
            DCL_RATIO,
        )
    )
    reloads = len(warm[big])
    ctx.report(
        Figure(
            NAME,
            f"{big} board: DOMContentLoaded, opened again (the board in memory), "
            f"median of {reloads}",
            statistics.median(o["dcl"] for o in warm[big]),
            "s",
            f"{small} board, same",
            statistics.median(o["dcl"] for o in warm[small]),
            DCL_RATIO,
            note=_opened_note(warm[big][-1]),
        )
    )


def _report_load(ctx: Context, label: str, loaded: Loaded, rate: int, seconds: float) -> None:
    fps = loaded.frames / loaded.wall if loaded.wall > 0 else math.nan
    ctx.report(
        Figure(
            NAME,
            f"{label} board under {rate} webhooks/s for {seconds:g} s: main thread busy",
            round(loaded.busy, 3),
            "s",
            "the same window's wall time",
            round(loaded.wall, 3),
            BUSY_RATIO,
            note=f"{fps:.0f} frames/s, long tasks {loaded.long:.2f} s",
        )
    )
    p95, first, last = third_p95(loaded.latencies)
    delays = [d for _, d in loaded.latencies]
    ctx.report(
        Figure(
            NAME,
            f"{label} board under load: webhook to tile, p95 of {len(loaded.latencies)}",
            p95,
            "s",
            "the webhooks' own p99 (their HTTP answers)",
            loaded.request_p99,
            None,
            absolute=TILE_P95_S,
            note=f"p50 {percentile(delays, 50) * 1000:.0f} ms, p90 "
            f"{percentile(delays, 90) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms; webhook "
            f"to its line in the page p95 {percentile(loaded.server, 95) * 1000:.0f} ms; "
            f"{loaded.sent:,} webhooks",
        )
    )
    ctx.report(
        Figure(
            NAME,
            f"{label} board under load: webhook to tile, p95 of the run's last third",
            last,
            "s",
            "the first third's p95",
            first,
            GROWTH_RATIO,
            allowance=GROWTH_ALLOWANCE_S,
        )
    )
