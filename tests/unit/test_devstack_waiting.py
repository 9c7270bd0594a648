"""devstack.waiting.wait_until: the stack's one bounded wait (start-up, stop, kill)."""

import itertools
import time

import pytest

from devstack.waiting import wait_until


def test_returns_true_as_soon_as_the_condition_holds() -> None:
    calls: list[float] = []

    def third_time() -> bool:
        calls.append(time.monotonic())
        return len(calls) == 3

    assert wait_until(third_time, seconds=5, interval=0.01)
    assert len(calls) == 3


def test_returns_false_once_its_bound_passed_and_reports_progress_while_waiting() -> None:
    polls: list[float] = []
    reports: list[float] = []

    def never() -> bool:
        polls.append(time.monotonic())
        return False

    started = time.monotonic()
    held = wait_until(
        never,
        seconds=0.6,
        interval=0.01,
        progress=lambda: reports.append(time.monotonic()),
        progress_every=0.2,
    )
    elapsed = time.monotonic() - started
    assert not held
    assert 0.6 <= elapsed < 2
    # At most once per 0.2 s, not on every poll.
    assert 1 <= len(reports) <= 3 < len(polls)
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(reports))


def test_an_error_in_the_condition_ends_the_wait_at_once() -> None:
    def exited() -> bool:
        raise RuntimeError("the server exited")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="exited"):
        wait_until(exited, seconds=10)
    assert time.monotonic() - started < 1
