"""Proves alerts reach someone on the live stack: killing a dependency (SIGKILL of its process
group) makes its "down" alert, naming it, arrive in the stack's Alertmanager through the
stack's Prometheus and exporters; after `make up` brings it back the alert resolves (leaves
Alertmanager's active alerts). While Temporal is down the worker's failing polls raise
SbsWorkersNotPolling too, and Alertmanager holds it back (inhibited by SbsTemporalDown). The
test stack evaluates every second and scales the rules' `for:` holds with it (1m -> 4s,
devstack.observability.render_rules)."""

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack import process
from devstack.config import StackConfig
from devstack.stack import up
from tests.waiting import wait_for

ALERTS = {
    "redis": "SbsRedisDown",
    "nats": "SbsNatsDown",
    "temporal": "SbsTemporalDown",
    "postgresql": "SbsPostgresqlDown",
}
# Scrape (1 s) + hold (4 s) + evaluation (1 s) + delivery; generous for a loaded machine.
ARRIVAL_SECONDS = 60
RESOLVE_SECONDS = 60
INHIBITION_SECONDS = 10
RECOVERY_SECONDS = 30
WORKER_RESUME_SECONDS = 30


@pytest.fixture(scope="module")
def alertmanager(stack: StackConfig) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.alertmanager_url, timeout=10) as client:
        yield client


def active_alerts(alertmanager: httpx.Client, alertname: str) -> list[dict[str, Any]]:
    response = alertmanager.get("/api/v2/alerts", params={"filter": f'alertname="{alertname}"'})
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()
    return alerts


def kill(stack: StackConfig, service: str) -> None:
    pid = process.running_pid(stack.state_dir, service)
    assert pid is not None, f"{service} is not running"
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not process.is_alive(pid), 10, f"{service} to die")


def check_symptom_is_inhibited(alertmanager: httpx.Client, symptom: str) -> None:
    """The worker's polls fail while Temporal is down: that alert arrives too, but the
    dependency's alert inhibits it (no second page for one outage)."""
    wait_for(
        lambda: bool(active_alerts(alertmanager, symptom)),
        ARRIVAL_SECONDS,
        f"{symptom} to arrive in Alertmanager",
    )
    wait_for(
        lambda: all(
            a["status"]["state"] == "suppressed" for a in active_alerts(alertmanager, symptom)
        ),
        INHIBITION_SECONDS,
        f"{symptom} to be inhibited",
    )
    for alert in active_alerts(alertmanager, symptom):
        assert alert["status"]["inhibitedBy"], alert


def workflow_completes(api: httpx.Client) -> bool:
    started = api.post("/test-workflow", params={"wait": "true"}, json={"name": "after-outage"})
    return started.status_code == 202 and started.json().get("status") == "COMPLETED"


@pytest.mark.parametrize("dependency", list(ALERTS))
def test_killed_dependency_alerts_in_alertmanager_and_resolves(
    stack: StackConfig, api: httpx.Client, alertmanager: httpx.Client, dependency: str
) -> None:
    alertname = ALERTS[dependency]
    wait_for(
        lambda: not active_alerts(alertmanager, alertname),
        RESOLVE_SECONDS,
        f"{alertname} to be clear before the outage",
    )
    kill(stack, dependency)
    try:
        arrived = wait_for(
            lambda: bool(active_alerts(alertmanager, alertname)),
            ARRIVAL_SECONDS,
            f"{alertname} to arrive in Alertmanager",
        )
        (alert,) = active_alerts(alertmanager, alertname)
        assert alert["labels"]["dependency"] == dependency
        assert alert["labels"]["severity"] == "critical"
        assert alert["status"]["state"] == "active", alert
        assert alert["receivers"] == [{"name": "default"}]
        print(f"{alertname} arrived {arrived:.1f}s after the kill")
        if dependency == "temporal":
            check_symptom_is_inhibited(alertmanager, "SbsWorkersNotPolling")
    finally:
        up(stack)
    resolved = wait_for(
        lambda: not active_alerts(alertmanager, alertname),
        RESOLVE_SECONDS,
        f"{alertname} to resolve after recovery",
    )
    print(f"{alertname} resolved {resolved:.1f}s after the restart")
    wait_for(lambda: api.get("/health").status_code == 200, RECOVERY_SECONDS, "API healthy")
    if dependency == "temporal":  # later tests need a worker that polls again
        wait_for(lambda: workflow_completes(api), WORKER_RESUME_SECONDS, "a workflow to complete")
