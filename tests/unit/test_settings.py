"""Settings: file, environment and overrides, with secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestrator.domain.models import SessionKind
from orchestrator.settings import load_settings
from tests.conftest import ROOT


def test_example_config_loads() -> None:
    s = load_settings(ROOT / "config" / "orchestrator.example.toml")
    assert s.server.port == 8080


def test_env_wins_over_file_and_options_win_over_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "o.toml"
    cfg.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[jitsi]\napp_secret = "s3cret"\n')
    monkeypatch.setenv("ORCH_SERVER__PORT", "9100")
    monkeypatch.setenv("ORCH_DATABASE_URL", "sqlite+aiosqlite:///from-env")
    s = load_settings(cfg)
    assert s.server.port == 9100
    assert s.server.host == "0.0.0.0"
    assert s.database_url == "sqlite+aiosqlite:///from-env"
    assert "s3cret" not in repr(s)
    assert s.jitsi.app_secret is not None
    assert s.jitsi.app_secret.get_secret_value() == "s3cret"
    s = load_settings(cfg, database_url="sqlite+aiosqlite:///from-option")
    assert s.database_url == "sqlite+aiosqlite:///from-option"


def test_default_database_is_sqlite_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCH_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    s = load_settings(data_dir=tmp_path / "d")
    assert (
        s.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'orchestrator.sqlite3'}"
    )


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")
    cfg = tmp_path / "o.toml"
    cfg.write_text("[server]\nport = 'eighty'\n")
    with pytest.raises(ValidationError):
        load_settings(cfg)
    cfg.write_text("[sever]\nport = 80\n")
    with pytest.raises(ValidationError):
        load_settings(cfg)
    cfg.write_text("[server]\nprot = 80\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(cfg)


def test_task_rules_per_session_kind_from_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "o.toml"
    cfg.write_text(
        "[[preparation.regional_rules]]\n"
        'kind = "topic_report"\nwho = "each_site"\nanchor = "before_start"\ndays = 10\n'
        'title_vi = "Báo cáo chuyên đề"\ntitle_en = "Topic report"\n',
        encoding="utf-8",
    )
    s = load_settings(cfg)
    rules = s.preparation.rules()
    assert [r.days for r in rules[SessionKind.REGIONAL]] == [10]
    assert SessionKind.NATIONAL not in rules
    cfg.write_text(
        '[[preparation.regional_rules]]\nkind = "x"\nwho = "everyone"\n', encoding="utf-8"
    )
    with pytest.raises(ValidationError):
        load_settings(cfg)
