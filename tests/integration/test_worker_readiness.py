"""Worker readiness against the real Temporal server: ready only once the server has seen
this worker's pollers on the configured task queue; not ready while Temporal is frozen
(liveness stays 200); ready again after; a worker polling another queue is never ready."""

import asyncio
import uuid

import httpx
import pytest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from app.activities.test_activity import compose_greeting
from app.temporal.readiness import PollerReadiness
from app.workflows.test_workflow import TestWorkflow
from devstack.config import HOST, StackConfig, free_ports
from tests.integration.helpers import frozen
from tests.waiting import wait_for

NOT_READY_WITHIN_SECONDS = 30
READY_AGAIN_WITHIN_SECONDS = 30


def probe(stack: StackConfig, path: str) -> int:
    try:
        return httpx.get(stack.url("worker_health", path), timeout=2).status_code
    except httpx.TransportError:
        return 0


def test_the_stack_worker_is_ready_turns_not_ready_when_temporal_freezes_and_recovers(
    stack: StackConfig,
) -> None:
    wait_for(lambda: probe(stack, "/health/ready") == 200, 30)
    with frozen(stack, "temporal"):
        wait_for(
            lambda: probe(stack, "/health/ready") == 503, NOT_READY_WITHIN_SECONDS, interval=0.5
        )
        assert probe(stack, "/health/live") == 200  # a Temporal outage restarts no worker
    wait_for(lambda: probe(stack, "/health/ready") == 200, READY_AGAIN_WITHIN_SECONDS, interval=0.5)


def test_the_worker_publishes_its_pollers_and_binds_to_loopback(stack: StackConfig) -> None:
    metrics = httpx.get(stack.worker_metrics_url, timeout=5).text
    assert "sbs_worker_pollers{" in metrics
    assert 'task_type="workflow"' in metrics
    assert 'task_type="activity"' in metrics
    with open("/proc/net/tcp") as table:
        listening = [line.split() for line in table.read().splitlines()[1:]]
    ports = {stack.ports["worker_health"], stack.ports["worker_metrics"]}
    bound = {
        int(local.split(":")[1], 16): local.split(":")[0]
        for _, local, _, state, *_ in listening
        if state == "0A"  # LISTEN
    }
    for port in ports:
        assert bound[port] == "0100007F", f"port {port} bound to {bound.get(port)}, not 127.0.0.1"


@pytest.mark.parametrize("polled_queue_is_the_checked_one", [True, False])
async def test_ready_only_for_the_task_queue_it_polls(
    stack: StackConfig, polled_queue_is_the_checked_one: bool
) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"{HOST}:{free_ports(1)[0]}")
        )
    )
    identity = f"readiness-test-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(
        f"{HOST}:{stack.ports['temporal']}", runtime=runtime, identity=identity
    )
    polled = f"polled-{uuid.uuid4().hex[:8]}"
    checked = polled if polled_queue_is_the_checked_one else f"configured-{uuid.uuid4().hex[:8]}"
    readiness = PollerReadiness(client, checked, identity, runtime.metric_meter)
    assert not await readiness.check()  # nothing polls yet
    worker = Worker(
        client, task_queue=polled, workflows=[TestWorkflow], activities=[compose_greeting]
    )
    async with worker:
        verdicts = []
        for _ in range(20):
            verdicts.append(await readiness.check())
            if verdicts[-1]:
                break
            await asyncio.sleep(0.5)
    assert any(verdicts) is polled_queue_is_the_checked_one
