"""The one bounded wait of the local stack: poll a condition with tenacity."""

import time
from collections.abc import Callable

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed


def wait_until(
    condition: Callable[[], bool],
    seconds: float,
    interval: float = 0.05,
    progress: Callable[[], None] | None = None,
    progress_every: float = 5.0,
) -> bool:
    """Poll `condition` every `interval` until it holds (True) or `seconds` passed (False);
    an exception from `condition` ends the wait. `progress` is called at most once per
    `progress_every` seconds while waiting."""
    next_report = time.monotonic() + progress_every

    def report(_: object) -> None:
        nonlocal next_report
        if progress is not None and time.monotonic() >= next_report:
            progress()
            next_report = time.monotonic() + progress_every

    retrying = Retrying(
        stop=stop_after_delay(seconds),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda held: not held),
        before_sleep=report,
        retry_error_callback=lambda _: False,
    )
    return bool(retrying(condition))
