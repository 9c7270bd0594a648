"""The Temporal worker process: the registered workflows and activities (app.temporal.registration)
as one version of a Worker Deployment (current at once when self-promoting), SDK metrics, core
logs through the platform's logging (non-determinism named by workflow), liveness, readiness."""

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker, WorkerDeploymentConfig

from app.config import Settings
from app.connection_security import warn_about_dependencies_without_tls
from app.gc_freeze import freeze_startup_objects
from app.temporal.client import wait_for_temporal
from app.temporal.health_server import HealthServer
from app.temporal.nondeterminism import CORE_LOGGER, NondeterminismReporter, core_logging
from app.temporal.readiness import PollerReadiness, worker_identity
from app.temporal.registration import ACTIVITIES, WORKFLOWS
from app.temporal.rollout import promote
from app.tracing import configure_tracing

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig:
    """The worker's Worker Deployment version. Always versioned: every workflow declares its
    versioning behaviour, and the server (1.32) refuses a behaviour from an unversioned worker."""
    version = WorkerDeploymentVersion(
        deployment_name=settings.temporal_deployment_name, build_id=settings.worker_build_id
    )
    # No default behaviour: every workflow declares its own (tests/unit/test_workflow_replay.py).
    return WorkerDeploymentConfig(version=version, use_worker_versioning=True)


async def self_promote(client: Client, settings: Settings) -> bool:
    """With TEMPORAL_WORKER_SELF_PROMOTE on, make this worker's version current once Temporal
    sees its pollers (True when done, or when promotion is left to the rollout step)."""
    if not settings.temporal_worker_self_promote:
        return True
    try:
        await promote(
            client,
            settings.temporal_deployment_name,
            settings.worker_build_id,
            wait_seconds=settings.temporal_wait_timeout,
        )
    except TimeoutError as error:
        logger.error("worker version not made current, it gets no new runs: %s", error)
        return False
    return True


def metrics_runtime(settings: Settings) -> Runtime:
    """A runtime that serves SDK metrics (durations in seconds) on WORKER_METRICS_PORT."""
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_host}:{settings.worker_metrics_port}",
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus, logging=core_logging()))


async def run_worker(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT, then finish in-flight tasks and exit; returns the exit code."""
    configure_tracing(settings.otel_service_name)  # only when OTEL_* variables ask for traces
    warn_about_dependencies_without_tls(settings, logger)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    health = HealthServer(settings.worker_host, settings.worker_health_port)
    await health.start()
    identity = worker_identity()
    runtime = metrics_runtime(settings)
    nondeterminism = NondeterminismReporter(loop)
    logging.getLogger(CORE_LOGGER).addHandler(nondeterminism)
    try:
        client = await wait_for_temporal(settings, runtime=runtime, identity=identity)
    except TimeoutError as error:
        logger.error("worker cannot start: %s", error)
        await health.stop()
        return 1

    versioning = deployment_config(settings)
    worker = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        activities=list(ACTIVITIES),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        deployment_config=versioning,
    )
    frozen = freeze_startup_objects()
    logger.info(
        "worker started",
        extra={
            "task_queue": settings.temporal_task_queue,
            "namespace": settings.temporal_namespace,
            "identity": identity,
            "deployment_version": versioning.version.to_canonical_string(),
            "self_promote": settings.temporal_worker_self_promote,
            "gc_frozen_objects": frozen,
        },
    )
    run = asyncio.create_task(worker.run())
    health.set_alive(lambda: not run.done())
    readiness = PollerReadiness(
        client, settings.temporal_task_queue, identity, runtime.metric_meter
    )
    checking = asyncio.create_task(readiness.run())
    promoted = asyncio.create_task(self_promote(client, settings))
    reporting = asyncio.create_task(nondeterminism.report(client))
    health.set_ready(
        lambda: not run.done() and readiness.is_ready() and promoted.done() and promoted.result()
    )
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    if run.done():
        logger.error("worker stopped unexpectedly: %s", run.exception())
        exit_code = 1
    else:
        logger.info("shutting down worker (finishing in-flight tasks)")
        await worker.shutdown()
        await run
        logger.info("worker stopped")
    waiter.cancel()
    checking.cancel()
    promoted.cancel()
    reporting.cancel()
    await health.stop()
    return exit_code
