"""`/test-workflow`: start TestWorkflow on the worker's queue and follow it."""

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from app.api.deps import DemoAccess, ServicesDep
from app.api.responses import BODY_ERRORS, described
from app.api.routing import JsonBodyRoute
from app.config import Settings
from app.services.errors import DependencyUnavailableError, describe
from app.workflows.test_workflow import WORKFLOW_NAME, TestWorkflowInput

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


class StartWorkflow(BaseModel):
    name: str = Field(default="Demo", min_length=1, max_length=100, examples=["Demo"])


class WorkflowStarted(BaseModel):
    workflow_id: str
    run_id: str
    task_queue: str
    status: str
    result: Any = None


class WorkflowState(BaseModel):
    workflow_id: str
    run_id: str
    status: str
    result: Any = None
    error: str | None = None


def temporal_unavailable(error: BaseException) -> DependencyUnavailableError:
    return DependencyUnavailableError("temporal", describe(error))


async def start(
    client: Client, settings: Settings, name: str, idempotency_key: str | None
) -> tuple[WorkflowHandle[Any, Any], str]:
    """Start the workflow; with a key, a retry finds the run the first attempt started
    (running: Temporal's USE_EXISTING conflict policy; closed: a rejected duplicate)."""
    rpc_timeout = timedelta(seconds=settings.request_timeout)
    if idempotency_key is None:
        workflow_id = f"test-workflow-{uuid.uuid4()}"
    else:
        workflow_id = IDEMPOTENT_ID_PREFIX + idempotency_key
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            TestWorkflowInput(name=name),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            execution_timeout=WORKFLOW_EXECUTION_TIMEOUT,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            rpc_timeout=rpc_timeout,
        )
        return handle, handle.first_execution_run_id or ""
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id)
        try:
            description = await handle.describe(rpc_timeout=rpc_timeout)
        except RPCError as error:
            raise temporal_unavailable(error) from error
        run_id = description.run_id
        return client.get_workflow_handle(workflow_id, run_id=run_id), run_id
    except RPCError as error:
        raise temporal_unavailable(error) from error


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[DemoAccess],
    responses=described(*BODY_ERRORS, 401, 503),
)
async def start_test_workflow(
    services: ServicesDep,
    body: Annotated[StartWorkflow | None, Body()] = None,
    wait: Annotated[
        bool, Query(description="Wait for the result (up to REQUEST_TIMEOUT).")
    ] = False,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowStarted:
    """Start TestWorkflow; with `wait=true` the answer carries its result."""
    request = body or StartWorkflow()
    client = await services.temporal.client()
    settings = services.settings
    rpc_timeout = timedelta(seconds=settings.request_timeout)
    handle, run_id = await start(client, settings, request.name, idempotency_key)
    started = WorkflowStarted(
        workflow_id=handle.id,
        run_id=run_id,
        task_queue=settings.temporal_task_queue,
        status="RUNNING",
    )
    if wait:
        try:
            started.result = await asyncio.wait_for(
                handle.result(rpc_timeout=rpc_timeout), settings.request_timeout
            )
            started.status = "COMPLETED"
        except TimeoutError:
            started.status = "RUNNING"
        except WorkflowFailureError as error:
            started.status = "FAILED"
            started.result = describe(error.cause)
        except RPCError as error:
            raise temporal_unavailable(error) from error
    return started


@router.get("/{workflow_id}", responses=described(404, 422, 503))
async def get_test_workflow(workflow_id: WorkflowId, services: ServicesDep) -> WorkflowState:
    """Status of a workflow and, once it completed, its result."""
    client = await services.temporal.client()
    rpc_timeout = timedelta(seconds=services.settings.request_timeout)
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe(rpc_timeout=rpc_timeout)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"workflow '{workflow_id}' not found"
            ) from error
        raise temporal_unavailable(error) from error
    state = WorkflowState(
        workflow_id=workflow_id,
        run_id=description.run_id,
        status=description.status.name if description.status else "UNKNOWN",
    )
    if description.status == WorkflowExecutionStatus.COMPLETED:
        try:
            state.result = await handle.result(rpc_timeout=rpc_timeout)
        except RPCError as error:
            raise temporal_unavailable(error) from error
    elif description.status == WorkflowExecutionStatus.FAILED:
        state.error = "workflow failed; see Temporal UI for the failure"
    return state
