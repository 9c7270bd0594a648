"""What `make up` gives the API and the worker: its own addresses always, its defaults only
where the user set nothing, in the environment or in the project's .env."""

from pathlib import Path

import pytest

from devstack import config
from devstack.config import LOCAL_DEFAULTS, StackConfig


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path)
    for name in (*LOCAL_DEFAULTS, "API_PORT", "SBS_API_TOKEN", "SBS_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_local_defaults_apply_only_where_the_user_set_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = StackConfig.ephemeral()
    assert stack.app_environment()["DATABASE_WAIT_TIMEOUT"] == "30"
    monkeypatch.setenv("DATABASE_WAIT_TIMEOUT", "120")
    (project / ".env").write_text("TEMPORAL_WAIT_TIMEOUT=90\nSHUTDOWN_DRAIN_SECONDS=2\n")
    environment = stack.app_environment()
    # Not set by the stack: the API and the worker read the user's own values.
    for name in ("DATABASE_WAIT_TIMEOUT", "TEMPORAL_WAIT_TIMEOUT", "SHUTDOWN_DRAIN_SECONDS"):
        assert name not in environment
    assert environment["API_HOST"] == "127.0.0.1"  # the stack's addresses always win


def test_ports_token_and_state_dir_come_from_the_environment_or_dot_env(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".env").write_text(
        "API_PORT=18000\nSBS_API_TOKEN=from-dot-env\nSBS_STATE_DIR=/srv/sbs-state\n"
    )
    from_file = StackConfig.from_environment()
    assert from_file.ports["api"] == 18000
    assert from_file.api_token == "from-dot-env"
    assert from_file.state_dir == Path("/srv/sbs-state")
    monkeypatch.setenv("API_PORT", "19000")
    assert StackConfig.from_environment().ports["api"] == 19000  # the environment wins
