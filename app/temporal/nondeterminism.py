"""A non-determinism error that reaches the worker, logged with the workflow it broke.

When a deploy changes a workflow in a way its running histories cannot replay, the SDK's core
fails the workflow task and says so in its own log, naming only the run id; the run then sits
retrying its task until a fixed worker picks it up. The worker forwards the core's log into
the platform's logging (`temporalio.core`), and this module watches it: each non-determinism
failure is looked up in visibility and logged as one ERROR line naming the workflow id, type
and run id, the line an on-call engineer searches for after the WorkflowNondeterminism alert
(the alert counts the SDK's `temporal_workflow_task_execution_failed` metric, whose
`failure_reason` is `NonDeterminismError`).
"""

import asyncio
import logging
from typing import Any

from temporalio.client import Client
from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter
from temporalio.service import RPCError

from app.services.errors import describe

logger = logging.getLogger(__name__)

CORE_LOGGER = "temporalio.core"
MARKER = "Nondeterminism error"
LOOKUP_TIMEOUT_SECONDS = 5.0
MAX_FAILURE_CHARS = 500


def core_logging() -> LoggingConfig:
    """The core's warnings go through the platform's logging instead of raw stderr."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )


class NondeterminismReporter(logging.Handler):
    """Picks the core's non-determinism failures out of its forwarded log records."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(level=logging.WARNING)
        self._loop = loop
        self.failures: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = getattr(getattr(record, "temporal_log", None), "fields", {})
        failure = str(fields.get("failure", ""))
        run_id = fields.get("run_id")
        if MARKER in failure and isinstance(run_id, str):
            self._loop.call_soon_threadsafe(self.failures.put_nowait, (run_id, failure))

    async def report(self, client: Client) -> None:
        """Log each failure with its workflow's id and type, until cancelled."""
        while True:
            run_id, failure = await self.failures.get()
            workflow_id, workflow_type = await _workflow_of(client, run_id)
            logger.error(
                "workflow task failed: non-determinism (the code no longer replays this run)",
                extra={
                    "workflow_id": workflow_id,
                    "workflow_type": workflow_type,
                    "run_id": run_id,
                    "failure": failure[:MAX_FAILURE_CHARS],
                },
            )


async def _workflow_of(client: Client, run_id: str) -> tuple[str, str]:
    """The workflow id and type of a run (visibility), or "unknown" if it does not answer."""
    try:
        async with asyncio.timeout(LOOKUP_TIMEOUT_SECONDS):
            async for execution in client.list_workflows(f"RunId = '{run_id}'", limit=1):
                return execution.id, execution.workflow_type
    except (RPCError, TimeoutError) as error:
        logger.warning("cannot look up the run %s: %s", run_id, describe(error))
    return "unknown", "unknown"
