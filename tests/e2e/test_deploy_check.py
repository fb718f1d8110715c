"""The deploy kit's settings pass `orchestrator check` once its placeholders are filled: what an
IT team installs from `deploy/` is a working configuration, not only a consistent one."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def test_the_kit_passes_orchestrator_check(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("ORCH_")]:
        monkeypatch.delenv(name)
    env_file = (DEPLOY / "systemd" / "orchestrator.env.example").read_text()
    for name, _ in re.findall(r"^(ORCH_\w+)=(.*)$", env_file, re.M):
        monkeypatch.setenv(name, secrets.token_urlsafe(48))  # each placeholder: a real secret
    monkeypatch.setenv("ORCH_DATABASE_URL", db_url)
    monkeypatch.setenv("ORCH_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["--config", str(DEPLOY / "orchestrator.toml"), "check"])
    output = result.stdout + result.stderr
    assert result.exit_code == 0, output
    assert "problem" not in output.replace("0 problem", ""), output
    assert "provider jitsi on meet.example.org, app id orchestrator" in output
