"""The replay check of recorded workflow histories (tests/workflow_histories/<Type>/<name>.json,
written by `make workflow-history`): which files the given workflow code no longer replays, and
which registered workflow types have no recorded history to replay."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from devstack.config import PROJECT_ROOT
from devstack.workflow_history import HISTORIES, workflow_type

CLOSING_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


@dataclass(frozen=True)
class RecordedHistory:
    path: Path
    history: WorkflowHistory

    @property
    def workflow_type(self) -> str:
        return workflow_type(self.history)

    @property
    def closed(self) -> bool:
        return self.history.events[-1].event_type in CLOSING_EVENTS

    @property
    def name(self) -> str:
        return str(self.path.relative_to(PROJECT_ROOT))


def recorded_histories(directory: Path = HISTORIES) -> list[RecordedHistory]:
    return [
        RecordedHistory(path, WorkflowHistory.from_json(path.stem, path.read_text()))
        for path in sorted(directory.glob("*/*.json"))
    ]


async def replay_failure(workflows: Sequence[type], recorded: RecordedHistory) -> str | None:
    """None when `workflows` replay the history; else a message naming the workflow and file."""
    try:
        await Replayer(workflows=list(workflows)).replay_workflow(recorded.history)
    except workflow.NondeterminismError as error:
        return (
            f"workflow {recorded.workflow_type} is no longer deterministic for its recorded "
            f"history {recorded.name}: {str(error)[:400]} (docs/recipes.md, 'Изменить workflow')"
        )
    except RuntimeError as error:  # e.g. the workflow type is no longer registered
        return f"workflow {recorded.workflow_type} cannot replay {recorded.name}: {error}"
    return None


def can_wait(workflow_class: type) -> bool:
    """A workflow with signal or update handlers waits for them: it has open runs to record."""
    definition = workflow._Definition.must_from_class(workflow_class)
    return bool(definition.signals or definition.updates)


def missing_histories(workflows: Sequence[type], histories: Sequence[RecordedHistory]) -> list[str]:
    """What each registered workflow type lacks: a closed run, and an open one if it can wait."""
    problems = []
    for workflow_class in workflows:
        name = workflow._Definition.must_from_class(workflow_class).name
        if name is None:
            continue  # a dynamic workflow has no single history
        own = [recorded for recorded in histories if recorded.workflow_type == name]
        hint = (
            f"record one with 'make workflow-history WORKFLOW_ID=…' into {HISTORIES.name}/{name}/"
        )
        if not any(recorded.closed for recorded in own):
            problems.append(f"workflow {name} has no recorded history of a closed run: {hint}")
        if can_wait(workflow_class) and not any(not recorded.closed for recorded in own):
            problems.append(f"workflow {name} can wait but has no history of an open run: {hint}")
    return problems


def undeclared_versioning(workflows: Sequence[type]) -> list[str]:
    """The workflow types whose @workflow.defn names no versioning behaviour."""
    undeclared = []
    for workflow_class in workflows:
        definition = workflow._Definition.must_from_class(workflow_class)
        if not definition.versioning_behavior:  # None or UNSPECIFIED (0)
            undeclared.append(definition.name or workflow_class.__name__)
    return undeclared
