"""What the worker registers: the one list the worker, the replay tests and the history check
read (a workflow type added here must have a recorded history in tests/workflow_histories/)."""

from collections.abc import Callable, Sequence
from typing import Any

from app.activities.test_activity import compose_greeting
from app.workflows.approval_workflow import ApprovalWorkflow
from app.workflows.test_workflow import TestWorkflow

WORKFLOWS: Sequence[type] = [TestWorkflow, ApprovalWorkflow]
ACTIVITIES: Sequence[Callable[..., Any]] = [compose_greeting]
