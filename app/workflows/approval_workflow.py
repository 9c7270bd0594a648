"""ApprovalWorkflow: the demo of a run that waits, durably, for a person.

It waits for the `approve` signal at most APPROVAL_TIMEOUT (a durable timer: the wait survives
worker restarts and deploys), then composes the greeting. It is the platform's example of a
workflow that stays open across a deploy: pinned, so a waiting run finishes on the worker
version that started it (docs/releases.md, "Версионирование воркеров").
"""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from app.activities.test_activity import TestActivityInput, compose_greeting

WORKFLOW_NAME = "ApprovalWorkflow"
# Shorter than the time an old worker version is kept running after a deploy (docs/releases.md).
APPROVAL_TIMEOUT = timedelta(hours=1)
GREETING_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)


@dataclass
class ApprovalInput:
    name: str


@workflow.defn(name=WORKFLOW_NAME, versioning_behavior=VersioningBehavior.PINNED)
class ApprovalWorkflow:
    def __init__(self) -> None:
        self._approved_by: str | None = None

    @workflow.signal
    def approve(self, approver: str) -> None:
        self._approved_by = approver

    @workflow.query
    def approved_by(self) -> str | None:
        return self._approved_by

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        try:
            await workflow.wait_condition(
                lambda: self._approved_by is not None, timeout=APPROVAL_TIMEOUT
            )
        except TimeoutError:
            return f"{data.name}: not approved within {APPROVAL_TIMEOUT}"
        greeting = await workflow.execute_activity(
            compose_greeting,
            TestActivityInput(name=data.name),
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(seconds=60),
            retry_policy=GREETING_RETRY,
        )
        return f"{greeting} (approved by {self._approved_by})"
