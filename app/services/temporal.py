"""Temporal: the connection, the API's lazy client, its health check and the workflow calls the
API makes, with the SDK's failures translated into "temporal unavailable" here, once.

The worker side (waiting for the server at start-up, the Worker itself) is in `app/temporal/`.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.types import MethodAsyncSingleParam

from app.config import Settings
from app.services.errors import DependencyUnavailableError, describe, unavailable_on
from app.tracing import temporal_interceptors

# A failed connect comes from the SDK's core as a plain RuntimeError ("Failed client connect:
# ..."), a TEMPORAL_HOST it cannot parse as ValueError; once connected, an unreachable, silent
# or refusing server fails a call with RPCError.
CONNECT_ERRORS = (RuntimeError, ValueError)
RPC_ERRORS = (RPCError,)


class WorkflowNotFoundError(LookupError):
    """The server knows no workflow with this id (a 404, not an outage)."""


@dataclass(frozen=True)
class WorkflowOutcome:
    """Where a run stands: RUNNING, or how it closed, with its result or what ended it."""

    status: WorkflowExecutionStatus
    result: Any = None
    error: str | None = None


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The client's TLS: off; on with the system CAs; or with the configured CA, client
    certificate and key (mTLS) and server name, from the files read at start-up."""
    if not settings.temporal_tls_enabled:
        return False
    material = settings.temporal_tls_material
    return TLSConfig(
        server_root_ca_cert=material.ca,
        client_cert=material.cert,
        client_private_key=material.key,
        domain=settings.temporal_tls_server_name,
    )


async def connect(
    settings: Settings, runtime: Runtime | None = None, identity: str | None = None
) -> Client:
    """One connection attempt, bounded by DEPENDENCY_CONNECT_TIMEOUT."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        connect_timeout=timedelta(seconds=settings.dependency_connect_timeout),
        runtime=runtime,
        identity=identity,
        interceptors=temporal_interceptors(),
        tls=tls_config(settings),
    )


class TemporalService:
    """Lazy client for the API: connects on first use; the SDK reconnects by itself after that."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._rpc_timeout = timedelta(seconds=settings.request_timeout)
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client; a failed connection is reported as "temporal unavailable"."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    with unavailable_on("temporal", *CONNECT_ERRORS):
                        self._client = await connect(self._settings)
        return self._client

    async def check(self) -> None:
        """Health RPC of the frontend service: it must answer SERVING within the check timeout."""
        client = await self.client()
        timeout = timedelta(seconds=self._settings.health_check_timeout)
        with unavailable_on("temporal", *RPC_ERRORS):
            serving = await client.service_client.check_health(timeout=timeout)
        if not serving:
            raise DependencyUnavailableError("temporal", "frontend is not serving")

    async def start_workflow[S, P, R](
        self,
        workflow: MethodAsyncSingleParam[S, P, R],
        arg: P,
        *,
        id: str,
        task_queue: str,
        execution_timeout: timedelta,
    ) -> WorkflowHandle[S, R]:
        """Start `workflow(arg)` as `id`, retry-safe: starting an id again returns the run the
        first start began (still running: Temporal's USE_EXISTING conflict policy; closed: the
        rejected duplicate is looked up)."""
        client = await self.client()
        with unavailable_on("temporal", *RPC_ERRORS):
            try:
                return await client.start_workflow(
                    workflow,
                    arg,
                    id=id,
                    task_queue=task_queue,
                    execution_timeout=execution_timeout,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    rpc_timeout=self._rpc_timeout,
                )
            except WorkflowAlreadyStartedError:
                existing = await client.get_workflow_handle(id).describe(
                    rpc_timeout=self._rpc_timeout
                )
                return client.get_workflow_handle_for(workflow, id, run_id=existing.run_id)

    async def describe(self, workflow_id: str) -> WorkflowExecutionDescription:
        """The server's description of the workflow's latest run; WorkflowNotFoundError if none."""
        client = await self.client()
        with unavailable_on("temporal", *RPC_ERRORS):
            try:
                return await client.get_workflow_handle(workflow_id).describe(
                    rpc_timeout=self._rpc_timeout
                )
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    raise WorkflowNotFoundError(workflow_id) from error
                raise

    async def outcome(
        self, handle: WorkflowHandle[Any, Any], wait_seconds: float
    ) -> WorkflowOutcome:
        """The run's result if it closes within `wait_seconds`; else RUNNING. A run that closed
        without completing carries its status from the server and the failure as `error`."""
        with unavailable_on("temporal", *RPC_ERRORS):
            try:
                result = await asyncio.wait_for(
                    handle.result(rpc_timeout=self._rpc_timeout), wait_seconds
                )
            except TimeoutError:
                return WorkflowOutcome(WorkflowExecutionStatus.RUNNING)
            except WorkflowFailureError as failure:
                closed = await handle.describe(rpc_timeout=self._rpc_timeout)
                status = closed.status or WorkflowExecutionStatus.FAILED
                return WorkflowOutcome(status, error=describe(failure.cause))
        return WorkflowOutcome(WorkflowExecutionStatus.COMPLETED, result=result)

    async def close(self) -> None:
        # The SDK's connection is closed with the runtime; dropping the reference is enough.
        self._client = None
