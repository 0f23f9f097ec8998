"""Settings: defaults that need no servers, env vars, TOML file, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError


def test_defaults_are_embedded() -> None:
    settings = load_settings()
    assert settings.warehouse == "embedded"
    assert settings.broker_url == ""
    assert settings.warehouse_dir == settings.data_dir / "warehouse"
    assert settings.lexicon_dir.is_dir()


def test_env_vars_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLAIMWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLAIMWATCH_WAREHOUSE", "server")
    monkeypatch.setenv("CLAIMWATCH_CLICKHOUSE_PORT", "9440")
    settings = load_settings()
    assert (settings.data_dir, settings.warehouse, settings.clickhouse_port) == (tmp_path, "server", 9440)


def test_toml_file_then_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "cw.toml"
    config.write_text('warehouse = "server"\nclickhouse_host = "ch.internal"\nclickhouse_port = 9001\n')
    monkeypatch.setenv("CLAIMWATCH_CONFIG", str(config))
    monkeypatch.setenv("CLAIMWATCH_CLICKHOUSE_PORT", "9002")
    settings = load_settings()
    assert settings.clickhouse_host == "ch.internal"
    assert settings.clickhouse_port == 9002  # env beats file


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLAIMWATCH_WAREHOUSE": "oracle"}, "warehouse: Input should be 'embedded' or 'server'"),
        ({"CLAIMWATCH_CLICKHOUSE_PORT": "ninety"}, "clickhouse_port"),
        ({"CLAIMWATCH_RETENTION_DAYS": "30"}, "retention_days"),
        ({"CLAIMWATCH_CONFIG": "/nonexistent.toml"}, "no such file"),
    ],
)
def test_bad_settings_fail_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unknown_key_in_toml_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "cw.toml"
    config.write_text('warehose = "server"\n')
    monkeypatch.setenv("CLAIMWATCH_CONFIG", str(config))
    with pytest.raises(ConfigError, match="warehose"):
        load_settings()


def test_password_is_secret() -> None:
    settings = load_settings(clickhouse_password="hunter2")
    assert "hunter2" not in repr(settings)


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"CLAIMWATCH_{name.upper()}" in docs, f"docs/configuration.md misses {name}"
