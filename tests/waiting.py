"""How tests wait: polling through tenacity, always bounded, failing with what was awaited.

`poll` returns the last value it read even when time runs out, so the caller's assertion shows
what was seen; `wait_for` is the yes/no form. An exception in the reader is not retried: it is
the test's failure (a process that died, say) and surfaces at once.
"""

import time
from collections.abc import Awaitable, Callable

import httpx
import tenacity


def _last_value(state: tenacity.RetryCallState) -> object:
    assert state.outcome is not None
    return state.outcome.result()


def poll[T](
    read: Callable[[], T], until: Callable[[T], bool], seconds: float, interval: float = 0.2
) -> T:
    """`read()` every `interval` seconds until `until(value)` holds or `seconds` have passed;
    the last value either way."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(seconds),
        wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_result(lambda value: not until(value)),
        retry_error_callback=_last_value,
    )
    value: T = retrying(read)
    return value


async def poll_async[T](
    read: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    seconds: float,
    interval: float = 0.2,
) -> T:
    """`poll` for an async reader (a Temporal client call, say)."""
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_delay(seconds),
        wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_result(lambda value: not until(value)),
        retry_error_callback=_last_value,
    )

    async def attempt() -> T:  # tenacity awaits only coroutine functions, not lambdas
        return await read()

    value: T = await retrying(attempt)
    return value


def wait_for(
    predicate: Callable[[], bool], seconds: float, what: str = "condition", *, interval: float = 0.2
) -> float:
    """Seconds until `predicate()` held; AssertionError naming `what` when it did not within
    `seconds`."""
    started = time.monotonic()
    if not poll(predicate, bool, seconds, interval):
        raise AssertionError(f"{what}: not within {seconds}s")
    return time.monotonic() - started


def answers_ok(url: str, timeout: float = 5) -> bool:
    """GET `url` answers 200 (a refused or silent server is simply "not yet")."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.TransportError:
        return False
