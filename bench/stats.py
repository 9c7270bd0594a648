"""Percentiles and timing loops shared by the benchmark sections."""

import statistics
import time
from collections.abc import Awaitable, Callable


def percentile(values: list[float], fraction: float) -> float:
    """Linear-interpolated percentile (`fraction` in 0..1) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def time_calls(
    call: Callable[[], Awaitable[object]], count: int, warmup: int = 20
) -> list[float]:
    """Run `call` sequentially `warmup` + `count` times; the durations (s) of the last `count`."""
    for _ in range(warmup):
        await call()
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return durations


def milliseconds(seconds: float) -> float:
    return round(seconds * 1000, 3)
