"""Worker readiness: the Temporal server itself has seen this worker's pollers recently.

`Worker.run()` not having returned proves little: a worker whose pollers are stuck, or that
polls another task queue or namespace, looks alive. The server's description of a task queue
lists each poller's identity and last access time; this worker is ready when its identity is
there, fresh, for both workflow and activity tasks on the configured queue. A background loop
asks every CHECK_INTERVAL_SECONDS (so probes cost the server nothing) and publishes the count
as the `sbs_worker_pollers` gauge on the worker's /metrics.
"""

import asyncio
import logging
import os
import socket
import time
from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import MetricMeter

from app.services.errors import describe
from app.services.temporal import RPC_ERRORS

logger = logging.getLogger(__name__)

TASK_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}
# An idle poller holds a long poll for about a minute before the server answers it empty, so
# its last access time can be that old while it is perfectly healthy.
POLLER_FRESH_SECONDS = 90.0
CHECK_INTERVAL_SECONDS = 5.0
# While not ready (starting, or after an outage) ask more often, so readiness follows quickly.
RECHECK_SECONDS = 1.0
CHECK_TIMEOUT_SECONDS = 3.0
# A verdict older than this (the loop is stuck) counts as not ready.
VERDICT_MAX_AGE_SECONDS = 3 * CHECK_INTERVAL_SECONDS


def worker_identity() -> str:
    """`pid@host`: the pod name in Kubernetes, stable for the process's life."""
    return f"{os.getpid()}@{socket.gethostname()}"


class PollerReadiness:
    def __init__(self, client: Client, task_queue: str, identity: str, meter: MetricMeter) -> None:
        self._client = client
        self._task_queue = task_queue
        self._identity = identity
        self._gauge = meter.create_gauge(
            "sbs_worker_pollers",
            "This worker's pollers that the Temporal server saw recently on its task queue.",
            "{poller}",
        )
        self._ready = False
        self._checked_at = float("-inf")

    def is_ready(self) -> bool:
        fresh = time.monotonic() - self._checked_at < VERDICT_MAX_AGE_SECONDS
        return self._ready and fresh

    async def _pollers_seen(self, task_type: TaskQueueType.ValueType) -> int:
        response = await self._client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self._client.namespace,
                task_queue=TaskQueue(name=self._task_queue),
                task_queue_type=task_type,
            ),
            retry=False,
            timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS),
        )
        now = time.time()
        return sum(
            1
            for poller in response.pollers
            if poller.identity == self._identity
            and now - poller.last_access_time.ToSeconds() < POLLER_FRESH_SECONDS
        )

    async def check(self) -> bool:
        """Ask the server once; update the verdict and the gauge."""
        try:
            seen = {kind: await self._pollers_seen(value) for kind, value in TASK_TYPES.items()}
        except RPC_ERRORS as error:
            seen = dict.fromkeys(TASK_TYPES, 0)
            problem = f"temporal did not answer: {describe(error)}"
        else:
            missing = [kind for kind, count in seen.items() if count == 0]
            problem = f"no recent {' or '.join(missing)} pollers seen" if missing else ""
        for kind, count in seen.items():
            self._gauge.set(count, {"task_type": kind})
        ready = not problem
        if ready != self._ready:
            if ready:
                logger.info("worker ready: temporal sees its pollers", extra={"seen": seen})
            else:
                logger.warning(
                    "worker not ready: %s", problem, extra={"task_queue": self._task_queue}
                )
        self._ready = ready
        self._checked_at = time.monotonic()
        return ready

    async def run(self) -> None:
        """Check every CHECK_INTERVAL_SECONDS (RECHECK_SECONDS while not ready) until cancelled."""
        while True:
            ready = await self.check()
            await asyncio.sleep(CHECK_INTERVAL_SECONDS if ready else RECHECK_SECONDS)
