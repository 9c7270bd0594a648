"""TestWorkflow: the demo that proves the worker, the queue and the server work together."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from app.activities.test_activity import TestActivityInput, compose_greeting

WORKFLOW_NAME = "TestWorkflow"


@dataclass
class TestWorkflowInput:
    __test__ = False  # not a pytest test class
    name: str


# Pinned: a run takes seconds, far less than the time between two deploys.
@workflow.defn(name=WORKFLOW_NAME, versioning_behavior=VersioningBehavior.PINNED)
class TestWorkflow:
    __test__ = False  # not a pytest test class

    @workflow.run
    async def run(self, data: TestWorkflowInput) -> str:
        return await workflow.execute_activity(
            compose_greeting,
            TestActivityInput(name=data.name),
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=500),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=10),
                maximum_attempts=5,
            ),
        )
