"""The tests' one way to wait: bounded, returns what it saw, never swallows a failure."""

import itertools
import time

import pytest

from tests.waiting import poll, wait_for


def test_poll_stops_at_the_first_value_that_satisfies() -> None:
    counter = itertools.count()
    assert poll(lambda: next(counter), lambda value: value >= 3, 5, interval=0.01) == 3


def test_poll_returns_the_last_value_when_time_runs_out() -> None:
    counter = itertools.count()
    started = time.monotonic()
    last = poll(lambda: next(counter), lambda value: value < 0, 0.3, interval=0.05)
    assert 0.3 <= time.monotonic() - started < 2
    assert last >= 3  # it kept reading until the bound


def test_wait_for_names_what_did_not_happen() -> None:
    with pytest.raises(AssertionError, match=r"the door to open: not within 0.2s"):
        wait_for(lambda: False, 0.2, "the door to open", interval=0.05)
    assert wait_for(lambda: True, 1) < 0.5


def test_a_failing_reader_is_not_retried() -> None:
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise RuntimeError("the process died")

    with pytest.raises(RuntimeError, match="the process died"):
        wait_for(broken, 5)
    assert calls == [1]
