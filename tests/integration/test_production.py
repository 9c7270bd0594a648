"""SBS_ENVIRONMENT=production: the API and the worker refuse the local secrets, naming the
variable; with real secrets the API starts, guards the demo endpoints with the token, and
its public bodies name a failing dependency's cause without topology or driver text."""

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from devstack.config import DATABASE_NAME, HOST, StackConfig, free_ports
from devstack.servers.postgres import connect as postgres_connect
from tests.integration.helpers import api_process, start_api
from tests.waiting import poll

PRODUCTION_TOKEN = secrets.token_urlsafe(32)
PRODUCTION_ROLE = "sbs_production_test"
PRODUCTION_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def production_database_url(stack: StackConfig) -> Iterator[str]:
    """A database role with a real password (the stack's own uses the local `secret`)."""
    with postgres_connect(stack, DATABASE_NAME) as connection:
        connection.execute(f"DROP ROLE IF EXISTS {PRODUCTION_ROLE}")
        connection.execute(f"CREATE ROLE {PRODUCTION_ROLE} LOGIN PASSWORD '{PRODUCTION_PASSWORD}'")
        connection.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PRODUCTION_ROLE}")
    try:
        yield (
            f"postgresql+psycopg://{PRODUCTION_ROLE}:{PRODUCTION_PASSWORD}"
            f"@{HOST}:{stack.ports['postgresql']}/{DATABASE_NAME}"
        )
    finally:
        with postgres_connect(stack, DATABASE_NAME) as connection:
            connection.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {PRODUCTION_ROLE}")
            connection.execute(f"DROP ROLE IF EXISTS {PRODUCTION_ROLE}")


@pytest.mark.parametrize("script", ["run_api.py", "run_worker.py"])
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SBS_API_TOKEN": "dev-token"}, "SBS_API_TOKEN"),
        ({"SBS_API_TOKEN": "short"}, "SBS_API_TOKEN"),
        ({"SBS_API_TOKEN": PRODUCTION_TOKEN, "DATABASE_URL": ""}, "DATABASE_PASSWORD"),
        ({"SBS_API_TOKEN": PRODUCTION_TOKEN}, "DATABASE_URL"),  # the stack's URL: `secret`
    ],
    ids=["dev-token", "5-character-token", "password-secret", "url-with-secret"],
)
def test_production_refuses_local_secrets_naming_the_variable(
    stack: StackConfig, script: str, variables: dict[str, str], named: str
) -> None:
    server = start_api(stack, script=script, SBS_ENVIRONMENT="production", **variables)
    try:
        exit_code = server.process.wait(30)
        output = server.output()
    finally:
        server.stop()
        server.log.unlink(missing_ok=True)
    assert exit_code != 0
    assert named in output
    assert "SBS_ENVIRONMENT=production" in output
    assert PRODUCTION_TOKEN not in output


def test_production_with_real_secrets_serves_and_guards_the_demos(
    stack: StackConfig, production_database_url: str
) -> None:
    closed_port = free_ports(1)[0]  # nothing listens there: NATS is "down" for this API
    with api_process(
        stack,
        SBS_ENVIRONMENT="production",
        SBS_API_TOKEN=PRODUCTION_TOKEN,
        DATABASE_URL=production_database_url,
        NATS_URL=f"nats://user:nats-password@{HOST}:{closed_port}",
    ) as server:
        server.wait_ready()
        with server.client() as client:
            assert client.get("/settings/core.version").status_code == 200
            token = {"Authorization": f"Bearer {PRODUCTION_TOKEN}"}
            for path, body in (("/redis/test", {"key": "prod"}), ("/test-workflow", {})):
                assert client.post(path, json=body).status_code == 401
                assert client.post(path, json=body, headers=token).status_code < 300

            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["checks"]["nats"]["error"] in (
                "connection refused",
                "timeout",
                "unavailable",
            )
            failed = client.post("/nats/test", json={}, headers=token)
            assert failed.status_code == 503
            for text in (health.text, failed.text):
                assert str(closed_port) not in text
                assert HOST not in text
        log = server.output()
    assert "nats-password" not in log
    assert PRODUCTION_PASSWORD not in log
    assert "dependency nats is down" in log  # the full error goes to the log


def test_local_environment_keeps_the_spec_calls_open(api: httpx.Client) -> None:
    assert api.post("/redis/test", json={"key": "open"}).status_code == 200
    assert api.post("/nats/test", json={"message": "open"}).status_code == 200


def without_tls_warnings(log: str) -> list[tuple[str, str]]:
    """(level, dependency) of each "reached without TLS" line in a JSON log."""
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [
        (record["level"], record["dependency"])
        for record in records
        if "reached without TLS" in record.get("message", "")
    ]


@pytest.mark.parametrize("script", ["run_api.py", "run_worker.py"])
def test_production_warns_once_per_dependency_reached_without_tls(
    stack: StackConfig, production_database_url: str, script: str
) -> None:
    """The stack's servers are all plain: each of the four is named in one warning line."""
    health_port, metrics_port = free_ports(2)
    server = start_api(
        stack,
        script=script,
        SBS_ENVIRONMENT="production",
        SBS_API_TOKEN=PRODUCTION_TOKEN,
        DATABASE_URL=production_database_url,
        LOG_FORMAT="json",
        WORKER_HEALTH_PORT=str(health_port),
        WORKER_METRICS_PORT=str(metrics_port),
    )
    try:
        started = "api ready" if script == "run_api.py" else "worker started"
        log = poll(server.output, lambda text: started in text, 60)
    finally:
        server.stop()
        server.log.unlink(missing_ok=True)
    assert started in log, log
    assert sorted(without_tls_warnings(log)) == [
        ("WARNING", "nats"),
        ("WARNING", "postgresql"),
        ("WARNING", "redis"),
        ("WARNING", "temporal"),
    ], log
