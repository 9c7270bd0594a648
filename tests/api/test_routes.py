"""Every endpoint of the API and its error paths: the app in process, on the real stack."""

import subprocess
import uuid

import httpx
import pytest
import redis

from app import __version__
from devstack.config import HOST, StackConfig
from devstack.servers.base import venv_binary
from tests.waiting import poll


def test_health_reports_every_dependency_up(api: httpx.Client) -> None:
    response = api.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"postgresql", "redis", "nats", "temporal"}
    for name, check in body["checks"].items():
        assert check["status"] == "up", name
        assert check["latency_ms"] >= 0


def test_ready_means_this_instance_takes_traffic_and_live_does_no_io(api: httpx.Client) -> None:
    ready = api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    assert api.get("/health/live").json() == {"status": "alive"}


def test_version_names_the_platform_version_and_a_build(api: httpx.Client) -> None:
    body = api.get("/version").json()
    assert body["version"] == __version__
    assert body["build"]
    assert isinstance(body["build"], str)


def test_core_version_setting_exists_after_migrations(api: httpx.Client) -> None:
    response = api.get("/settings/core.version")
    assert response.status_code == 200
    assert response.json()["value"] == __version__
    keys = [item["key"] for item in api.get("/settings").json()["items"]]
    assert "core.version" in keys


def test_platform_settings_are_read_only_through_the_api(
    api: httpx.Client, auth: dict[str, str]
) -> None:
    """`core.version` always names the running platform: no token holder may change it."""
    for response in (
        api.put("/settings/core.version", json={"value": "9.9.9"}, headers=auth),
        api.put("/settings/core.new_key", json={"value": 1}, headers=auth),
        api.delete("/settings/core.version", headers=auth),
    ):
        assert response.status_code == 403, response.text
        assert "managed by the platform" in response.json()["detail"]
    assert api.get("/settings/core.version").json()["value"] == __version__
    assert api.get("/settings/core.new_key").status_code == 404


def test_setting_lifecycle(api: httpx.Client, auth: dict[str, str]) -> None:
    key = f"tests.lifecycle_{uuid.uuid4().hex[:8]}"
    created = api.put(
        f"/settings/{key}", json={"value": {"a": [1, 2]}, "description": "d"}, headers=auth
    )
    assert created.status_code == 201, created.text
    assert created.json()["value"] == {"a": [1, 2]}
    first_update = created.json()["updated_at"]
    assert created.json()["created_at"] == first_update

    replaced = api.put(f"/settings/{key}", json={"value": None}, headers=auth)
    assert replaced.status_code == 200
    assert replaced.json()["value"] is None
    assert replaced.json()["description"] is None
    assert replaced.json()["updated_at"] >= first_update
    assert replaced.json()["created_at"] == created.json()["created_at"]

    assert api.get(f"/settings/{key}").json()["value"] is None
    assert api.delete(f"/settings/{key}", headers=auth).status_code == 204
    missing = api.get(f"/settings/{key}")
    assert missing.status_code == 404
    assert key in missing.json()["detail"]
    assert api.delete(f"/settings/{key}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, "Bearer"),
        ({"Authorization": "Bearer wrong"}, 'Bearer error="invalid_token"'),
        ({"Authorization": "Basic x"}, "Bearer"),
    ],
)
def test_writes_need_the_token(api: httpx.Client, headers: dict[str, str], challenge: str) -> None:
    """401 with the RFC 6750 challenge: `invalid_token` only when a token was sent."""
    response = api.put("/settings/tests.denied", json={"value": 1}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert api.delete("/settings/core.version", headers=headers).status_code == 401
    assert api.get("/settings/tests.denied").status_code == 404


@pytest.mark.parametrize(
    "key", ["Upper.case", "trailing.", ".leading", "a..b", "spaces here", "x" * 129, "dash-key"]
)
def test_invalid_keys_are_rejected_naming_the_key(api: httpx.Client, key: str) -> None:
    response = api.get(f"/settings/{key}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "key"]


def test_a_128_character_key_is_accepted(api: httpx.Client, auth: dict[str, str]) -> None:
    key = "k" * 128
    assert api.put(f"/settings/{key}", json={"value": 1}, headers=auth).status_code in (200, 201)
    assert api.delete(f"/settings/{key}", headers=auth).status_code == 204


def test_setting_body_errors_name_the_field(api: httpx.Client, auth: dict[str, str]) -> None:
    missing_value = api.put("/settings/tests.bad", json={"description": "x"}, headers=auth)
    assert missing_value.status_code == 422
    assert missing_value.json()["detail"][0]["loc"] == ["body", "value"]
    unknown = api.put("/settings/tests.bad", json={"value": 1, "extra": 2}, headers=auth)
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "extra"]
    broken = api.put(
        "/settings/tests.bad",
        content=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["detail"]


def test_workflow_runs_to_completion_on_the_worker(api: httpx.Client, stack: StackConfig) -> None:
    started = api.post("/test-workflow", json={"name": "Demo"})
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["workflow_id"].startswith("test-workflow-")
    assert body["run_id"]
    state = poll(
        lambda: api.get(f"/test-workflow/{body['workflow_id']}").json(),
        lambda state: state["status"] == "COMPLETED",
        30,
    )
    assert state["status"] == "COMPLETED", state
    assert state["result"] == "Hello, Demo!"
    assert state["run_id"] == body["run_id"]

    described = subprocess.run(
        [
            venv_binary("temporal"),
            "workflow",
            "describe",
            "--workflow-id",
            body["workflow_id"],
            "--address",
            f"{HOST}:{stack.ports['temporal']}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "Completed" in described.stdout or "COMPLETED" in described.stdout


def test_workflow_wait_returns_the_result(api: httpx.Client) -> None:
    body = api.post("/test-workflow?wait=true", json={"name": "Wait"}).json()
    assert body["status"] == "COMPLETED"
    assert body["result"] == "Hello, Wait!"


def test_workflow_errors(api: httpx.Client) -> None:
    assert api.get("/test-workflow/no-such-workflow").status_code == 404
    assert api.get("/test-workflow/bad%20id").status_code == 422
    empty_name = api.post("/test-workflow", json={"name": ""})
    assert empty_name.status_code == 422
    assert empty_name.json()["detail"][0]["loc"] == ["body", "name"]


def test_nats_round_trip_echoes_the_message(api: httpx.Client) -> None:
    body = api.post("/nats/test", json={"message": "ping"}).json()
    assert body["echo"] == "ping"
    assert body["sent"] == "ping"
    assert body["subject"] == "backup.test"


def test_redis_writes_and_reads_back(api: httpx.Client) -> None:
    body = api.post("/redis/test", json={"key": "demo", "value": "ok"}).json()
    assert body["value"] == "ok"
    assert body["stored_key"] == "sbs:test:demo"
    too_long_ttl = api.post("/redis/test", json={"key": "demo", "ttl_seconds": 0})
    assert too_long_ttl.status_code == 422
    assert too_long_ttl.json()["detail"][0]["loc"] == ["body", "ttl_seconds"]


# What Invoke-RestMethod sends for the README's calls (-Body '{...}', no -ContentType): POST is
# form-encoded in Windows PowerShell 5.1 and PowerShell 7; PUT carries no Content-Type at all in
# 5.1 and 7.0-7.3 and is form-encoded from 7.4 (PowerShell/PowerShell issue 16318 and its PR,
# MicrosoftDocs/PowerShell-Docs issue 9863; see DESIGN.md). Neither sends Origin or Sec-Fetch-*.
POWERSHELL_USER_AGENTS = {
    "5.1": "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.4522",
    "7.3": "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.3.12",
    "7.4": "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.6",
}
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("version", list(POWERSHELL_USER_AGENTS))
def test_the_readme_powershell_calls_work_as_powershell_sends_them(
    api: httpx.Client, auth: dict[str, str], version: str
) -> None:
    agent = {"User-Agent": POWERSHELL_USER_AGENTS[version]}
    post = {**agent, "Content-Type": FORM}
    put = (
        {**agent, **auth} if version in ("5.1", "7.3") else {**agent, **auth, "Content-Type": FORM}
    )
    echoed = api.post("/nats/test", content=b'{"message":"ping"}', headers=post)
    assert echoed.json()["echo"] == "ping"
    stored = api.post("/redis/test", content=b'{"key":"demo","value":"ok"}', headers=post)
    assert stored.json()["value"] == "ok"
    assert api.post("/test-workflow", content=b'{"name":"Demo"}', headers=post).status_code == 202
    written = api.put(
        "/settings/demo.greeting", content=b'{"value":"hello","description":"demo"}', headers=put
    )
    assert written.status_code in (200, 201), written.text
    assert written.json()["value"] == "hello"
    assert api.delete("/settings/demo.greeting", headers={**agent, **auth}).status_code == 204


def test_metrics_are_prometheus_text(api: httpx.Client) -> None:
    api.get("/version")
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_route="/version"' in response.text


def test_unknown_path_is_404_and_request_id_is_echoed(api: httpx.Client) -> None:
    response = api.get("/no/such/path", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/settings/tests.text", "PUT", r'{"value": "a\u0000b"}', "value"),
        ("/settings/tests.text", "PUT", r'{"value": {"k\u0000": 1}}', "value"),
        ("/settings/tests.text", "PUT", r'{"value": ["\udafb"]}', "value"),
        ("/settings/tests.text", "PUT", '{"value": [NaN]}', "value"),
        ("/settings/tests.text", "PUT", '{"value": 1e999}', "value"),
        ("/settings/tests.text", "PUT", r'{"value": 1, "description": "x\u0000"}', "description"),
        ("/nats/test", "POST", r'{"message": "\udafb"}', "message"),
        ("/redis/test", "POST", r'{"value": "\udafb"}', "value"),
        ("/redis/test", "POST", '{"ttl_seconds": NaN}', "ttl_seconds"),
        ("/test-workflow", "POST", r'{"name": "\udafb"}', "name"),
    ],
)
def test_values_no_store_can_hold_are_a_422_naming_the_field(
    api: httpx.Client, auth: dict[str, str], path: str, method: str, body: str, field: str
) -> None:
    """NUL, lone surrogates and NaN parse as JSON here but no store takes them: a client error,
    not an outage (503) or a crash (500)."""
    headers = {**auth, "Content-Type": "application/json"}
    response = api.request(method, path, content=body.encode(), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_demo_keys_expire_within_minutes_and_redis_evicts_only_keys_with_a_ttl(
    api: httpx.Client, stack: StackConfig
) -> None:
    assert api.post("/redis/test", json={"ttl_seconds": 601}).status_code == 422
    assert api.post("/redis/test", json={"key": "short", "ttl_seconds": 600}).status_code == 200
    store = redis.Redis(host=HOST, port=stack.ports["redis"], socket_timeout=5)
    assert 0 < store.ttl("sbs:test:short") <= 600
    assert store.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-ttl"}
    assert int(str(store.config_get("maxmemory")["maxmemory"])) > 0


EXPECTED_ERROR_STATUSES = {
    ("/health", "get"): {"503", "431"},
    ("/health/ready", "get"): {"503", "431"},
    ("/settings", "get"): {"401", "403", "422", "503", "431"},
    ("/settings/{key}", "get"): {"401", "403", "404", "422", "503", "431"},
    ("/settings/{key}", "put"): {"400", "401", "403", "413", "415", "422", "503", "431"},
    ("/settings/{key}", "delete"): {"401", "403", "404", "422", "503", "431"},
    ("/test-workflow", "post"): {"400", "401", "403", "413", "415", "422", "503", "431"},
    ("/test-workflow/{workflow_id}", "get"): {"404", "422", "503", "431"},
    ("/nats/test", "post"): {"400", "401", "403", "413", "415", "422", "503", "431"},
    ("/redis/test", "post"): {"400", "401", "403", "413", "415", "422", "503", "431"},
}


def test_openapi_lists_every_error_status_of_each_route(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for (path, method), statuses in EXPECTED_ERROR_STATUSES.items():
        documented = set(paths[path][method]["responses"])
        assert statuses <= documented, (path, method, statuses - documented)
