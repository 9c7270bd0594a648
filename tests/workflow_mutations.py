"""Changed versions of the platform's workflows, under the same type names: the breaking changes
the replay test must catch (tests/unit/test_workflow_replay.py), the version 2 of a rollout and
the code a worker hits a real non-determinism with (tests/integration/test_worker_versioning.py).

Like app/workflows/, this module imports only temporalio, the standard library and (passed
through the sandbox) the activities.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from app.activities.test_activity import TestActivityInput, compose_greeting
    from app.workflows.approval_workflow import APPROVAL_TIMEOUT, ApprovalInput

GREETING_TIMEOUT = timedelta(seconds=10)


async def greet(name: str) -> str:
    return await workflow.execute_activity(
        compose_greeting, TestActivityInput(name=name), start_to_close_timeout=GREETING_TIMEOUT
    )


@workflow.defn(name="TestWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class TestWorkflowWithAnEarlierActivity:
    """An activity added before the existing one."""

    __test__ = False

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        await greet("audit")
        return await greet(data.name)


class _Approval:
    def __init__(self) -> None:
        self.approved_by: str | None = None

    @workflow.signal
    def approve(self, approver: str) -> None:
        self.approved_by = approver

    async def approval(self, limit: timedelta | None = APPROVAL_TIMEOUT) -> None:
        await workflow.wait_condition(lambda: self.approved_by is not None, timeout=limit)


class _Reordered(_Approval):
    async def run_reordered(self, data: ApprovalInput) -> str:
        greeting = await greet(data.name)
        await self.approval()
        return f"{greeting} (approved by {self.approved_by})"


@workflow.defn(name="ApprovalWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class ApprovalWorkflowReordered(_Reordered):
    """Steps reordered: the greeting first, then the wait for approval."""

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        return await self.run_reordered(data)


@workflow.defn(name="ApprovalWorkflow", versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class ApprovalWorkflowReorderedAutoUpgrade(_Reordered):
    """The reordered version, auto-upgrading: its runs move to whichever version is current."""

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        return await self.run_reordered(data)


@workflow.defn(name="ApprovalWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class ApprovalWorkflowWithoutTimer(_Approval):
    """The durable timer of the wait removed: the wait has no timeout any more."""

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        await self.approval(limit=None)
        return f"{await greet(data.name)} (approved by {self.approved_by})"


@workflow.defn(name="ApprovalWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class ApprovalWorkflowWithLongerTimer(_Approval):
    """Only the timer's duration changed: Temporal does not compare durations on replay (the
    started timer keeps the one it was started with), so this replays and is no breaking change."""

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        await self.approval(limit=APPROVAL_TIMEOUT * 2)
        return f"{await greet(data.name)} (approved by {self.approved_by})"


@workflow.defn(name="ApprovalWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class ApprovalWorkflowV2(_Approval):
    """Version 2 of a rollout: an audit activity added after the approval, a new result."""

    @workflow.run
    async def run(self, data: ApprovalInput) -> str:
        await self.approval()
        await greet("audit")
        return f"v2: {await greet(data.name)} (approved by {self.approved_by})"


@workflow.defn(name="UnrecordedWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class UnrecordedWorkflow:
    """A new workflow type with no recorded history."""

    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn(name="UndeclaredWorkflow")
class UndeclaredWorkflow:
    """A workflow that does not say whether its runs are pinned or auto-upgrade."""

    @workflow.run
    async def run(self) -> None:
        return None
