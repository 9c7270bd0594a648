"""Dependency health: every check runs concurrently under its own timeout.

A dependency is `up` only when its check, a real round trip, has just succeeded; the timeout
holds even when a driver is slow to give up (see `app.services.deadline`).

Concurrent callers share one in-flight evaluation, so a burst of probes costs the
dependencies one round of checks, not one per caller.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from app.services.deadline import within
from app.services.errors import DependencyUnavailableError, describe

logger = logging.getLogger(__name__)

Check = Callable[[], Coroutine[Any, Any, None]]
ReportHook = Callable[["HealthReport"], None]


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    checks: dict[str, dict[str, Any]]

    @property
    def failing(self) -> list[str]:
        return [name for name, result in self.checks.items() if result["status"] != "up"]


class HealthChecker:
    def __init__(
        self, checks: dict[str, Check], timeout: float, on_report: ReportHook | None = None
    ) -> None:
        self._checks = checks
        self._timeout = timeout
        self._on_report = on_report  # e.g. app.dependency_metrics.record_health_report
        self._in_flight: asyncio.Future[HealthReport] | None = None
        self._last_status: dict[str, str] = {}

    async def report(self) -> HealthReport:
        if self._in_flight is None:
            self._in_flight = asyncio.ensure_future(self._evaluate())
            self._in_flight.add_done_callback(self._forget)
        return await asyncio.shield(self._in_flight)

    def _forget(self, _: "asyncio.Future[HealthReport]") -> None:
        self._in_flight = None

    async def _evaluate(self) -> HealthReport:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(name, self._checks[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        self._log_changes(checks)
        report = HealthReport(all(r["status"] == "up" for r in results), checks)
        if self._on_report is not None:
            self._on_report(report)
        return report

    def _log_changes(self, checks: dict[str, dict[str, Any]]) -> None:
        """The full error goes to the log once per change; public bodies may carry less."""
        for name, result in checks.items():
            previous = self._last_status.get(name)
            self._last_status[name] = result["status"]
            if result["status"] == "down" and previous != "down":
                logger.warning("dependency %s is down: %s", name, result["error"])
            elif result["status"] == "up" and previous == "down":
                logger.info("dependency %s is up again", name)

    async def _run(self, name: str, check: Check) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await within(self._timeout, name, check())
            error = None
        except DependencyUnavailableError as failure:
            error = failure.reason
        except Exception as failure:  # any other driver error is still "down", never a 500
            error = describe(failure)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        if error is None:
            return {"status": "up", "latency_ms": latency_ms}
        return {"status": "down", "latency_ms": latency_ms, "error": error}
