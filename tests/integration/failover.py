"""Calls made in a loop through a fault, timed: when failures stopped, and what they were."""

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic()
    ended: float
    status: int


def record_calls(
    call: Callable[[], int], done: Callable[[list[Outcome]], bool], seconds: float
) -> list[Outcome]:
    """`call()` (an HTTP status) back to back until `done(outcomes)` or `seconds` passed."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done(outcomes):
        started = time.monotonic()
        status = call()
        outcomes.append(Outcome(started, time.monotonic(), status))
    return outcomes


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [outcome for outcome in outcomes if outcome.status != 200]


def recovered_at(outcomes: list[Outcome]) -> float | None:
    """When the first success after the last failure answered (None: no success after it)."""
    failed = failures(outcomes)
    after = [
        o for o in outcomes if o.status == 200 and (not failed or o.started > failed[-1].started)
    ]
    return after[0].ended if after else None


def successes_since(outcomes: list[Outcome], moment: float) -> int:
    """How many calls at the end succeeded in a row, counting only calls started after `moment`."""
    count = 0
    for outcome in reversed(outcomes):
        if outcome.status != 200 or outcome.started < moment:
            break
        count += 1
    return count


def summary(outcomes: list[Outcome], origin: float) -> str:
    """Runs of equal statuses as `status xN from..to` (seconds since `origin`, call starts),
    with the longest call of each run: for assertion messages and the test's report."""
    runs: list[list[Outcome]] = []
    for outcome in outcomes:
        if runs and runs[-1][0].status == outcome.status:
            runs[-1].append(outcome)
        else:
            runs.append([outcome])
    return ", ".join(
        f"{run[0].status} x{len(run)} {run[0].started - origin:.1f}.."
        f"{run[-1].started - origin:.1f}s (longest {max(o.ended - o.started for o in run):.1f}s)"
        for run in runs
    )
