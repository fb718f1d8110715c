"""The deploy kit's nginx site for real, in front of two `serve` instances on one PostgreSQL:
TLS and the redirect to it, requests spread over both instances, the body limit of `[server]`,
the client's address in the log, a board's stream passed on unbuffered with webhooks taken by
either instance, and one instance stopped without the others' callers noticing."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.settings import ServerSettings
from tests.builders import SIX
from tests.e2e.nginx_front import (
    SERVER_NAME,
    Front,
    check_config,
    nginx_binary,
    nginx_front,
    postgres_database,
    site_config,
    two_instances,
    upstream_of,
)
from tests.e2e.serve_process import (
    Prepared,
    free_port,
    hook_headers,
    joined,
    prepare,
)

LIMIT = ServerSettings().max_body_bytes


@pytest.fixture(scope="module")
def nginx() -> str:
    return nginx_binary()


@pytest.fixture
def pg_url(pg_template: str | None) -> Iterator[str]:
    with postgres_database(pg_template) as url:
        yield url


def test_tls_server_block_passes_nginx_t_with_a_made_certificate(
    nginx: str, tmp_path: Path
) -> None:
    conf, _ = site_config(
        tmp_path, ("127.0.0.1:8081", "127.0.0.1:8082"), (free_port(), free_port(), free_port())
    )
    checked = check_config(nginx, conf, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    # The same file without its certificate is refused: the check reads the TLS block.
    site = tmp_path / "sites-enabled" / "orchestrator"
    site.write_text(re.sub(r"ssl_certificate_key [^;]+;", "", site.read_text()))
    assert check_config(nginx, conf, tmp_path).returncode != 0


def upstreams_in(front: Front, path: str) -> set[str]:
    """The instances that answered requests for `path` (from the kit's access log)."""
    found = set()
    for line in front.log_lines():
        if f" {path}" in line and (m := re.search(r"upstream=(127\S+)", line)):
            found.add(m.group(1))
    return found


def post_hook(http: httpx.Client, room: str, n: int, site: str | None) -> httpx.Response:
    endpoint, body = joined(room, n, site)
    return http.post(f"/hooks/jitsi/events/{endpoint}", content=body, headers=hook_headers())


class Stream(threading.Thread):
    """A board's event stream read through nginx: each event's name and when it arrived."""

    def __init__(self, url: str, prepared: Prepared) -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/api/sessions/{prepared.session_id}/attendance/stream"
        self.token = prepared.chair
        self.events: list[tuple[str, str, float]] = []
        self.outcome = ""

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=30) as r:
                assert r.status_code == 200, r.status_code
                assert r.headers["content-type"].startswith("text/event-stream")
                name = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        self.events.append((name, line.removeprefix("data: "), time.monotonic()))
            self.outcome = "ended"
        except Exception as exc:  # reported by the test
            self.outcome = f"{type(exc).__name__}: {exc}"

    def wait_for(self, count: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.events) >= count, (self.events, self.outcome)


def sites_in(events: list[tuple[str, str, float]]) -> set[str]:
    """The sites the `changes` events connected."""
    found = set()
    for name, data, _ in events:
        if name == "changes":
            for row in json.loads(data).get("sites", []):
                if row.get("connection") == "connected":
                    found.add(row["site_id"])
    return found


@pytest.mark.postgres
def test_the_kit_in_front_of_two_instances(nginx: str, pg_url: str, tmp_path: Path) -> None:
    prepared = prepare(pg_url, tmp_path / "var", soon=True)
    with (
        two_instances(pg_url, tmp_path) as (a, b),
        nginx_front(nginx, tmp_path / "nginx", (upstream_of(a), upstream_of(b))) as front,
        httpx.Client(base_url=front.url, timeout=30) as http,
    ):
        # TLS: the kit's server block answers with the made certificate; port 80 redirects.
        made = ssl.create_default_context(cafile=tmp_path / "nginx" / "tls.crt")
        made.check_hostname = False  # dialled by address; the chain is still checked
        with httpx.Client(verify=made, timeout=10) as tls:
            r = tls.get(
                f"https://127.0.0.1:{front.https_port}/healthz", headers={"Host": SERVER_NAME}
            )
            assert r.status_code == 200
            assert r.headers["strict-transport-security"] == "max-age=31536000"
        r = httpx.get(
            f"http://127.0.0.1:{front.http_port}/chair?x=1", headers={"Host": SERVER_NAME}
        )
        assert r.status_code == 301
        assert r.headers["location"] == f"https://{SERVER_NAME}/chair?x=1"

        # Requests are spread over both instances.
        for _ in range(8):
            assert http.get("/healthz").status_code == 200
        assert upstreams_in(front, "/healthz") == set(front.upstreams)

        # The body limit is [server] max_body_bytes: at the limit the instance answers (the
        # body is not an event-sync payload: 400); one byte more and nginx refuses it (413).
        at_limit = b"x" * LIMIT
        r = http.post(
            "/hooks/jitsi/events/occupant/joined", content=at_limit, headers=hook_headers()
        )
        assert r.status_code == 400, r.text
        r = http.post(
            "/hooks/jitsi/events/occupant/joined", content=at_limit + b"x", headers=hook_headers()
        )
        assert r.status_code == 413
        assert "nginx" in r.text

        # The log names the client nginx saw, not what a client claims, and the instance.
        r = http.get("/healthz?who", headers={"X-Forwarded-For": "203.0.113.9"})
        assert r.status_code == 200
        line = next(x for x in front.log_lines() if "/healthz?who" in x)
        assert line.startswith("127.0.0.1 - ")
        assert re.search(r"upstream=127\.0\.0\.1:\d+ ", line)

        # A board's stream through nginx: the record at once, then each webhook as it is taken,
        # whichever instance takes it (PostgreSQL NOTIFY carries it to the board's instance).
        stream = Stream(front.url, prepared)
        stream.start()
        stream.wait_for(1, 10)
        assert stream.events[0][0] == "attendance"
        for n, site in enumerate(SIX[:4], start=1):
            sent = time.monotonic()
            r = post_hook(http, prepared.room, n, site)
            assert r.status_code == 200, r.text
            deadline = sent + 3
            while site not in sites_in(stream.events) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert site in sites_in(stream.events), f"{site} did not reach the board"
        assert upstreams_in(front, "/hooks/jitsi/events/occupant/joined") == set(front.upstreams)

        # One instance stops (a restart, an upgrade): the boards on it end cleanly and
        # reconnect through nginx to the other, the boards on the other stay open, and callers
        # keep being answered.
        second = Stream(front.url, prepared)  # nginx takes turns: the two boards are on both
        second.start()
        second.wait_for(1, 10)
        a.terminate()
        for board in (stream, second):
            board.join(timeout=5)
        ended = [board for board in (stream, second) if not board.is_alive()]
        assert len(ended) == 1, [(board.outcome, board.is_alive()) for board in (stream, second)]
        assert ended[0].outcome == "ended", ended[0].outcome
        (open_board,) = [board for board in (stream, second) if board.is_alive()]
        again = Stream(front.url, prepared)
        again.start()
        again.wait_for(1, 10)
        assert again.events[0][0] == "attendance"
        before = len(open_board.events)
        for n in range(100, 106):
            assert post_hook(http, prepared.room, n, SIX[n % 6]).status_code == 200
        again.wait_for(2, 5)
        open_board.wait_for(before + 1, 5)
