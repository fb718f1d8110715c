"""Browser tests: Playwright driving Debian's Chromium (headless) against the service on a port.

Chromium comes from Debian's package (`apt-get install chromium`), installed here when missing;
Playwright's own browser download is never used. The service runs on SQLite with the tests'
moved clock (`NOW`), the example directory, and tokens for the office, a coordinator and a chair.
Screenshots go to `var/test-artifacts/screenshots/` (override with ORCH_ARTIFACTS).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bench.browser import CHROMIUM_ARGS, chromium_path
from orchestrator.bootstrap import Container
from tests.builders import base_url, issue_tokens, serving
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("ORCH_ARTIFACTS", ROOT / "var" / "test-artifacts")) / "screenshots"
CHAIR_EMAIL = "chair@moet.example.org"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed with apt-get when missing (a failure on CI, else a skip)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium could not be installed: browser tests must run on CI")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Browser tests run on the embedded default, SQLite (the API tests cover PostgreSQL)."""
    path = tmp_path / "orchestrator.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class Live:
    """The service on a real port, and who can sign in to it."""

    url: str
    container: Container
    office_token: str
    coordinator_tokens: dict[str, str] = field(default_factory=dict)
    chair_token: str = ""


@pytest.fixture
async def live(container: Container) -> AsyncIterator[Live]:
    async with serving(container) as server:
        tokens = await issue_tokens(
            container, "ha-noi", "da-nang", chair_email=CHAIR_EMAIL, office_label="browser office"
        )
        yield Live(
            url=base_url(server),
            container=container,
            office_token=tokens.office,
            coordinator_tokens=tokens.coordinators,
            chair_token=tokens.chair,
        )


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    p = await context.new_page()
    p.set_default_timeout(10_000)
    try:
        yield p
    finally:
        await context.close()


async def sign_in(page: Page, live: Live, token: str, next_path: str = "/") -> None:
    """Sign in through the form, as a person would."""
    await page.goto(f"{live.url}/signin?next={next_path}")
    await page.get_by_label("Mã truy cập").fill(token)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_load_state()


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


A11Y_SCRIPT = """
() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`))
      || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push(`field without a label: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!visible(el)) continue;
    const name = (el.innerText || el.getAttribute('aria-label') || el.getAttribute('title') || '').trim();
    if (!name) problems.push(`control without a name: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const el of document.querySelectorAll('img')) {
    if (!el.hasAttribute('alt')) problems.push(`image without alt: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const el of document.querySelectorAll('[tabindex]')) {
    if (parseInt(el.getAttribute('tabindex'), 10) > 0) problems.push(`positive tabindex: ${el.outerHTML.slice(0, 120)}`);
  }
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`expected one h1, found ${h1}`);
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = parseInt(h.tagName[1], 10);
    if (last && level > last + 1) problems.push(`heading level skips from h${last} to h${level}: ${h.innerText}`);
    last = level;
  }
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  if (!document.title.trim()) problems.push('no <title>');
  return problems;
}
"""


async def assert_accessible(page: Page, *, scripts: bool = True) -> None:
    """Labels on every field, named controls, one h1 and no skipped heading levels, a language,
    a title, no positive tabindex; no serious or critical violation axe-core finds; and the
    keyboard reaches controls in document order.

    `scripts=False` for a page opened with JavaScript off: axe-core runs as script in the page
    (its timers never fire there), so such a page gets the other checks, and axe-core checks the
    same pages with scripts on (`test_axe.py`)."""
    problems = await page.evaluate(A11Y_SCRIPT)
    assert problems == [], "\n".join(problems)
    if scripts:
        await assert_axe(page)
    await assert_focus_order(page)


# axe-core, the npm package, installed beside the service's other run-time files by the tests
# themselves (the README's test command stays the only set-up step).
AXE = ROOT / "var" / "node" / "node_modules" / "axe-core" / "axe.min.js"
AXE_IMPACTS = ("serious", "critical")


@functools.cache
def _axe_source() -> str | None:
    if not AXE.exists() and (npm := shutil.which("npm")) is not None:
        prefix = AXE.parents[2]
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "axe-core@4"],
            check=False,
            capture_output=True,
            timeout=600,
        )
    return AXE.read_text(encoding="utf-8") if AXE.exists() else None


AXE_RUN = r"""
async (impacts) => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n` + v.nodes.slice(0, 5)
      .map((n) => `  ${n.target.join(" ")}: ${n.failureSummary.replace(/\n/g, " ")}`).join("\n"));
}
"""


async def assert_axe(page: Page) -> None:
    """No serious or critical violation axe-core finds on the page as it stands (axe-core is
    installed with npm when missing: a failure on CI, else a skip)."""
    source = _axe_source()
    if source is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"axe-core could not be installed ({AXE}): accessibility must be checked")
        pytest.skip("axe-core is not installed (npm install --prefix var/node axe-core@4)")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # The pages' content security policy refuses inline script tags (add_script_tag): the
        # file's content is run through the DevTools protocol instead, which the policy allows,
        # so the tests keep the policy and still see anything else it refuses.
        await page.evaluate(source)
    violations = await page.evaluate(AXE_RUN, list(AXE_IMPACTS))
    assert violations == [], f"axe-core on {page.url}:\n" + "\n".join(violations)


FOCUS_INDEX_SCRIPT = """
() => {
  const all = Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]'))
    .filter((el) => !el.disabled && el.tabIndex >= 0 && (el.offsetWidth || el.offsetHeight || el === document.querySelector('.skip')));
  return all.indexOf(document.activeElement);
}
"""


async def assert_focus_order(page: Page, steps: int = 12) -> None:
    """Tab from the top: the skip link comes first, then each step moves forward in the page."""
    await page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    await page.keyboard.press("Tab")
    first = await page.evaluate("() => document.activeElement && document.activeElement.className")
    assert "skip" in (first or ""), f"the first Tab should reach the skip link, reached {first!r}"
    previous = await page.evaluate(FOCUS_INDEX_SCRIPT)
    for _ in range(steps):
        await page.keyboard.press("Tab")
        index = await page.evaluate(FOCUS_INDEX_SCRIPT)
        if index == -1:  # left the page (browser chrome) or an element outside the list
            break
        assert index > previous, f"focus went back from element {previous} to {index}"
        previous = index
