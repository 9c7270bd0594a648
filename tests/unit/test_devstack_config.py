"""What `make up` gives the API and the worker: its own addresses always, its defaults only
where the user set nothing, in the environment or in the project's .env."""

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from devstack import config
from devstack.config import LOCAL_DEFAULTS, StackConfig
from devstack.servers import postgres_exporter


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


def test_the_app_reading_the_stacks_environment_reaches_the_stacks_servers(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack takes credentials, database and ports from the app's `Settings` defaults, and
    the app, given the stack's environment, points at exactly the stack's servers."""
    defaults = Settings.model_construct()
    default_ports = {name: port for name, (_, port) in config.PORT_VARIABLES.items()}
    assert default_ports["api"] == defaults.api_port
    assert default_ports["postgresql"] == defaults.database_port
    assert default_ports["temporal"] == defaults.temporal_port
    assert default_ports["redis"] == make_url(defaults.redis_url).port
    assert default_ports["nats"] == make_url(defaults.nats_url).port
    assert default_ports["worker_health"] == defaults.worker_health_port

    stack = StackConfig.ephemeral()
    for name, value in stack.app_environment().items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    database = make_url(settings.database_url)
    expected = make_url(defaults.database_url)
    assert (database.drivername, database.username, database.password, database.database) == (
        expected.drivername,
        expected.username,
        expected.password,
        expected.database,
    )
    assert (database.host, database.port) == (config.HOST, stack.ports["postgresql"])
    for url, port_name in ((settings.redis_url, "redis"), (settings.nats_url, "nats")):
        assert (make_url(url).host, make_url(url).port) == (config.HOST, stack.ports[port_name])
    assert make_url(settings.redis_url).database == make_url(defaults.redis_url).database
    assert settings.temporal_address == f"{config.HOST}:{stack.ports['temporal']}"
    assert settings.api_port == stack.ports["api"]


def test_database_urls_are_built_not_concatenated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials with URL syntax in them survive: the URL is built by SQLAlchemy's URL."""
    password = "p@ss:/w?rd#%"
    monkeypatch.setattr(
        config, "APP_DEFAULTS", Settings.model_construct(database_password=password)
    )
    stack = StackConfig.ephemeral()
    assert make_url(stack.database_url).password == password
    exporter = postgres_exporter.environment(stack)["DATA_SOURCE_NAME"]
    assert make_url(exporter).password == password
    assert make_url(exporter).query == {"sslmode": "disable", "connect_timeout": "3"}
