"""The API's own view of each dependency as Prometheus series, fed by the health checker.

Every evaluation of `/health` (probes, the start-up check) records, per dependency:
- `sbs_dependency_up` 1 when the check passed, 0 when it failed or timed out
- `sbs_dependency_check_duration_seconds` how long the last check took
- `sbs_dependency_last_check_timestamp_seconds` when it ran (Unix time), so an alert can tell
  a fresh "down" from a stale one: nothing checks between calls of `/health`, which keeps
  the dependencies free of extra load.
They live in prometheus_client's default registry, which `GET /metrics` serves.
"""

import time

from prometheus_client import Gauge

from app.health import HealthReport

_UP = Gauge(
    "sbs_dependency_up",
    "Whether the last health check of the dependency passed (1) or failed (0).",
    ["dependency"],
)
_DURATION = Gauge(
    "sbs_dependency_check_duration_seconds",
    "Duration of the last health check of the dependency.",
    ["dependency"],
    unit="seconds",
)
_CHECKED_AT = Gauge(
    "sbs_dependency_last_check_timestamp_seconds",
    "Unix time of the last health check of the dependency.",
    ["dependency"],
)


def record_health_report(report: HealthReport) -> None:
    """Health checker hook: publish one evaluation's results."""
    now = time.time()
    for dependency, result in report.checks.items():
        _UP.labels(dependency).set(1 if result["status"] == "up" else 0)
        _DURATION.labels(dependency).set(result["latency_ms"] / 1000)
        _CHECKED_AT.labels(dependency).set(now)
