"""Every recorded workflow history (tests/workflow_histories/, `make workflow-history`) replays
with the worker's registered workflows; every registered type has histories and declares its
versioning behaviour; and the replay catches the breaking changes it exists for (a reordered step,
an activity added before an existing one, a removed timer), naming the workflow and the file."""

from collections.abc import Sequence

import pytest
from temporalio import workflow

from app.temporal.registration import WORKFLOWS
from tests import workflow_mutations as mutated
from tests.workflow_replay import (
    RecordedHistory,
    missing_histories,
    recorded_histories,
    replay_failure,
    undeclared_versioning,
)

HISTORIES = recorded_histories()


def with_replaced(replacement: type) -> list[type]:
    """The registered workflows with the one of the same type name replaced."""
    name = workflow._Definition.must_from_class(replacement).name
    return [
        replacement if workflow._Definition.must_from_class(cls).name == name else cls
        for cls in WORKFLOWS
    ]


def histories_of(workflow_type: str) -> list[RecordedHistory]:
    found = [recorded for recorded in HISTORIES if recorded.workflow_type == workflow_type]
    assert found, f"no recorded history of {workflow_type}"
    return found


@pytest.mark.parametrize("recorded", HISTORIES, ids=lambda recorded: recorded.name)
async def test_every_recorded_history_replays(recorded: RecordedHistory) -> None:
    failure = await replay_failure(WORKFLOWS, recorded)
    assert failure is None, failure


def test_every_registered_workflow_has_recorded_histories() -> None:
    assert HISTORIES, "no recorded histories in tests/workflow_histories/"
    problems = missing_histories(WORKFLOWS, HISTORIES)
    assert not problems, "\n".join(problems)


def test_a_registered_workflow_without_history_is_named() -> None:
    problems = missing_histories([*WORKFLOWS, mutated.UnrecordedWorkflow], HISTORIES)
    assert len(problems) == 1
    assert "workflow UnrecordedWorkflow has no recorded history" in problems[0]


def test_a_waiting_workflow_needs_an_open_history_too() -> None:
    closed_only = [recorded for recorded in HISTORIES if recorded.closed]
    problems = missing_histories(WORKFLOWS, closed_only)
    assert problems == [
        "workflow ApprovalWorkflow can wait but has no history of an open run: record one with "
        "'make workflow-history WORKFLOW_ID=…' into workflow_histories/ApprovalWorkflow/"
    ]


def test_every_registered_workflow_declares_its_versioning_behaviour() -> None:
    assert undeclared_versioning(WORKFLOWS) == []


def test_a_workflow_without_versioning_behaviour_is_named() -> None:
    undeclared = [*WORKFLOWS, mutated.UndeclaredWorkflow]
    assert undeclared_versioning(undeclared) == ["UndeclaredWorkflow"]


async def failures(replacement: type, workflow_type: str) -> Sequence[str | None]:
    return [
        await replay_failure(with_replaced(replacement), recorded)
        for recorded in histories_of(workflow_type)
    ]


@pytest.mark.parametrize(
    ("mutation", "workflow_type"),
    [
        (mutated.ApprovalWorkflowReordered, "ApprovalWorkflow"),
        (mutated.TestWorkflowWithAnEarlierActivity, "TestWorkflow"),
        (mutated.ApprovalWorkflowWithoutTimer, "ApprovalWorkflow"),
    ],
    ids=["reordered step", "activity added before an existing one", "timer removed"],
)
async def test_a_breaking_change_fails_the_replay_naming_workflow_and_file(
    mutation: type, workflow_type: str
) -> None:
    results = await failures(mutation, workflow_type)
    for recorded, failure in zip(histories_of(workflow_type), results, strict=True):
        assert failure is not None, f"{mutation.__name__} replayed {recorded.name}"
        assert f"workflow {workflow_type} is no longer deterministic" in failure
        assert recorded.name in failure
        assert "Nondeterminism" in failure


async def test_a_changed_timer_duration_is_not_a_breaking_change() -> None:
    """The honest limit: a started timer keeps its recorded duration, so a new duration replays
    (and applies to runs started after the deploy)."""
    assert await failures(mutated.ApprovalWorkflowWithLongerTimer, "ApprovalWorkflow") == [
        None,
        None,
    ]


async def test_a_compatible_change_replays() -> None:
    """Version 2 of the rollout adds its activity after the wait: open runs still replay
    (the closed run's history does not, so running runs need pinning or a patch)."""
    results = {
        recorded.path.name: await replay_failure(
            with_replaced(mutated.ApprovalWorkflowV2), recorded
        )
        for recorded in histories_of("ApprovalWorkflow")
    }
    assert results["waiting-for-approval.json"] is None
    assert results["approved.json"] is not None
