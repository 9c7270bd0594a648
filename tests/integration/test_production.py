"""SBS_ENVIRONMENT=production: the API and the worker refuse the local secrets, naming the
variable; with real secrets the API starts, guards the demo endpoints with the token, and
its public bodies name a failing dependency's cause without topology or driver text. Access:
/settings needs a token, JWTs of a test IdP (JWKS on loopback) are checked and their scopes
decide, keys and static tokens rotate, and every write leaves an audit line naming its caller."""

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from devstack.config import DATABASE_NAME, HOST, StackConfig, free_ports
from devstack.servers.postgres import connect as postgres_connect
from tests.identity_provider import TestIdentityProvider, hmac_with_public_key, unsigned_token
from tests.integration.helpers import ApiProcess, api_process, start_api
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
            token = {"Authorization": f"Bearer {PRODUCTION_TOKEN}"}
            assert client.get("/settings/core.version").status_code == 401
            assert client.get("/settings/core.version", headers=token).status_code == 200
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


READ_ONLY = "settings:read"
READ_WRITE = "settings:read settings:write workflows:start"
# Short so the test sees a rotation quickly; the defaults are 300 s and 10 s.
JWKS_CACHE_SECONDS = 3.0
JWKS_REFRESH_INTERVAL = 0.5
JWKS_TIMEOUT = 1.0
REQUEST_TIMEOUT = 5.0
SECOND_TOKEN = secrets.token_urlsafe(32)


@pytest.fixture
def identity_provider() -> Iterator[TestIdentityProvider]:
    provider = TestIdentityProvider()
    try:
        yield provider
    finally:
        provider.close()


def production_api(
    stack: StackConfig, database_url: str, provider: TestIdentityProvider, tokens: str
) -> AbstractContextManager[ApiProcess]:
    return api_process(
        stack,
        SBS_ENVIRONMENT="production",
        SBS_API_TOKEN=tokens,
        DATABASE_URL=database_url,
        REQUEST_TIMEOUT=str(REQUEST_TIMEOUT),
        **provider.settings(
            OIDC_JWKS_CACHE_SECONDS=str(JWKS_CACHE_SECONDS),
            OIDC_JWKS_REFRESH_INTERVAL=str(JWKS_REFRESH_INTERVAL),
            OIDC_JWKS_TIMEOUT=str(JWKS_TIMEOUT),
        ),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_lines(log: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "sbs.audit"]


def test_production_settings_need_a_token_and_jwt_scopes_decide(
    stack: StackConfig, production_database_url: str, identity_provider: TestIdentityProvider
) -> None:
    idp = identity_provider
    kid = idp.add_key("RSA")
    reader = bearer(idp.token(kid, READ_ONLY, sub="reporting-service"))
    writer = bearer(idp.token(kid, READ_WRITE, sub="deploy-bot"))
    key = f"tests.audited_{uuid.uuid4().hex[:8]}"
    with production_api(stack, production_database_url, idp, PRODUCTION_TOKEN) as server:
        server.wait_ready()
        with server.client() as client:
            for path in ("/settings", "/settings/core.version"):
                anonymous = client.get(path)
                assert anonymous.status_code == 401, anonymous.text
                assert anonymous.headers["WWW-Authenticate"] == "Bearer"

            assert client.get("/settings/core.version", headers=reader).status_code == 200
            assert client.get("/settings", headers=reader).status_code == 200
            denied = client.put(f"/settings/{key}", json={"value": 1}, headers=reader)
            assert denied.status_code == 403
            assert "settings:write" in denied.json()["detail"]
            assert 'scope="settings:write"' in denied.headers["WWW-Authenticate"]
            assert client.post("/test-workflow", json={}, headers=reader).status_code == 403

            written = client.put(f"/settings/{key}", json={"value": 1}, headers=writer)
            assert written.status_code == 201, written.text
            deleted = client.delete(f"/settings/{key}", headers=writer)
            assert deleted.status_code == 204
            started = client.post("/test-workflow", json={}, headers=writer)
            assert started.status_code == 202, started.text
            static = client.put(
                f"/settings/{key}", json={"value": 2}, headers=bearer(PRODUCTION_TOKEN)
            )
            assert static.status_code == 201
            assert client.delete(f"/settings/{key}", headers=bearer(PRODUCTION_TOKEN)).is_success

        expected = [
            ("settings.put", "deploy-bot", "key", key, written),
            ("settings.delete", "deploy-bot", "key", key, deleted),
            ("workflow.start", "deploy-bot", "workflow_id", started.json()["workflow_id"], started),
            ("settings.put", "static-token", "key", key, static),
        ]
        lines = poll(lambda: audit_lines(server.output()), lambda seen: len(seen) >= 5, 10)
        log = server.output()
    assert len(lines) == 5, lines  # one line per write, none for reads or refusals
    for (action, subject, field, target, response), line in zip(expected, lines, strict=False):
        assert line["audit"] == action
        assert line["subject"] == subject
        assert line[field] == target
        assert line["request_id"] == response.headers["X-Request-ID"]
    for token in (reader, writer, bearer(PRODUCTION_TOKEN)):
        assert token["Authorization"].split()[1] not in log


def test_production_refuses_bad_jwts_within_the_request_timeout_while_the_idp_hangs(
    stack: StackConfig, production_database_url: str, identity_provider: TestIdentityProvider
) -> None:
    idp = identity_provider
    kid = idp.add_key("RSA")
    now = int(time.time())
    refused = {
        "expired": idp.token(kid, READ_ONLY, exp=now - 120),
        "not-yet-valid": idp.token(kid, READ_ONLY, nbf=now + 120),
        "wrong-issuer": idp.token(kid, READ_ONLY, iss="https://evil.example.com"),
        "wrong-audience": idp.token(kid, READ_ONLY, aud="another-api"),
        "alg-none": unsigned_token(idp.claims(READ_ONLY), kid),
        "hs256-with-public-key": hmac_with_public_key(idp, kid, idp.claims(READ_ONLY)),
    }
    unknown = idp.add_key("EC")
    idp.withdraw(unknown)
    with production_api(stack, production_database_url, idp, PRODUCTION_TOKEN) as server:
        server.wait_ready()
        with server.client(timeout=REQUEST_TIMEOUT) as client:
            # The IdP answers: the unknown kid is looked up and not found.
            for case, token in {**refused, "unknown-kid": idp.token(unknown)}.items():
                response = client.get("/settings/core.version", headers=bearer(token))
                assert response.status_code == 401, (case, response.text)
                assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
            with idp.hanging():
                fetches = idp.fetches
                for case, token in refused.items():  # decided without asking the IdP
                    response = client.get("/settings/core.version", headers=bearer(token))
                    assert response.status_code == 401, (case, response.text)
                    assert response.elapsed.total_seconds() < REQUEST_TIMEOUT, case
                assert idp.fetches == fetches
                # A kid never seen cannot be checked while the IdP hangs: 503 naming it, not 401
                # (the token may well be valid), within OIDC_JWKS_TIMEOUT. Until the rate bound
                # of the last fetch has passed, the kid is simply unknown (401).
                rotated = idp.token(idp.add_key("EC"), READ_ONLY)
                response = poll(
                    lambda: client.get("/settings/core.version", headers=bearer(rotated)),
                    lambda answer: answer.status_code != 401,
                    10,
                    interval=0.1,
                )
                assert response.status_code == 503, response.text
                assert response.json()["dependency"] == "identity-provider"
                assert response.elapsed.total_seconds() < REQUEST_TIMEOUT
                # A key the API already holds keeps working while the IdP hangs.
                held = client.get("/settings", headers=bearer(idp.token(kid, READ_ONLY)))
                assert held.status_code == 200, held.text


def test_production_follows_key_rotation_and_static_token_rotation(
    stack: StackConfig, production_database_url: str, identity_provider: TestIdentityProvider
) -> None:
    idp = identity_provider
    old = idp.add_key("RSA")
    old_token = bearer(idp.token(old, READ_ONLY))

    def status(client: httpx.Client, headers: dict[str, str]) -> int:
        return client.get("/settings/core.version", headers=headers).status_code

    both = f"{PRODUCTION_TOKEN},{SECOND_TOKEN}"
    with production_api(stack, production_database_url, idp, both) as server:
        server.wait_ready()
        with server.client() as client:
            assert status(client, old_token) == 200
            new = idp.add_key("EC")  # the IdP rotates: a new kid, published and used at once
            new_token = bearer(idp.token(new, READ_ONLY))
            # Accepted without a restart, as soon as the rate bound of the last fetch allows one.
            assert poll(lambda: status(client, new_token), lambda code: code == 200, 5) == 200
            idp.withdraw(old)
            retired = poll(
                lambda: status(client, old_token), lambda code: code == 401, JWKS_CACHE_SECONDS + 5
            )
            assert retired == 401
            assert status(client, new_token) == 200
            for token in (PRODUCTION_TOKEN, SECOND_TOKEN):
                assert status(client, bearer(token)) == 200
    # The first static token leaves the Secret; the pods restart with the new list.
    with production_api(stack, production_database_url, idp, SECOND_TOKEN) as server:
        server.wait_ready()
        with server.client() as client:
            assert status(client, bearer(PRODUCTION_TOKEN)) == 401
            assert status(client, bearer(SECOND_TOKEN)) == 200


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
