"""Record a workflow run's history for the replay tests: `make workflow-history WORKFLOW_ID=…`.

The history is fetched from the stack's Temporal server (the one `make up` runs, ports moved by
`*_PORT` variables or `.env` as usual) and written as
`tests/workflow_histories/<WorkflowType>/<NAME>.json`, the JSON `temporal workflow show
--output json` prints. A run still open (waiting on a signal or a timer) is recorded as far as
it got: replaying it proves a new version of the code can pick such a run up.
"""

import argparse
import asyncio
import re
import sys
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError

from devstack.config import HOST, PROJECT_ROOT, StackConfig

HISTORIES = PROJECT_ROOT / "tests" / "workflow_histories"
TIMEOUT_SECONDS = 30.0
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def history_path(directory: Path, history: WorkflowHistory, name: str) -> Path:
    if not SAFE_NAME.match(name):
        raise ValueError(f"NAME={name!r}: use letters, digits, '.', '_' and '-'")
    return directory / workflow_type(history) / f"{name}.json"


async def fetch(address: str, workflow_id: str) -> WorkflowHistory:
    client = await Client.connect(address)
    return await client.get_workflow_handle(workflow_id).fetch_history()


def record(address: str, workflow_id: str, name: str, directory: Path = HISTORIES) -> Path:
    """Fetch the latest run of `workflow_id` and write its history; returns the file."""
    history = asyncio.run(asyncio.wait_for(fetch(address, workflow_id), TIMEOUT_SECONDS))
    path = history_path(directory, history, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json() + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.workflow_history", description=__doc__
    )
    parser.add_argument("workflow_id")
    parser.add_argument("name", nargs="?", help="the file's name (default: the workflow id)")
    args = parser.parse_args(argv)
    config = StackConfig.from_environment()
    address = f"{HOST}:{config.ports['temporal']}"
    try:
        path = record(address, args.workflow_id, args.name or args.workflow_id)
    except (RPCError, RuntimeError, TimeoutError, ValueError) as error:
        print(f"error: cannot record {args.workflow_id} from {address}: {error}", file=sys.stderr)
        return 1
    print(f"recorded {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
