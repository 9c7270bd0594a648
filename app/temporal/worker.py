"""The Temporal worker process: TestWorkflow and its activity, SDK metrics, a liveness endpoint."""

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from app.activities.test_activity import compose_greeting
from app.config import Settings
from app.connection_security import warn_about_dependencies_without_tls
from app.gc_freeze import freeze_startup_objects
from app.temporal.client import wait_for_temporal
from app.temporal.health_server import HealthServer
from app.temporal.readiness import PollerReadiness, worker_identity
from app.tracing import configure_tracing
from app.workflows.test_workflow import TestWorkflow

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def metrics_runtime(settings: Settings) -> Runtime:
    """A runtime that serves SDK metrics (durations in seconds) on WORKER_METRICS_PORT."""
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_host}:{settings.worker_metrics_port}",
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


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
    try:
        client = await wait_for_temporal(settings, runtime=runtime, identity=identity)
    except TimeoutError as error:
        logger.error("worker cannot start: %s", error)
        await health.stop()
        return 1

    worker = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[TestWorkflow],
        activities=[compose_greeting],
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )
    frozen = freeze_startup_objects()
    logger.info(
        "worker started",
        extra={
            "task_queue": settings.temporal_task_queue,
            "namespace": settings.temporal_namespace,
            "identity": identity,
            "gc_frozen_objects": frozen,
        },
    )
    run = asyncio.create_task(worker.run())
    health.set_alive(lambda: not run.done())
    readiness = PollerReadiness(
        client, settings.temporal_task_queue, identity, runtime.metric_meter
    )
    health.set_ready(lambda: not run.done() and readiness.is_ready())
    checking = asyncio.create_task(readiness.run())
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
    await health.stop()
    return exit_code
