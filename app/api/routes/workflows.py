"""`/test-workflow`: start TestWorkflow on the worker's queue and follow it."""

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, status
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema
from temporalio.client import WorkflowExecutionStatus

from app.api.auth import audit, scoped
from app.api.deps import ServicesDep
from app.api.responses import BODY_ERRORS, described
from app.api.routing import JsonBodyRoute
from app.services.identity import WORKFLOWS_START, Caller
from app.services.temporal import WorkflowNotFoundError, WorkflowOutcome
from app.workflows.test_workflow import TestWorkflow, TestWorkflowInput

router = APIRouter(prefix="/test-workflow", tags=["workflows"], route_class=JsonBodyRoute)

WORKFLOW_EXECUTION_TIMEOUT = timedelta(minutes=5)
WorkflowId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,200}$")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="Retry-safe start: the same key returns the same workflow run.",
    ),
]
IDEMPOTENT_ID_PREFIX = "test-workflow-key-"
# Closed runs whose result (or failure) the server holds; a continued-as-new run has neither.
CLOSED_WITH_OUTCOME = {
    WorkflowExecutionStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.CANCELED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
}

# The SDK's enum, shown by name: RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED, ...
WorkflowStatus = Annotated[
    WorkflowExecutionStatus,
    PlainSerializer(lambda status: status.name, return_type=str),
    WithJsonSchema({"type": "string", "enum": [status.name for status in WorkflowExecutionStatus]}),
]


class StartWorkflow(BaseModel):
    name: str = Field(default="Demo", min_length=1, max_length=100, examples=["Demo"])


class WorkflowRun(BaseModel):
    """One run of TestWorkflow: a completed run carries its `result`, one that closed otherwise
    the `error` that ended it."""

    workflow_id: str
    run_id: str
    task_queue: str
    status: WorkflowStatus | None = Field(description="null only if the server reports none")
    result: Any = None
    error: str | None = None

    def settle(self, outcome: WorkflowOutcome) -> "WorkflowRun":
        return self.model_copy(
            update={"status": outcome.status, "result": outcome.result, "error": outcome.error}
        )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses=described(*BODY_ERRORS, 401, 403, 503),
)
async def start_test_workflow(
    services: ServicesDep,
    caller: Annotated[Caller, scoped(WORKFLOWS_START, open_locally=True)],
    body: Annotated[StartWorkflow | None, Body()] = None,
    wait: Annotated[
        bool, Query(description="Wait for the result (up to REQUEST_TIMEOUT).")
    ] = False,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowRun:
    """Start TestWorkflow; with `wait=true` the answer carries its result."""
    request = body or StartWorkflow()
    settings = services.settings
    if idempotency_key is None:
        workflow_id = f"test-workflow-{uuid.uuid4()}"
    else:
        workflow_id = IDEMPOTENT_ID_PREFIX + idempotency_key
    handle = await services.temporal.start_workflow(
        TestWorkflow.run,
        TestWorkflowInput(name=request.name),
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
        execution_timeout=WORKFLOW_EXECUTION_TIMEOUT,
    )
    audit("workflow.start", caller, workflow_id=handle.id)
    run = WorkflowRun(
        workflow_id=handle.id,
        run_id=handle.result_run_id or "",
        task_queue=settings.temporal_task_queue,
        status=WorkflowExecutionStatus.RUNNING,
    )
    if wait:
        run = run.settle(await services.temporal.outcome(handle, settings.request_timeout))
    return run


@router.get("/{workflow_id}", responses=described(404, 422, 503))
async def get_test_workflow(workflow_id: WorkflowId, services: ServicesDep) -> WorkflowRun:
    """Status of a workflow's latest run and, once it closed, its result or error."""
    try:
        description = await services.temporal.describe(workflow_id)
    except WorkflowNotFoundError as error:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"workflow '{workflow_id}' not found"
        ) from error
    run = WorkflowRun(
        workflow_id=workflow_id,
        run_id=description.run_id,
        task_queue=description.task_queue,
        status=description.status,
    )
    if description.status in CLOSED_WITH_OUTCOME:
        client = await services.temporal.client()
        handle = client.get_workflow_handle_for(
            TestWorkflow.run, workflow_id, run_id=description.run_id
        )
        run = run.settle(await services.temporal.outcome(handle, services.settings.request_timeout))
    return run
