"""Worker Deployment versions: make one current, tell whether an old one is drained.

A versioned worker (app.temporal.worker) joins its deployment as TEMPORAL_DEPLOYMENT_NAME /
TEMPORAL_WORKER_BUILD_ID. New runs go to the deployment's *current* version; a PINNED run stays
on the version that started it until it closes. So a rollout is: start the new version's workers,
make it current once Temporal sees their pollers (`promote`), keep the old version's workers
until it is drained (`drained`: no open pinned run left), then remove them.

`python -m app.temporal.rollout promote [--build-id B]` and `... drained --build-id OLD` (exit
code 0 when drained, 3 while runs still need it) are the steps the Helm chart documents; the
worker calls `promote` on itself when TEMPORAL_WORKER_SELF_PROMOTE is on (make up, compose).
"""

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.enums.v1 import VersionDrainageStatus, WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_fixed

from app.config import Settings, get_settings
from app.process_exit import exit_without_finalizing
from app.services.errors import describe
from app.services.temporal import CONNECT_ERRORS, connect

logger = logging.getLogger(__name__)

CALL_TIMEOUT = timedelta(seconds=5)
RETRY_SECONDS = 1.0
# Answers that mean "not yet": the version has no pollers, the server does not know it yet, the
# deployment's calls are rate-limited for a moment, or the server does not answer right now.
NOT_YET = {
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
}
DRAINED_EXIT_CODE = 0
STILL_NEEDED_EXIT_CODE = 3


@dataclass(frozen=True)
class VersionState:
    build_id: str
    status: str  # WORKER_DEPLOYMENT_VERSION_STATUS_* without the prefix: CURRENT, DRAINING, ...
    drainage: str  # VERSION_DRAINAGE_STATUS_* without the prefix: DRAINING, DRAINED, UNSPECIFIED
    open_pinned_runs: int

    @property
    def drained(self) -> bool:
        """Safe to stop its workers: not current or ramping, and no open run pinned to it."""
        return self.status in {"DRAINING", "DRAINED", "INACTIVE"} and self.open_pinned_runs == 0


async def set_current(client: Client, deployment_name: str, build_id: str) -> None:
    """Make the version current; the server refuses (FAILED_PRECONDITION) while it has no
    pollers, so a version nobody serves can never receive runs."""
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace,
            deployment_name=deployment_name,
            build_id=build_id,
            identity=client.identity,
        ),
        retry=False,
        timeout=CALL_TIMEOUT,
    )


def _not_yet(error: BaseException) -> bool:
    return isinstance(error, RPCError) and error.status in NOT_YET


async def promote(client: Client, deployment_name: str, build_id: str, wait_seconds: float) -> None:
    """Set the version current as soon as Temporal sees its pollers; TimeoutError otherwise."""
    retrying = AsyncRetrying(
        stop=stop_after_delay(wait_seconds),
        wait=wait_fixed(RETRY_SECONDS),
        retry=retry_if_exception(_not_yet),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await set_current(client, deployment_name, build_id)
    except RPCError as error:
        raise TimeoutError(
            f"{deployment_name}/{build_id} not made current within {wait_seconds:.0f}s: "
            f"{describe(error)}"
        ) from error
    logger.info(
        "worker deployment version is current",
        extra={"deployment_name": deployment_name, "build_id": build_id},
    )


def _suffix(name: str, prefix: str) -> str:
    return name.removeprefix(prefix)


async def version_state(client: Client, deployment_name: str, build_id: str) -> VersionState:
    """The version's routing status, the server's drainage verdict, and a count of its open
    pinned runs from visibility (the drainage verdict is refreshed only every few minutes)."""
    response = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(
            namespace=client.namespace,
            deployment_version=WorkerDeploymentVersion(
                deployment_name=deployment_name, build_id=build_id
            ),
        ),
        retry=False,
        timeout=CALL_TIMEOUT,
    )
    info = response.worker_deployment_version_info
    version = f"{deployment_name}:{build_id}"
    open_runs = await client.count_workflows(
        f"TemporalWorkerDeploymentVersion = '{version}' AND ExecutionStatus = 'Running'",
        rpc_timeout=CALL_TIMEOUT,
    )
    return VersionState(
        build_id=build_id,
        status=_suffix(
            WorkerDeploymentVersionStatus.Name(info.status), "WORKER_DEPLOYMENT_VERSION_STATUS_"
        ),
        drainage=_suffix(
            VersionDrainageStatus.Name(info.drainage_info.status), "VERSION_DRAINAGE_STATUS_"
        ),
        open_pinned_runs=open_runs.count,
    )


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    client = await asyncio.wait_for(connect(settings), settings.temporal_wait_timeout)
    name = settings.temporal_deployment_name
    build_id = args.build_id or settings.worker_build_id
    if args.command == "promote":
        await promote(client, name, build_id, args.wait)
        print(f"{name}/{build_id} is current")
        return 0
    state = await version_state(client, name, build_id)
    verdict = "drained: its workers can be removed" if state.drained else "still needed"
    print(
        f"{name}/{build_id}: status {state.status}, drainage {state.drainage}, "
        f"open pinned runs {state.open_pinned_runs}: {verdict}"
    )
    return DRAINED_EXIT_CODE if state.drained else STILL_NEEDED_EXIT_CODE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.temporal.rollout", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    promote_command = commands.add_parser("promote", help="make the version current")
    promote_command.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait for the version's pollers"
    )
    drained_command = commands.add_parser("drained", help="exit 0 once the version is drained")
    for command in (promote_command, drained_command):
        command.add_argument("--build-id", help="default: TEMPORAL_WORKER_BUILD_ID or APP_BUILD")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        return asyncio.run(_main(args, settings))
    except (*CONNECT_ERRORS, RPCError, TimeoutError) as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # The SDK's threads can crash the interpreter's finalization (a 139 after success).
    exit_without_finalizing(main())
