"""Outages: with a dependency killed (SIGKILL, no clean shutdown), /health turns 503 naming it
and other routes keep answering; after `make up` restarts it, the same API process is healthy
again."""

import time

import httpx
import pytest

from app.config import Settings
from devstack import process
from devstack.config import StackConfig
from devstack.stack import up
from tests.integration.helpers import kill
from tests.waiting import wait_for

RECOVERY_SECONDS = 15
# The worker's pollers back off while Temporal is down (measured: up to 7.4 s to resume after
# 2-8 s outages), so a workflow started right after recovery may outlive one request's wait.
WORKER_RESUME_SECONDS = 30
HEALTH_CHECK_TIMEOUT = Settings().health_check_timeout

# The route that needs each dependency, and what it must answer while that dependency is down.
DEPENDENT_CALLS = {
    "postgresql": ("GET", "/settings/core.version", None),
    "redis": ("POST", "/redis/test", {"key": "outage", "value": "v"}),
    "nats": ("POST", "/nats/test", {"message": "outage"}),
    "temporal": ("POST", "/test-workflow?wait=true", {"name": "Outage"}),
}


def workflow_status(api: httpx.Client, workflow_id: str) -> str:
    response = api.get(f"/test-workflow/{workflow_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


@pytest.mark.parametrize("dependency", ["redis", "nats", "temporal", "postgresql"])
def test_outage_is_reported_and_heals(
    stack: StackConfig, api: httpx.Client, dependency: str
) -> None:
    api_pid = process.running_pid(stack.state_dir, "api")
    assert api.get("/health").status_code == 200
    kill(stack, dependency)
    try:
        started = time.monotonic()
        response = api.get("/health")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["failing"] == [dependency]
        assert body["checks"][dependency]["status"] == "down"
        assert body["checks"][dependency]["error"]
        assert elapsed < HEALTH_CHECK_TIMEOUT + 1  # each check is bounded by its timeout
        assert api.get("/version").status_code == 200
        assert api.get("/health/live").status_code == 200

        method, path, payload = DEPENDENT_CALLS[dependency]
        failed = api.request(method, path, json=payload)
        assert failed.status_code == 503, failed.text
        assert failed.json()["dependency"] == dependency
        assert dependency in failed.json()["detail"]
    finally:
        up(stack)
    wait_for(lambda: api.get("/health").status_code == 200, RECOVERY_SECONDS)
    method, path, payload = DEPENDENT_CALLS[dependency]
    recovered = api.request(method, path, json=payload)
    assert recovered.status_code < 300, recovered.text
    if dependency == "temporal":  # the worker reconnected too: the workflow runs to the end
        workflow_id = recovered.json()["workflow_id"]
        wait_for(lambda: workflow_status(api, workflow_id) == "COMPLETED", WORKER_RESUME_SECONDS)
    assert process.running_pid(stack.state_dir, "api") == api_pid
