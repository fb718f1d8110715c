"""Debian's Chromium for the browser benchmarks (and the browser tests): found, or installed
with apt-get when missing, then launched headless through Playwright (whose own browser download
is never used).

`launched()` yields a Playwright `Browser`; a benchmark opens a context at 1366 × 768 with
`new_page(browser)` and measures the page with the browser's own clocks (Navigation Timing,
Long Tasks), never with the wall clock around a Playwright call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """The path of Debian's Chromium, installing the package with apt-get when it is missing
    (None when it cannot be installed here)."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [apt, "install", "-y", "-q", "chromium"],
        [apt, "update", "-q"],
        [apt, "install", "-y", "-q", "chromium"],
    ):
        subprocess.run(command, check=False, env=env, capture_output=True, timeout=900)
        if shutil.which("chromium"):
            break
    return shutil.which("chromium")


@asynccontextmanager
async def launched(executable: str) -> AsyncIterator[Browser]:
    """Headless Chromium at `executable`, closed on the way out."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser, *, viewport: ViewportSize | None = None, locale: str = "vi-VN"
) -> Page:
    """A page in a context of its own (1366 × 768 unless told), Vietnamese unless told."""
    context = await browser.new_context(viewport=viewport or DESKTOP, locale=locale)
    page = await context.new_page()
    page.set_default_timeout(30_000)
    return page
