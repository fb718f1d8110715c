"""The office's timeline in Chromium: a busy week (150 sessions on the 34-province directory) read
as a person reads it, beside a quiet week (10 sessions) of the same service in the same run.

Two figures. **Readable titles**: the share of the busy week's sessions whose title can be read
without hovering anywhere on the week's page at 1366 × 768: its whole text on screen inside its
block, clipped by nothing (no ellipsis, no line clamp, no scrolling box, no closed `<details>`),
at least 11 px; a share does not move with the machine's load, so it is judged as it is (at
least 80 %), the quiet week's share printed beside it. **Render time**: from the navigation's
start to the first frame after the load event (the server's answer, parsing, style, layout and
paint, by the browser's own clock), median of several loads taken in turns, judged by its ratio
to the quiet week's.

The service is set up as an operator would (`orchestrator tokens create`, `orchestrator
directory import config/directory.provinces.toml`, `orchestrator serve` on SQLite), and the
sessions are booked over `POST /api/sessions`: a generated week that keeps every rule (no two
sessions on one claim, working hours, buffers), so the page shows no clash.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Page

from bench.browser import chromium_path, launched, new_page
from bench.common import (
    BenchError,
    BenchSkip,
    Context,
    Figure,
    check,
    is_working_day,
    local,
)
from bench.serving import ROOT, operator_setup, service_env, start_server, wait_healthy
from orchestrator.directory.loader import Directory, load_directory
from orchestrator.domain.models import Site, resources_for

NAME = "timeline_browser"
TITLE = "the office's week of 150 sessions in Chromium: titles readable, render time"
DIRECTORY = ROOT / "config" / "directory.provinces.toml"
MIN_FONT_PX = 11
BUFFER_BEFORE, BUFFER_AFTER = 30, 15
LEADERS = "lanh-dao-bo"

TOPICS = [
    "Họp giao ban công tác văn phòng",
    "Họp rà soát kế hoạch tuyển sinh lớp 10 năm học 2027-2028",
    "Tập huấn chuyển đổi số trong quản lý trường học",
    "Hội nghị triển khai nhiệm vụ giáo dục mầm non",
    "Họp chuẩn bị kỳ thi tốt nghiệp THPT năm 2027",
    "Trao đổi chuyên môn về chương trình giáo dục phổ thông 2018",
    "Họp thẩm định hồ sơ thi đua khen thưởng",
    "Họp bàn giải pháp nâng cao chất lượng dạy học ngoại ngữ",
    "Giao ban công tác thanh tra, kiểm tra học kỳ I",
    "Họp tổ công tác về cơ sở vật chất trường lớp",
    "Sơ kết công tác phổ cập giáo dục, xoá mù chữ",
    "Hội thảo ứng dụng trí tuệ nhân tạo trong dạy học",
    "Họp",
    "Họp về đội ngũ giáo viên",
    "Họp xét duyệt sách giáo khoa địa phương",
    "Họp trực tuyến về công tác tuyển sinh đầu cấp",
]
NATIONAL = [
    "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT",
    "Hội nghị sơ kết học kỳ I năm học 2026-2027 toàn ngành",
    "Hội nghị tập huấn công tác thi tốt nghiệp THPT trên toàn quốc",
]
# Working blocks of the day (the national and regional policies: 07:30-11:30, 13:30-17:00).
BLOCKS = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))

# Collected in the page once it has loaded: `__laidOut` when the load event's forced layout is
# done, `__painted` at the first frame after it (both from the navigation's start).
TIMING_INIT = """
addEventListener('load', () => {
  document.body.getBoundingClientRect();
  window.__laidOut = performance.now();
  requestAnimationFrame(() => setTimeout(() => { window.__painted = performance.now(); }, 0));
});
"""
TIMING = """
async () => {
  while (window.__painted === undefined) await new Promise((r) => setTimeout(r, 10));
  const nav = performance.getEntriesByType('navigation')[0];
  return { painted: window.__painted, laidOut: window.__laidOut,
           server: nav.responseStart - nav.requestStart, bytes: nav.transferSize,
           blocks: document.querySelectorAll('.block').length };
}
"""

# Per session (by its page's link), whether its title can be read somewhere on the page.
READABLE = """
(minPx) => {
  const tol = 1;
  const inside = (r, c) => r.left >= c.left - tol && r.right <= c.right + tol
    && r.top >= c.top - tol && r.bottom <= c.bottom + tol;
  function readable(what, block) {
    const style = getComputedStyle(what);
    if (parseFloat(style.fontSize) < minPx || style.visibility !== 'visible') return false;
    if (!what.textContent.trim()) return false;
    if (what.checkVisibility && !what.checkVisibility({ visibilityProperty: true })) return false;
    const folded = what.closest('details:not([open])');
    if (folded && !what.closest('summary')) return false;
    const range = document.createRange();
    range.selectNodeContents(what);
    const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0 && r.height > 0);
    if (!rects.length) return false;  // not rendered: display none, a closed <details>
    // its own box cuts it (an ellipsis, a line clamp)
    if (style.display !== 'inline' && (what.scrollWidth > what.clientWidth + tol
        || what.scrollHeight > what.clientHeight + tol)) return false;
    // the screen's width (the page scrolls down, not sideways), then every box that clips
    let clip = { left: 0, right: window.innerWidth, top: -Infinity, bottom: Infinity };
    for (let n = what.parentElement; n && n !== document.body; n = n.parentElement) {
      const s = getComputedStyle(n);
      const box = n.getBoundingClientRect();
      if (n === block || s.overflowX !== 'visible') {
        clip.left = Math.max(clip.left, box.left);
        clip.right = Math.min(clip.right, box.right);
      }
      if (n === block || s.overflowY !== 'visible') {
        clip.top = Math.max(clip.top, box.top);
        clip.bottom = Math.min(clip.bottom, box.bottom);
      }
    }
    return rects.every((r) => inside(r, clip));
  }
  const out = {};
  for (const block of document.querySelectorAll('.block[href^="/office/sessions/"]')) {
    const id = block.getAttribute('href').split('/').pop();
    const what = block.querySelector('.what');
    out[id] = Boolean(out[id]) || Boolean(what && readable(what, block));
  }
  return out;
}
"""

MONTH_FIT = """
() => ({ page: document.documentElement.scrollWidth, view: window.innerWidth,
         cal: document.querySelector('.cal') ? document.querySelector('.cal').scrollWidth : 0 })
"""


# a week that keeps the rules ---------------------------------------------------------------


@dataclass
class Planned:
    """One generated booking: its body, and what it claims when, for the generator's checks."""

    body: dict[str, Any]
    resources: list[str]
    claimed: tuple[datetime, datetime]


def weeks_ahead(today: date) -> tuple[date, date]:
    """Two consecutive Mondays at least three weeks out whose weekdays are all working days."""
    monday = today + timedelta(days=21 - today.weekday() + 7)
    for _ in range(60):
        days = [monday + timedelta(days=i) for i in range(12)]
        if all(is_working_day(d) for d in days if d.weekday() < 5):
            return monday, monday + timedelta(days=7)
        monday += timedelta(days=7)
    raise BenchError(f"no two working weeks found after {today}")


def plan_week(
    directory: Directory, monday: date, count: int, seed: int, label: str
) -> list[Planned]:
    """`count` sessions over the five weekdays from `monday`, none sharing a claim with another
    (buffers included): a national meeting with the ministry's leaders most days, a few regional
    meetings with them, and many meetings of one to four sites, most within one region."""
    rng = random.Random(seed)
    sites = directory.sites
    names = {r.id: r.name for r in directory.regions}
    by_region: dict[str, list[Site]] = {}
    for s in sites:
        by_region.setdefault(s.region or "", []).append(s)
    busy: dict[str, list[tuple[datetime, datetime]]] = {}
    out: list[Planned] = []
    attempts = 0
    while len(out) < count:
        attempts += 1
        check(attempts < count * 400, f"{label}: could not place {count} sessions")
        n = len(out)
        day = monday + timedelta(days=n % 5)
        roll = rng.random()
        kind, region, groups = "national", None, []
        if n < 5 and n % 5 in (0, 2, 4):  # a national meeting with the leaders
            chosen = list(sites) if n % 5 == 0 else rng.sample(list(sites), rng.randint(8, 20))
            title = NATIONAL[n % len(NATIONAL)]
            groups, length = [LEADERS], rng.choice((120, 150, 180))
            chair = ("Chánh Văn phòng Bộ", f"cvp-{n}@moet.example.org")
        elif roll < 0.06:  # a regional meeting, the leaders online
            region = rng.choice(sorted(by_region))
            chosen = by_region[region]
            kind, groups, length = "regional", [LEADERS], rng.choice((120, 180))
            title = f"Giao ban vùng {names[region]} học kỳ I"
            chair = ("Trưởng vùng", f"truong-vung-{n}@moet.example.org")
        else:
            home = rng.choice(sorted(by_region))
            host = rng.choice(by_region[home])
            others = [s for s in by_region[home] if s.id != host.id]
            chosen = [host, *rng.sample(others, min(len(others), rng.randint(0, 1)))]
            for _ in range(rng.choice((0, 1, 1, 2))):  # sites of other regions
                chosen.append(rng.choice([s for s in sites if s.region != home]))
            chosen = list({s.id: s for s in chosen}.values())
            if rng.random() < 0.2:  # the ministry's leaders join
                groups = [LEADERS]
            topic = rng.choice(TOPICS)
            title = topic if rng.random() < 0.5 else f"{topic} – {host.name}"
            length = rng.choice((45, 60, 60, 90, 90, 120, 150))
            chair = (f"Giám đốc {host.name}", f"giam-doc-{n % 23}@{host.id}.example.org")
        block = rng.choice(BLOCKS)
        latest = block[1] - length
        if latest < block[0]:
            continue
        begin = block[0] + 15 * rng.randint(0, (latest - block[0]) // 15)
        start = local(day, begin // 60, begin % 60)
        end = start + timedelta(minutes=length)
        claimed = (start - timedelta(minutes=BUFFER_BEFORE), end + timedelta(minutes=BUFFER_AFTER))
        ids = [s.id for s in chosen]
        resources = resources_for(
            sites=ids, region=region, leader_groups=groups, chair_email=chair[1]
        )
        if any(a < claimed[1] and claimed[0] < b for r in resources for a, b in busy.get(r, [])):
            continue
        for r in resources:
            busy.setdefault(r, []).append(claimed)
        body: dict[str, Any] = {
            "title": title,
            "kind": kind,
            "region": region,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "host_site": ids[0],
            "sites": ids,
            "chair": {"name": chair[0], "email": chair[1]},
            "leader_groups": groups,
            "provider": "static",
            "buffer_before_minutes": BUFFER_BEFORE,
            "buffer_after_minutes": BUFFER_AFTER,
        }
        out.append(Planned(body, resources, claimed))
    return out


async def book_all(
    http: aiohttp.ClientSession, base: str, office: str, planned: list[Planned], label: str
) -> list[str]:
    """`POST /api/sessions` of each, four at a time: the sessions' ids."""
    gate = asyncio.Semaphore(4)

    async def one(p: Planned) -> str:
        async with (
            gate,
            http.post(
                f"{base}/api/sessions",
                json=p.body,
                headers={"Authorization": f"Bearer {office}"},
            ) as r,
        ):
            answer = await r.json(content_type=None)
        check(r.status == 201, f"{label}: booking answered {r.status}: {str(answer)[:400]}")
        return str(answer["id"])

    return list(await asyncio.gather(*(one(p) for p in planned)))


# the browser -------------------------------------------------------------------------------


async def sign_in(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/signin?next=/office")
    await page.get_by_label("Mã truy cập").fill(token)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_load_state()
    check("/signin" not in page.url, f"signing in failed: still at {page.url}")


async def load(page: Page, url: str) -> dict[str, Any]:
    response = await page.goto(url, wait_until="load")
    check(response is not None and response.status == 200, f"GET {url} failed")
    return dict(await page.evaluate(TIMING))


async def readable(page: Page, url: str, ids: list[str], label: str) -> float:
    """The share (0-1) of `ids` whose title reads on the page at `url`; each must be on it."""
    await page.goto(url, wait_until="load")
    seen: dict[str, bool] = await page.evaluate(READABLE, MIN_FONT_PX)
    missing = set(ids) - set(seen)
    check(not missing, f"{label}: {len(missing)} sessions are not on the page")
    check(
        await page.locator(".block.clash").count() == 0,
        f"{label}: a clash is marked, but every session keeps the rules",
    )
    return sum(1 for i in ids if seen[i]) / len(ids)


async def run(ctx: Context) -> None:
    chromium = chromium_path()
    if chromium is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if ctx.ci:
            raise BenchError(message)
        raise BenchSkip(message)
    busy_n, quiet_n = ctx.size(150, 20), ctx.size(10, 5)
    rounds = ctx.size(7, 2)
    directory = load_directory(DIRECTORY)
    busy_week, quiet_week = weeks_ahead(date.today())
    busy = plan_week(directory, busy_week, busy_n, 13, "busy week")
    quiet = plan_week(directory, quiet_week, quiet_n, 7, "quiet week")
    with tempfile.TemporaryDirectory(prefix="bench-timeline-") as tmp:
        work = Path(tmp)
        env = service_env(work, ORCH_INVITES__WORKER="false")
        office, _ = await operator_setup(None, work, env, DIRECTORY)
        server, base = start_server(None, work, env, work / "server.log")
        try:
            async with aiohttp.ClientSession() as http:
                await wait_healthy(http, server, base)
                busy_ids = await book_all(http, base, office, busy, "busy week")
                quiet_ids = await book_all(http, base, office, quiet, "quiet week")
            ctx.say(
                NAME,
                f"{busy_n} sessions booked in the week of {busy_week}, {quiet_n} in the next; "
                f"{os.cpu_count()} cpus",
            )
            busy_url = f"{base}/office?view=week&date={busy_week.isoformat()}"
            quiet_url = f"{base}/office?view=week&date={quiet_week.isoformat()}"
            async with launched(chromium) as browser:
                page = await new_page(browser)
                await page.add_init_script(TIMING_INIT)
                await sign_in(page, base, office)
                share = await readable(page, busy_url, busy_ids, "busy week")
                reference = await readable(page, quiet_url, quiet_ids, "quiet week")
                await load(page, busy_url)  # warm both before timing
                await load(page, quiet_url)
                busy_t, quiet_t = [], []
                for _ in range(rounds):
                    busy_t.append(await load(page, busy_url))
                    quiet_t.append(await load(page, quiet_url))
                month = f"{base}/office?view=month&date={busy_week.isoformat()}"
                await page.goto(month, wait_until="load")
                fit = await page.evaluate(MONTH_FIT)
                check(
                    fit["page"] <= fit["view"] and fit["cal"] <= fit["view"],
                    f"the month does not fit the screen: {fit}",
                )
        except BenchError as exc:
            raise BenchError(f"{exc}\n{server.tail()}") from exc
        finally:
            await asyncio.to_thread(server.stop)
    blocks = busy_t[0]["blocks"]
    ctx.report(
        Figure(
            NAME,
            f"week of {busy_n} sessions ({blocks} blocks) at 1366 × 768: titles readable "
            "without hovering",
            round(100 * share, 1),
            "%",
            f"week of {quiet_n} sessions",
            round(100 * reference, 1),
            None,  # a share, not a time: the same on a busy machine, so judged as it is
            absolute=80,
            lower_is_better=False,
        )
    )
    painted = statistics.median(t["painted"] for t in busy_t) / 1000
    painted_ref = statistics.median(t["painted"] for t in quiet_t) / 1000
    server_ms = statistics.median(t["server"] for t in busy_t)
    kb = statistics.median(t["bytes"] for t in busy_t) / 1024
    ctx.report(
        Figure(
            NAME,
            f"week of {busy_n} sessions: navigation to first frame after load, median of {rounds}",
            painted,
            "s",
            f"week of {quiet_n} sessions",
            painted_ref,
            3.0,
            note=f"server {server_ms:.0f} ms, {kb:.0f} KB",
        )
    )
