"""Worker Versioning on the real Temporal dev server (the test stack's): a rollout cannot strand
a run, and a non-determinism that reaches a worker anyway is logged with its workflow and counted.

The rollout is the one docs/releases.md ("Версионирование воркеров") describes: version 1 serves a
waiting, pinned ApprovalWorkflow; version 2 (a changed workflow) starts and is made current with
the documented step (`python -m app.temporal.rollout promote`); new runs go to version 2, the
waiting run finishes on version 1 (every task of its history completed by v1's build id), and
version 1 reports drained (`rollout drained`, exit code 0) once that run closed, so it can be
stopped.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import Worker, WorkerDeploymentConfig

from app.activities.test_activity import compose_greeting
from app.temporal.registration import WORKFLOWS
from app.temporal.rollout import (
    NOT_YET,
    STILL_NEEDED_EXIT_CODE,
    VersionState,
    promote,
    version_state,
)
from app.workflows.approval_workflow import ApprovalInput, ApprovalWorkflow
from devstack.config import HOST, PROJECT_ROOT, StackConfig, free_ports
from devstack.workflow_history import record
from tests.integration.helpers import stack_variables
from tests.waiting import poll_async
from tests.workflow_mutations import ApprovalWorkflowReorderedAutoUpgrade, ApprovalWorkflowV2
from tests.workflow_replay import recorded_histories, replay_failure

PROMOTE_WITHIN_SECONDS = 60
# The dev server re-checks drainage every 2 s after a 5 s grace (devstack/servers/temporal.py);
# visibility and a loaded machine add to that.
DRAINED_WITHIN_SECONDS = 90
RESULT_WITHIN_SECONDS = 60
REPORTED_WITHIN_SECONDS = 60


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def versioned_worker(
    client: Client, deployment: str, build_id: str, queue: str, workflow: type
) -> Worker:
    version = WorkerDeploymentVersion(deployment_name=deployment, build_id=build_id)
    return Worker(
        client,
        task_queue=queue,
        workflows=[workflow],
        activities=[compose_greeting],
        deployment_config=WorkerDeploymentConfig(version=version, use_worker_versioning=True),
    )


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        await worker.shutdown()
        await task


async def completed_by(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """The build ids that completed the run's workflow tasks (from its history)."""
    history = await handle.fetch_history()
    return {
        event.workflow_task_completed_event_attributes.deployment_version.build_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    }


def rollout(
    stack: StackConfig, deployment: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """The documented rollout step, as the Helm chart's hook and an operator run it."""
    environment = {
        **os.environ,
        "TEMPORAL_HOST": HOST,
        "TEMPORAL_PORT": str(stack.ports["temporal"]),
        "TEMPORAL_DEPLOYMENT_NAME": deployment,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.temporal.rollout", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PROMOTE_WITHIN_SECONDS + 30,
        check=False,
    )


async def test_a_pinned_run_finishes_on_its_version_while_new_runs_go_to_the_next(
    stack: StackConfig,
) -> None:
    client = await Client.connect(f"{HOST}:{stack.ports['temporal']}")
    deployment, queue = unique("rollout"), unique("rollout")
    v1 = versioned_worker(client, deployment, "v1", queue, ApprovalWorkflow)
    v2 = versioned_worker(client, deployment, "v2", queue, ApprovalWorkflowV2)
    async with running(v1):
        await promote(client, deployment, "v1", wait_seconds=PROMOTE_WITHIN_SECONDS)
        waiting = await client.start_workflow(
            ApprovalWorkflow.run, ApprovalInput(name="Ada"), id=unique("pinned"), task_queue=queue
        )
        # Its first task ran on v1: the run is pinned there and waits for approval.
        assert await poll_async(lambda: completed_by(waiting), bool, RESULT_WITHIN_SECONDS) == {
            "v1"
        }
        async with running(v2):
            promoted = await asyncio.to_thread(
                rollout, stack, deployment, "promote", "--build-id", "v2"
            )
            assert promoted.returncode == 0, promoted.stdout + promoted.stderr
            fresh = await client.start_workflow(
                ApprovalWorkflow.run, ApprovalInput(name="Bob"), id=unique("new"), task_queue=queue
            )
            await fresh.signal(ApprovalWorkflow.approve, "Grace")
            assert await asyncio.wait_for(fresh.result(), RESULT_WITHIN_SECONDS) == (
                "v2: Hello, Bob! (approved by Grace)"
            )
            assert await completed_by(fresh) == {"v2"}

            still_needed = await asyncio.to_thread(
                rollout, stack, deployment, "drained", "--build-id", "v1"
            )
            assert still_needed.returncode == STILL_NEEDED_EXIT_CODE, still_needed.stdout
            assert "open pinned runs 1" in still_needed.stdout

            await waiting.signal(ApprovalWorkflow.approve, "Linus")
            assert await asyncio.wait_for(waiting.result(), RESULT_WITHIN_SECONDS) == (
                "Hello, Ada! (approved by Linus)"
            )
            assert await completed_by(waiting) == {"v1"}  # v2's code never touched it

            def drained(state: VersionState) -> bool:
                return state.drained and state.drainage == "DRAINED"

            state = await poll_async(
                lambda: version_state(client, deployment, "v1"),
                drained,
                DRAINED_WITHIN_SECONDS,
                interval=1,
            )
            assert drained(state), state
            verdict = await asyncio.to_thread(
                rollout, stack, deployment, "drained", "--build-id", "v1"
            )
            assert verdict.returncode == 0, verdict.stdout + verdict.stderr
            assert "drained: its workers can be removed" in verdict.stdout
        # v1 stopped above (drained); v2 went on serving — and after it, a run still finishes.
    async with running(versioned_worker(client, deployment, "v2", queue, ApprovalWorkflowV2)):
        last = await client.start_workflow(
            ApprovalWorkflow.run, ApprovalInput(name="Eve"), id=unique("after"), task_queue=queue
        )
        await last.signal(ApprovalWorkflow.approve, "Ken")
        assert (await asyncio.wait_for(last.result(), RESULT_WITHIN_SECONDS)).startswith("v2: ")


def start_real_worker(
    stack: StackConfig, log: Path, **variables: str
) -> tuple[subprocess.Popen[bytes], str]:
    """run_worker.py against the stack's Temporal; returns the process and its metrics URL."""
    health_port, metrics_port = free_ports(2)
    environment = {
        **os.environ,
        **stack.app_environment(),
        "WORKER_HEALTH_PORT": str(health_port),
        "WORKER_METRICS_PORT": str(metrics_port),
        "LOG_FORMAT": "json",
        **variables,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "run_worker.py")],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://{HOST}:{metrics_port}/metrics"


def reported(log: Path, workflow_id: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [
        record
        for record in records
        if record.get("level") == "ERROR"
        and "non-determinism" in str(record.get("message"))
        and record.get("workflow_id") == workflow_id
    ]


async def test_a_worker_hitting_a_nondeterminism_logs_the_workflow_id_and_counts_it(
    stack: StackConfig, tmp_path: Path
) -> None:
    """An auto-upgrading run started by old code (greeting, then the wait) moves to the real
    worker's version (the wait first): replaying its history there is a real non-determinism."""
    client = await Client.connect(f"{HOST}:{stack.ports['temporal']}")
    deployment, queue = unique("nondeterminism"), unique("nondeterminism")
    old = versioned_worker(client, deployment, "old", queue, ApprovalWorkflowReorderedAutoUpgrade)
    async with running(old):
        await promote(client, deployment, "old", wait_seconds=PROMOTE_WITHIN_SECONDS)
        run = await client.start_workflow(
            ApprovalWorkflow.run, ApprovalInput(name="Ada"), id=unique("broken"), task_queue=queue
        )

        async def greeted() -> bool:
            history = await run.fetch_history()
            done = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            return any(event.event_type == done for event in history.events)

        assert await poll_async(greeted, bool, RESULT_WITHIN_SECONDS)
    log = tmp_path / "worker.log"
    worker, metrics_url = start_real_worker(
        stack,
        log,
        TEMPORAL_TASK_QUEUE=queue,
        TEMPORAL_DEPLOYMENT_NAME=deployment,
        TEMPORAL_WORKER_BUILD_ID="new",
    )
    try:
        # The real worker makes itself current; the signal gives the run a task to replay there.
        async def current() -> bool:
            try:
                return (await version_state(client, deployment, "new")).status == "CURRENT"
            except RPCError as error:  # not polled yet, or asked too often while it promotes
                if error.status not in NOT_YET:
                    raise
                return False

        assert await poll_async(current, bool, PROMOTE_WITHIN_SECONDS, interval=2), log.read_text()
        await run.signal(ApprovalWorkflow.approve, "Linus")
        lines = await poll_async(
            lambda: asyncio.to_thread(reported, log, run.id), bool, REPORTED_WITHIN_SECONDS
        )
        assert lines, log.read_text()[-3000:]
        assert lines[0]["workflow_type"] == "ApprovalWorkflow"
        assert lines[0]["run_id"] == run.result_run_id
        assert "Nondeterminism" in str(lines[0]["failure"])
        async with httpx.AsyncClient(timeout=5) as http:
            metrics = (await http.get(metrics_url)).text
        failed = [
            line
            for line in metrics.splitlines()
            if line.startswith("temporal_workflow_task_execution_failed{")
            and 'failure_reason="NonDeterminismError"' in line
            and f'task_queue="{queue}"' in line
        ]
        assert failed, "\n".join(seen for seen in metrics.splitlines() if "failed" in seen)
        assert float(failed[0].rsplit(" ", 1)[1]) >= 1
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        await run.terminate("ended by the test")


def test_make_workflow_history_records_a_run_that_replays(
    stack: StackConfig, api: httpx.Client, tmp_path: Path
) -> None:
    """`make workflow-history` against a running stack writes the run's history where the replay
    test reads it, and that file replays with the registered workflows."""
    started = api.post("/test-workflow?wait=true", json={"name": "Recorded"})
    assert started.json()["status"] == "COMPLETED", started.text
    workflow_id = started.json()["workflow_id"]
    address = f"{HOST}:{stack.ports['temporal']}"
    path = record(address, workflow_id, "recorded", tmp_path)
    assert path == tmp_path / "TestWorkflow" / "recorded.json"
    (recorded,) = recorded_histories(tmp_path)
    assert recorded.closed
    assert asyncio.run(replay_failure(WORKFLOWS, recorded)) is None
    # The Make target itself, as a developer types it beside the stack.
    environment = {**stack_variables(stack), "PATH": os.environ["PATH"]}
    target = subprocess.run(
        ["make", "--no-print-directory", f"VENV={Path(sys.executable).parent.parent}",
         "workflow-history", "WORKFLOW_ID=no-such-run", "NAME=x"],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert target.returncode != 0
    assert "cannot record no-such-run" in target.stderr
    assert "workflow not found" in target.stderr
