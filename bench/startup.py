"""Section 6: `make up` (devstack.stack.up) until every service is ready, cold and warm."""

import time
from typing import Any

from bench.report import Result
from devstack.config import StackConfig
from devstack.stack import down, up

GOAL_COLD_SECONDS = 10.0


def timed_up(config: StackConfig) -> float:
    started = time.perf_counter()
    up(config)
    return time.perf_counter() - started


def measure(config: StackConfig, details: dict[str, Any]) -> list[Result]:
    """Cold: an empty state directory (initdb, new Temporal database, migrations). Warm: down,
    then up on the kept state. The stack is left running for the other sections."""
    cold = timed_up(config)
    down(config)
    warm = timed_up(config)
    details["startup"] = {"cold_seconds": round(cold, 2), "warm_seconds": round(warm, 2)}
    results = [
        Result(
            section="6",
            metric="start-up to all ready, cold (empty state)",
            unit="s",
            platform=cold,
            baseline=None,
            baseline_name="",
            goal_kind="value<=",
            goal_value=GOAL_COLD_SECONDS,
        ),
        Result(
            section="6",
            metric="start-up to all ready, warm (down, then up)",
            unit="s",
            platform=warm,
            baseline=None,
            baseline_name="",
            goal_kind="value<=",
            goal_value=GOAL_COLD_SECONDS,
        ),
    ]
    return results
