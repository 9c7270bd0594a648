"""`/test-workflow` answers one model for every run, its status named by the SDK's
`WorkflowExecutionStatus`: running, completed with a `result`, or closed otherwise with the
`error` that ended it. Runs here are started on a task queue no worker polls, so they stay
running until the test ends them."""

import asyncio
import uuid

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from app.workflows.test_workflow import TestWorkflow, TestWorkflowInput
from devstack.config import HOST, StackConfig

RUN_FIELDS = {"workflow_id", "run_id", "task_queue", "status", "result", "error"}


@pytest.fixture
async def temporal(stack: StackConfig) -> Client:
    return await Client.connect(f"{HOST}:{stack.ports['temporal']}")


async def test_an_unpolled_run_is_running_then_terminated_with_its_error(
    temporal: Client, api: httpx.Client
) -> None:
    queue = f"unpolled-{uuid.uuid4().hex[:8]}"
    handle = await temporal.start_workflow(
        TestWorkflow.run, TestWorkflowInput(name="Nobody"), id=queue, task_queue=queue
    )
    # The in-process app serves from a thread of its own; its client blocks, so off this loop.
    running = await asyncio.to_thread(api.get, f"/test-workflow/{handle.id}")
    await handle.terminate(reason="ended by the test")
    terminated = (await asyncio.to_thread(api.get, f"/test-workflow/{handle.id}")).json()
    assert running.status_code == 200, running.text
    assert running.json() == {
        "workflow_id": handle.id,
        "run_id": handle.result_run_id,
        "task_queue": queue,
        "status": "RUNNING",
        "result": None,
        "error": None,
    }
    assert terminated["status"] == WorkflowExecutionStatus.TERMINATED.name
    assert terminated["result"] is None
    assert "TerminatedError" in terminated["error"], terminated


def test_started_and_completed_runs_have_the_same_fields(api: httpx.Client) -> None:
    started = api.post("/test-workflow", json={"name": "Shape"})
    assert started.status_code == 202, started.text
    waited = api.post("/test-workflow?wait=true", json={"name": "Shape"}).json()
    assert waited["status"] == "COMPLETED"
    assert waited["error"] is None
    described = api.get(f"/test-workflow/{waited['workflow_id']}").json()
    assert set(started.json()) == set(waited) == set(described) == RUN_FIELDS
    assert described == waited


def test_the_status_schema_lists_the_sdk_statuses(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()["components"]["schemas"]["WorkflowRun"]
    status = schema["properties"]["status"]
    (named,) = [option for option in status["anyOf"] if option.get("type") == "string"]
    assert named["enum"] == [status.name for status in WorkflowExecutionStatus]
