"""GatewaySettings from YAML, with MAS_* environment variables on top; bad files say why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mas.errors import ConfigError
from mas_gateway import GatewaySettings


def test_yaml_values_load_and_the_environment_applies_on_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("redis_url: redis://cache:6380/2\nbatch_size: 16\nreplay_window_s: 60\n")
    monkeypatch.setenv("MAS_BATCH_SIZE", "32")
    settings = GatewaySettings.from_yaml(config)
    assert settings.redis_url == "redis://cache:6380/2"
    assert settings.replay_window_s == 60
    assert settings.batch_size == 32, "the environment wins over the file"
    # explicit overrides (the CLI's flags) win over both
    assert GatewaySettings.from_yaml(config, batch_size=8).batch_size == 8
    assert settings.auto_provision is False, "secure by default"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("redis_url: [unclosed\n", "not valid YAML"),
        ("- a list\n", "must hold a mapping"),
        ("batch_size: 0\n", "batch_size"),
        ("no_such_setting: 1\n", "no_such_setting"),
    ],
)
def test_bad_settings_files_are_config_errors_naming_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message):
        GatewaySettings.from_yaml(config)


def test_missing_settings_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read settings file"):
        GatewaySettings.from_yaml(tmp_path / "absent.yaml")


@pytest.mark.subprocess
def test_the_command_line_loads_no_nlp_until_a_command_needs_it() -> None:
    """`mas --help`, `mas audit verify` and the like do not pay for spaCy and Presidio."""
    probe = (
        "import sys; from mas_gateway.cli import build_parser; build_parser(); "
        "import mas, mas_gateway; mas.ConfigError; "
        "print(sorted(m for m in ('spacy', 'presidio_analyzer', 'mas_gateway.service') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_command_that_cannot_reach_redis_says_so_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mas_gateway.cli import main

    for argv in (["status"], ["agent", "list"], ["dlq", "list"]):
        code = main([*argv, "--redis-url", "redis://ops:s3cret@127.0.0.1:9/0"])
        err = capsys.readouterr().err
        assert code == 2, argv
        assert "cannot reach Redis at redis://ops:***@127.0.0.1:9/0" in err, err
        assert "s3cret" not in err and "Traceback" not in err
