"""Boards across instances survive a real restart of the PostgreSQL server (DESIGN 12): the
instances' listening connections come back, the open board reads its whole record once more, and
a webhook taken by one instance after the restart reaches the board open on the other.

The server is restarted with `pg_ctlcluster` (the local Debian cluster the test command starts),
which is only possible where the tests run beside it as root. On CI it must be possible: there a
missing means is a failure, not a skip. Everything else in this suite makes its own database, so a
restart between two of its tests disturbs nothing else.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from urllib.parse import urlsplit

import httpx
import pytest

from orchestrator.domain.clock import ManualClock
from tests.builders import bearer
from tests.integration.attendance_kit import EVENTS_TOKEN, START, sync
from tests.integration.two_instances import WITHIN, Pair, Stream, until_listening

LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


def _cluster_of(db_url: str) -> tuple[str, str] | str:
    """The local cluster (version, name) serving `db_url`, or why it cannot be restarted here."""
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return "pg_ctlcluster is not installed"
    if os.geteuid() != 0:
        return "restarting the cluster needs root"
    parts = urlsplit(db_url.replace("+asyncpg", ""))
    if (parts.hostname or "") not in LOOPBACK:
        return f"the test database is on {parts.hostname}, not this machine"
    port = str(parts.port or 5432)
    listed = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listed.splitlines():
        version, name, cluster_port, *_ = line.split()
        if cluster_port == port:
            return version, name
    return f"no local cluster listens on port {port}"


async def _post_until_taken(http: httpx.AsyncClient, endpoint: str, body: object) -> None:
    """Post a webhook as Prosody does: again after a 5xx, for a few seconds."""
    async with asyncio.timeout(15):
        while True:
            r = await http.post(
                f"/hooks/jitsi/events/{endpoint}",
                content=json.dumps(body),
                headers={
                    "Authorization": f"Bearer {EVENTS_TOKEN}",
                    "Content-Type": "application/json",
                },
            )
            if r.status_code == 200:
                return
            assert r.status_code >= 500, r.text  # refused for its content: a real failure
            await asyncio.sleep(0.2)


async def test_boards_across_instances_survive_a_restart_of_the_database(
    pair: Pair,
    clock: ManualClock,
) -> None:
    cluster = _cluster_of(pair.db_url)
    if isinstance(cluster, str):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must restart its PostgreSQL here: {cluster}")
        pytest.skip(cluster)
    version, name = cluster
    clock.set(START)
    before = await until_listening(pair.db_url, 2, set(), 5)
    url = f"/api/sessions/{pair.session.id}/attendance/stream"
    async with pair.second.stream("GET", url, headers=bearer(pair.chair)) as r:
        assert r.status_code == 200
        board = Stream(r.aiter_lines())
        assert await asyncio.wait_for(board.next(), 5) == "attendance"
        await _post_until_taken(pair.first, *sync(pair.room, "joined", "da-nang", "dn@x/1", START))
        await board.until(lambda s: s["da-nang"] == "connected", WITHIN)
        wholes = board.wholes

        restarted = await asyncio.to_thread(
            subprocess.run,
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restarted.returncode == 0, restarted.stderr

        # both instances listen again, on new connections; the board re-reads its record once
        await until_listening(pair.db_url, 2, before, 30)
        await board.until(lambda _: board.wholes > wholes, 15)
        # a webhook taken by the first instance after the restart reaches the second's board
        await _post_until_taken(pair.first, *sync(pair.room, "joined", "can-tho", "ct@x/1", START))
        await board.until(lambda s: s["can-tho"] == "connected", WITHIN)
