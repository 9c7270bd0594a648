"""The rehearsal's checker on a recorded history: green as recorded, and each planted defect
(a lost write, a lost or doubled workflow, a too-long outage, a request that outlived its
timeout, errors no fault explains) reported with its figure."""

import dataclasses
from pathlib import Path

import pytest

from rehearsal.checks import check, summary
from rehearsal.history import Fault, History, Request

RECORDED = Path(__file__).parent / "rehearsal" / "clean_history.json"


@pytest.fixture
def history() -> History:
    return History.load(RECORDED)


def figures(history: History) -> dict[str, float | int]:
    return {c.name: c.figure for c in check(history)[0]}


def failing(history: History) -> set[str]:
    return {c.name for c in check(history)[0] if not c.passed}


def first_failure(history: History) -> str:
    """The detail of the first failed check."""
    return next(c.detail for c in check(history)[0] if not c.passed)


def after_the_recording(history: History) -> float:
    """A second after the recorded history's last request: a time no fault of it owns."""
    return max(r.ended for r in history.requests) + 1


def test_the_recorded_history_is_green(history: History) -> None:
    report = summary(history)
    assert report["passed"], [c for c in report["checks"] if not c["passed"]]
    assert report["faults"][0]["errors_per_route"]["PUT /settings/{key}"] > 0
    assert report["faults"][0]["outage_per_route"]["PUT /settings/{key}"] <= 25.0


def test_a_lost_acknowledged_write_is_reported(history: History) -> None:
    newest = max(
        (r for r in history.requests if r.key == "rehearsal-1" and r.acknowledged),
        key=lambda r: r.ended,
    )
    older = next(r for r in history.requests if r.key == "rehearsal-1" and r is not newest)
    assert history.observed.settings["rehearsal-1"] == newest.value
    history.observed.settings["rehearsal-1"] = str(older.value)  # the failover lost the last commit
    assert failing(history) == {"acknowledged writes lost"}
    assert figures(history)["acknowledged writes lost"] == 1


def test_a_write_missing_altogether_is_reported(history: History) -> None:
    del history.observed.settings["rehearsal-2"]
    assert figures(history)["acknowledged writes lost"] == 1


def test_an_unacknowledged_later_write_may_hold_the_key(history: History) -> None:
    """A write that timed out may still have committed: holding its value is no loss."""
    last = max(history.requests, key=lambda r: r.ended)
    timed_out = Request(
        "PUT /settings/{key}",
        last.ended + 1,
        last.ended + 6,
        5.0,
        None,
        key="rehearsal-3",
        value="committed-but-unanswered",
        error="timeout",
    )
    history.requests.append(timed_out)
    history.observed.settings["rehearsal-3"] = "committed-but-unanswered"
    history.faults.append(Fault("slow-link", "api1", last.ended, last.ended + 7))
    assert figures(history)["acknowledged writes lost"] == 0


def test_a_doubled_workflow_is_reported(history: History) -> None:
    key = next(iter(history.observed.workflow_runs))
    history.observed.workflow_runs[key] = ["COMPLETED", "COMPLETED"]
    assert failing(history) == {"acknowledged workflows doubled"}


def test_a_lost_and_an_unfinished_workflow_are_reported(history: History) -> None:
    first, second = list(history.observed.workflow_runs)[:2]
    del history.observed.workflow_runs[first]
    history.observed.workflow_runs[second] = ["RUNNING"]
    assert failing(history) == {
        "acknowledged workflows lost",
        "acknowledged workflows not completed",
    }


def test_a_too_long_outage_is_reported(history: History) -> None:
    kill = history.faults[0]
    history.requests += [
        Request(
            "PUT /settings/{key}",
            kill.started + second,
            kill.started + second + 0.1,
            5.0,
            503,
            key=f"outage-{second}",
            value="x",
        )
        for second in range(0, 40, 2)
    ]
    assert failing(history) == {"recoveries beyond their bound"}
    detail = first_failure(history)
    assert "host-kill on pg1" in detail
    assert "bound 25s" in detail


def test_one_failed_request_during_a_rolling_restart_is_reported(history: History) -> None:
    rolling = history.faults[1]
    history.requests.append(
        Request("GET /health", rolling.started + 3, rolling.started + 3.2, 5.0, 502)
    )
    assert failing(history) == {"recoveries beyond their bound"}


def test_a_request_that_outlived_its_timeout_is_reported(history: History) -> None:
    index = next(i for i, r in enumerate(history.requests) if r.route == "POST /nats/test")
    late = history.requests[index]
    history.requests[index] = dataclasses.replace(late, ended=late.started + late.timeout + 3)
    assert failing(history) == {"requests that outlived their timeout by more than 1s"}


def test_errors_no_fault_explains_are_reported(history: History) -> None:
    history.requests.append(Request("POST /redis/test", 90.0, 90.1, 5.0, 500))
    assert failing(history) == {"errors outside every fault window"}


def test_a_crashed_or_leaked_process_is_reported(history: History) -> None:
    history.observed.unexpected_exits.append("api-api2 (exit 1)")
    history.observed.leaked.append("nats-server pid 4242")
    history.observed.standby_caught_up = False
    assert failing(history) == {
        "processes that exited without being killed",
        "processes leaked",
        "standby caught up with the primary",
    }


def cut_with_failing_writes(history: History, primary_isolated: bool, seconds: int) -> None:
    """A 10 s split, and writes failing every second for `seconds` from its start."""
    start = after_the_recording(history)
    side = "pg1,etcd1,nats1,api1,wrk1"
    history.faults.append(Fault("split", side, start, start + 10, primary_isolated))
    history.requests += [
        Request("PUT /settings/{key}", start + s, start + s + 0.5, 5.0, 503, key=f"cut-{s}")
        for s in range(seconds)
    ]


def test_writes_failing_after_a_split_heals_are_reported(history: History) -> None:
    cut_with_failing_writes(history, primary_isolated=False, seconds=18)
    assert failing(history) == {"recoveries beyond their bound"}
    detail = first_failure(history)
    assert "after the heal (bound 5s)" in detail


def test_a_split_that_isolated_the_primary_is_held_to_the_failover_bound(
    history: History,
) -> None:
    """Patroni demotes a primary cut off from the etcd majority: writes come back with a
    failover, 8 s after the heal here, within the failover's 25 s."""
    cut_with_failing_writes(history, primary_isolated=True, seconds=18)
    assert failing(history) == set()
    report = summary(history)
    assert report["faults"][-1]["bound"] == {
        "outage": 25.0,
        "after_heal": None,
        "failed": None,
        "quiet_between_cuts": None,
    }


def test_a_split_that_isolated_the_primary_for_too_long_is_reported(history: History) -> None:
    cut_with_failing_writes(history, primary_isolated=True, seconds=30)
    assert failing(history) == {"recoveries beyond their bound"}
    detail = first_failure(history)
    assert "bound 25s" in detail


def test_added_latency_that_reached_no_connection_is_reported(history: History) -> None:
    start = after_the_recording(history)
    history.faults.append(Fault("latency", "api1", start, start + 10, delayed_connections=6))
    assert failing(history) == set()
    history.faults[-1] = dataclasses.replace(history.faults[-1], delayed_connections=0)
    assert failing(history) == {"recoveries beyond their bound"}
    detail = first_failure(history)
    assert "latency on api1: the added latency reached no connection" in detail


def test_added_latency_may_fail_requests_at_its_cuts_but_not_between(history: History) -> None:
    start = after_the_recording(history)
    history.faults.append(Fault("latency", "api2", start, start + 15, delayed_connections=13))
    at_the_cuts = [
        Request("POST /nats/test", start + 0.3, start + 5.3, 5.0, 503),
        Request("POST /nats/test", start + 14.8, start + 19.8, 5.0, 503),
    ]
    history.requests += at_the_cuts
    assert failing(history) == set()
    history.requests.append(Request("PUT /settings/{key}", start + 7, start + 7.2, 5.0, 503))
    assert failing(history) == {"recoveries beyond their bound"}
    detail = first_failure(history)
    assert "1 requests failed between the cuts (PUT /settings/{key}" in detail


def test_a_request_in_flight_when_a_fault_begins_is_that_faults(history: History) -> None:
    """Started a millisecond before a partition, timed out during it: the partition's error,
    not an outage 30 s long of the fault before."""
    start = after_the_recording(history)
    history.faults.append(Fault("freeze", "api2", start, start + 19))
    partition = start + 29
    history.faults.append(Fault("partition", "api1", partition, partition + 8))
    history.requests += [
        Request("GET /health", start + 0.1, start + 5.1, 5.0, None, error="ReadTimeout"),
        Request("GET /health", partition - 0.001, partition + 5, 5.0, None, error="ReadTimeout"),
    ]
    assert failing(history) == set()
    freeze, cut = summary(history)["faults"][-2:]
    assert freeze["outage_per_route"] == {"GET /health": 5.0}
    assert cut["errors_per_route"] == {"GET /health": 1}


def test_a_lost_nats_node_may_time_out_one_request_but_not_fail_longer(history: History) -> None:
    """A request on the lost node's connection waits out its 5 s client timeout (5.016 s in a
    recorded run): within the bound. Failures for 6.5 s are not."""
    start = after_the_recording(history)
    history.faults.append(Fault("nats-node-loss", "nats1", start, start + 5.4))
    history.requests.append(
        Request("POST /nats/test", start - 0.01, start + 5.006, 5.0, None, error="ReadTimeout")
    )
    assert failing(history) == set()
    history.requests.append(Request("POST /nats/test", start + 6.4, start + 6.5, 5.0, 503))
    assert failing(history) == {"recoveries beyond their bound"}
    assert "nats-node-loss on nats1: requests failed for 6.5s (bound 6s)" in first_failure(history)
