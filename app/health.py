"""Dependency health: every check runs concurrently under its own timeout.

Concurrent callers share one in-flight evaluation, so a burst of probes costs the
dependencies one round of checks, not one per caller.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.services.errors import DependencyUnavailableError, describe

Check = Callable[[], Awaitable[None]]
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

    async def report(self) -> HealthReport:
        if self._in_flight is None:
            self._in_flight = asyncio.ensure_future(self._evaluate())
            self._in_flight.add_done_callback(self._forget)
        return await asyncio.shield(self._in_flight)

    def _forget(self, _: "asyncio.Future[HealthReport]") -> None:
        self._in_flight = None

    async def _evaluate(self) -> HealthReport:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        report = HealthReport(all(r["status"] == "up" for r in results), checks)
        if self._on_report is not None:
            self._on_report(report)
        return report

    async def _run(self, check: Check) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), self._timeout)
            error = None
        except TimeoutError:
            error = f"no answer within {self._timeout:g}s"
        except DependencyUnavailableError as failure:
            error = failure.reason
        except Exception as failure:  # any other driver error is still "down", never a 500
            error = describe(failure)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        if error is None:
            return {"status": "up", "latency_ms": latency_ms}
        return {"status": "down", "latency_ms": latency_ms, "error": error}
