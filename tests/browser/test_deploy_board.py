"""The chair's board as deployed: through the deploy kit's nginx, in front of two `serve`
instances on one PostgreSQL. Prosody's webhooks reach either instance; the board shows each as it
arrives, without reloading."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import assert_accessible, screenshot
from tests.builders import SIX
from tests.e2e.nginx_front import (
    Front,
    nginx_binary,
    nginx_front,
    postgres_database,
    two_instances,
    upstream_of,
)
from tests.e2e.serve_process import Prepared, hook_headers, joined, prepare

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@dataclass
class Deployed:
    front: Front
    prepared: Prepared


@pytest.fixture
def deployed(pg_template: str | None, tmp_path: Path) -> Iterator[Deployed]:
    nginx = nginx_binary()
    with postgres_database(pg_template) as url:
        prepared = prepare(url, tmp_path / "var", soon=True)
        with (
            two_instances(url, tmp_path) as (a, b),
            nginx_front(nginx, tmp_path / "nginx", (upstream_of(a), upstream_of(b))) as front,
        ):
            yield Deployed(front, prepared)


async def test_the_board_through_nginx_shows_webhooks_taken_by_either_instance(
    page: Page, deployed: Deployed
) -> None:
    front, prepared = deployed.front, deployed.prepared
    board = f"/chair/sessions/{prepared.session_id}"
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.goto(f"{front.url}/signin?next={board}")
    await page.get_by_label("Mã truy cập").fill(prepared.chair)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_load_state()
    assert page.url.endswith(board)
    await expect(page.locator("#board-live")).to_contain_text("Cập nhật trực tiếp")
    for site in SIX:
        await expect(page.locator(f"#tile-{site}")).to_have_class(re.compile(r"\bconn-waiting\b"))

    async with httpx.AsyncClient(base_url=front.url, timeout=10) as http:
        for n, site in enumerate(SIX[:4], start=1):
            endpoint, body = joined(prepared.room, n, site)
            r = await http.post(
                f"/hooks/jitsi/events/{endpoint}", content=body, headers=hook_headers()
            )
            assert r.status_code == 200, r.text
            assert json.loads(r.text)["accepted"] == 1
            tile = page.locator(f"#tile-{site}")
            await expect(tile).to_have_class("tile conn-connected", timeout=3000)
            await expect(tile).to_contain_text("Đang kết nối")
    # nginx spread the webhooks over both instances: the board heard both.
    served = {
        m.group(1)
        for line in front.log_lines()
        if "/hooks/jitsi/events/" in line and (m := re.search(r"upstream=(127\S+)", line))
    }
    assert served == set(front.upstreams)
    for site in SIX[4:]:
        await expect(page.locator(f"#tile-{site}")).to_have_class(re.compile(r"\bconn-waiting\b"))
    assert int(await page.locator("#board").get_attribute("data-updates") or "0") >= 4
    await assert_accessible(page)
    await screenshot(page, "deploy-board-through-nginx")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "deploy-board-through-nginx-phone")
