"""The worker's start-up wait for Temporal: `connect` retried by tenacity, bounded, logged."""

import logging

from temporalio.client import Client
from temporalio.runtime import Runtime
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_delay,
    wait_fixed,
)

from app.config import Settings
from app.services.errors import describe
from app.services.temporal import CONNECT_ERRORS, connect

logger = logging.getLogger(__name__)

RETRY_INTERVAL_SECONDS = 1.0


async def wait_for_temporal(
    settings: Settings, runtime: Runtime | None = None, identity: str | None = None
) -> Client:
    """Retry `connect` every second until it succeeds; TimeoutError once TEMPORAL_WAIT_TIMEOUT
    has passed. Each failed attempt is logged with its error."""

    def log_waiting(attempt: RetryCallState) -> None:
        error = attempt.outcome.exception() if attempt.outcome else None
        logger.info(
            "waiting for temporal",
            extra={
                "address": settings.temporal_address,
                "attempt": attempt.attempt_number,
                "error": describe(error) if error else "",
            },
        )

    retrying = AsyncRetrying(
        stop=stop_after_delay(settings.temporal_wait_timeout),
        wait=wait_fixed(RETRY_INTERVAL_SECONDS),
        retry=retry_if_exception_type(CONNECT_ERRORS),
        before_sleep=log_waiting,
    )
    try:
        async for attempt in retrying:
            with attempt:
                client = await connect(settings, runtime, identity)
    except RetryError as gave_up:
        error = gave_up.last_attempt.exception()
        raise TimeoutError(
            f"temporal at {settings.temporal_address} not reachable after "
            f"{settings.temporal_wait_timeout:.0f}s: {error}"
        ) from error
    logger.info(
        "connected to temporal",
        extra={"address": settings.temporal_address, "attempt": attempt.retry_state.attempt_number},
    )
    return client
