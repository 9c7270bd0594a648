"""The checker: what must hold after the faults healed and the system settled, each a line with
its figure. It reads a `History` only, so each check is proven on recorded histories with
planted defects (tests/unit/test_rehearsal_checks.py)."""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from rehearsal.history import Fault, History, Request
from rehearsal.load import CLIENT_TIMEOUT

# A request may outlive its client timeout by this much (scheduling on a loaded 2-core box).
TIMEOUT_MARGIN = 1.0
# Errors this long after a fault healed still belong to it (reconnects, re-elections).
ATTRIBUTION_GRACE = 30.0


@dataclass(frozen=True)
class Bound:
    """The documented bounds of one fault class: how long requests may fail from the first to
    the last error (None: as long as the fault lasts), how long after the heal (None: a host
    brought back after a kill owes nothing to its return: the failover bounds it), and how many
    may fail at all (None: any number within those times)."""

    outage: float | None
    after_heal: float | None
    failed: int | None = None
    # A fault that cuts connections as it begins and as it heals: requests started more than
    # this long after the one cut and before the other must not fail (None: no such rule).
    quiet_between_cuts: float | None = None


# Patroni's smallest leader ttl is 20 s: a lost primary's key expires and the standby is
# promoted within ttl + loop_wait; the pools find the new primary on their next connect.
FAILOVER_SECONDS = 25.0
ONE_TIMED_OUT_REQUEST = CLIENT_TIMEOUT + TIMEOUT_MARGIN
BOUNDS: dict[str, Bound] = {
    "host-kill": Bound(outage=FAILOVER_SECONDS, after_heal=None),
    "freeze": Bound(outage=FAILOVER_SECONDS, after_heal=5.0),
    "partition": Bound(outage=FAILOVER_SECONDS, after_heal=5.0),
    "split": Bound(outage=FAILOVER_SECONDS, after_heal=5.0),
    # A request in flight on a lost node's or slowed link's connection waits out the load
    # client's whole timeout before it fails: its own duration is the outage, one timeout and
    # the margin every request has (a bound of the timeout itself failed by milliseconds).
    "slow-link": Bound(outage=ONE_TIMED_OUT_REQUEST, after_heal=5.0),
    # The host's connections are cut as the latency begins (to send them through the proxy)
    # and as it heals: what was in flight on them fails, up to a 5 s request timeout later,
    # and a request made while its client reconnects too (2 s more). Between the cuts the
    # delayed traffic must not fail: 0.2 s a round trip is far inside every timeout.
    "latency": Bound(outage=None, after_heal=7.0, quiet_between_cuts=5.0),
    "postgres-failover": Bound(outage=FAILOVER_SECONDS, after_heal=None),
    "valkey-master-loss": Bound(outage=10.0, after_heal=5.0),
    "nats-node-loss": Bound(outage=ONE_TIMED_OUT_REQUEST, after_heal=5.0),
    "rolling-restart": Bound(outage=0.0, after_heal=0.0, failed=0),
}

# A partition or split that takes the PostgreSQL primary away from the etcd majority: Patroni
# demotes it after retry_timeout (it cannot know that the standby will not be promoted), and
# writes come back when the standby is promoted or, after the heal, the old primary is promoted
# again. A failover either way: its bound holds, not the after-heal one of the other cuts.
PRIMARY_ISOLATED = Bound(outage=FAILOVER_SECONDS, after_heal=None)


def bound_of(fault: Fault) -> Bound | None:
    return PRIMARY_ISOLATED if fault.primary_isolated else BOUNDS.get(fault.kind)


@dataclass
class Check:
    name: str
    passed: bool
    figure: float | int
    detail: str = ""


@dataclass
class FaultFigures:
    fault: Fault
    errors_per_route: dict[str, int] = field(default_factory=dict)
    outage_per_route: dict[str, float] = field(default_factory=dict)  # first to last error
    after_heal: float = 0.0  # last error's end after the heal (0: none after it)
    longest_request: float = 0.0
    violations: list[str] = field(default_factory=list)


def lost_writes(history: History) -> list[str]:
    """Acknowledged PUTs whose key does not hold their value or a value written no earlier.

    Per key, the newest acknowledged write (by when it ended) must be what the primary holds,
    unless a write that had not ended before it began (concurrent or later, acknowledged or
    not: a timed-out write may still have committed) holds it."""
    writes: dict[str, list[Request]] = defaultdict(list)
    for request in history.requests:
        if request.key is not None and request.value is not None:
            writes[request.key].append(request)
    lost = []
    for key, attempts in sorted(writes.items()):
        acknowledged = [w for w in attempts if w.acknowledged]
        if not acknowledged:
            continue
        newest = max(acknowledged, key=lambda w: w.ended)
        allowed = {w.value for w in attempts if w.ended >= newest.started}
        held = history.observed.settings.get(key)
        if held not in allowed:
            lost.append(
                f"{key}={newest.value!r} acknowledged at {newest.ended:.1f}s, read {held!r}"
            )
    return lost


def workflow_defects(history: History) -> tuple[list[str], list[str], list[str]]:
    """(lost, doubled, not completed): every acknowledged start, by its idempotency key."""
    keys = sorted(
        {r.idempotency_key for r in history.requests if r.idempotency_key and r.acknowledged}
    )
    lost, doubled, unfinished = [], [], []
    for key in keys:
        runs = history.observed.workflow_runs.get(key, [])
        if not runs:
            lost.append(key)
        elif len(runs) > 1:
            doubled.append(f"{key}: {len(runs)} runs")
        elif runs[0] != "COMPLETED":
            unfinished.append(f"{key}: {runs[0]}")
    return lost, doubled, unfinished


def overran(history: History) -> list[str]:
    return [
        f"{r.route} at {r.started:.1f}s took {r.duration:.1f}s (timeout {r.timeout:.1f}s)"
        for r in history.requests
        if r.duration > r.timeout + TIMEOUT_MARGIN
    ]


def owning_fault(request: Request, faults: list[Fault]) -> Fault | None:
    """The latest fault that began before the request ended and whose window (plus the grace)
    holds its start: a request in flight when a fault begins is that fault's to fail."""
    owners = [
        f
        for f in faults
        if f.started <= request.ended and request.started <= f.ended + ATTRIBUTION_GRACE
    ]
    return max(owners, key=lambda f: f.started) if owners else None


def fault_figures(history: History) -> tuple[list[FaultFigures], list[Request]]:
    """Per fault: its errors, outages and violations; and the errors no fault explains."""
    figures = {id(f): FaultFigures(f) for f in history.faults}
    failed_by_fault: dict[int, list[Request]] = defaultdict(list)
    unexplained = []
    for request in history.requests:
        owner = owning_fault(request, history.faults)
        if owner is not None:
            entry = figures[id(owner)]
            entry.longest_request = max(entry.longest_request, request.duration)
        if not request.failed:
            continue
        if owner is None:
            unexplained.append(request)
        else:
            failed_by_fault[id(owner)].append(request)
    for fault in history.faults:
        entry = figures[id(fault)]
        failed = failed_by_fault[id(fault)]
        routes: dict[str, list[Request]] = defaultdict(list)
        for request in failed:
            routes[request.route].append(request)
        for route, errors in sorted(routes.items()):
            entry.errors_per_route[route] = len(errors)
            first = min(e.started for e in errors)
            last = max(e.ended for e in errors)
            entry.outage_per_route[route] = round(last - first, 3)
        if failed:
            entry.after_heal = round(max(0.0, max(e.ended for e in failed) - fault.ended), 3)
        if fault.delayed_connections == 0:
            entry.violations.append("the added latency reached no connection")
        bound = bound_of(fault)
        if bound is None:
            entry.violations.append(f"no documented bound for fault class {fault.kind!r}")
            continue
        if bound.failed is not None and len(failed) > bound.failed:
            entry.violations.append(f"{len(failed)} failed requests (bound {bound.failed})")
        worst = max(entry.outage_per_route.values(), default=0.0)
        if bound.outage is not None and worst > bound.outage:
            entry.violations.append(f"requests failed for {worst:.1f}s (bound {bound.outage:.0f}s)")
        if bound.quiet_between_cuts is not None:
            quiet = bound.quiet_between_cuts
            between = [r for r in failed if fault.started + quiet < r.started < fault.ended - quiet]
            if between:
                entry.violations.append(
                    f"{len(between)} requests failed between the cuts ({between[0].route} at "
                    f"{between[0].started:.1f}s)"
                )
        if bound.after_heal is not None and entry.after_heal > bound.after_heal:
            entry.violations.append(
                f"requests failed {entry.after_heal:.1f}s after the heal "
                f"(bound {bound.after_heal:.0f}s)"
            )
    return [figures[id(f)] for f in history.faults], unexplained


def check(history: History) -> tuple[list[Check], list[FaultFigures]]:
    """Every check, each a line with its figure; and the per-fault figures."""
    lost = lost_writes(history)
    acknowledged_writes = sum(1 for r in history.requests if r.key and r.acknowledged)
    lost_runs, doubled, unfinished = workflow_defects(history)
    started = {r.idempotency_key for r in history.requests if r.idempotency_key and r.acknowledged}
    late = overran(history)
    figures, unexplained = fault_figures(history)
    recovery = [f"{e.fault.kind} on {e.fault.target}: {v}" for e in figures for v in e.violations]
    observed = history.observed
    checks = [
        Check(
            "acknowledged writes lost",
            not lost,
            len(lost),
            f"of {acknowledged_writes} acknowledged; " + "; ".join(lost[:5]),
        ),
        Check(
            "standby caught up with the primary",
            observed.standby_caught_up,
            int(observed.standby_caught_up),
        ),
        Check(
            "acknowledged workflows lost",
            not lost_runs,
            len(lost_runs),
            f"of {len(started)} acknowledged; " + "; ".join(lost_runs[:5]),
        ),
        Check("acknowledged workflows doubled", not doubled, len(doubled), "; ".join(doubled[:5])),
        Check(
            "acknowledged workflows not completed",
            not unfinished,
            len(unfinished),
            "; ".join(unfinished[:5]),
        ),
        Check("recoveries beyond their bound", not recovery, len(recovery), "; ".join(recovery)),
        Check(
            "errors outside every fault window",
            not unexplained,
            len(unexplained),
            "; ".join(
                f"{r.route} at {r.started:.1f}s: {r.status or r.error}" for r in unexplained[:5]
            ),
        ),
        Check(
            f"requests that outlived their timeout by more than {TIMEOUT_MARGIN:.0f}s",
            not late,
            len(late),
            "; ".join(late[:5]),
        ),
        Check(
            "processes that exited without being killed",
            not observed.unexpected_exits,
            len(observed.unexpected_exits),
            ", ".join(observed.unexpected_exits),
        ),
        Check(
            "processes leaked",
            not observed.leaked,
            len(observed.leaked),
            ", ".join(observed.leaked),
        ),
    ]
    return checks, figures


def summary(history: History) -> dict[str, Any]:
    """The report's figures as one JSON-ready document."""
    checks, figures = check(history)
    requests = history.requests
    return {
        "passed": all(c.passed for c in checks),
        "duration_seconds": round(history.duration, 1),
        "requests": len(requests),
        "failed_requests": sum(1 for r in requests if r.failed),
        "acknowledged_writes": sum(1 for r in requests if r.key and r.acknowledged),
        "acknowledged_workflows": len(
            {r.idempotency_key for r in requests if r.idempotency_key and r.acknowledged}
        ),
        "longest_request_seconds": round(max((r.duration for r in requests), default=0.0), 3),
        "checks": [asdict(c) for c in checks],
        "faults": [
            {
                **asdict(entry.fault),
                "errors_per_route": entry.errors_per_route,
                "outage_per_route": entry.outage_per_route,
                "failed_after_heal_seconds": entry.after_heal,
                "longest_request_seconds": round(entry.longest_request, 3),
                "bound": asdict(bound) if (bound := bound_of(entry.fault)) else None,
                "violations": entry.violations,
            }
            for entry in figures
        ],
    }
