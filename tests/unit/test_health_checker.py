"""HealthChecker: concurrent checks, each bounded by its timeout, failures named, and one
in-flight evaluation shared by concurrent callers."""

import asyncio
import time

from app.health import HealthChecker
from app.services.errors import DependencyUnavailableError


async def test_all_up_reports_latency() -> None:
    async def ok() -> None:
        return None

    report = await HealthChecker({"a": ok, "b": ok}, timeout=1).report()
    assert report.healthy
    assert report.failing == []
    assert set(report.checks) == {"a", "b"}
    assert all(check["status"] == "up" for check in report.checks.values())


async def test_failures_are_named_and_timeouts_bounded() -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    async def refuses() -> None:
        raise DependencyUnavailableError("redis", "connection refused")

    async def crashes() -> None:
        raise ValueError("driver bug")

    async def ok() -> None:
        return None

    started = time.perf_counter()
    report = await HealthChecker(
        {"slow": hangs, "redis": refuses, "odd": crashes, "fine": ok}, timeout=0.2
    ).report()
    elapsed = time.perf_counter() - started
    assert elapsed < 5  # cut at 0.2 s, not left to hang for 10 s
    assert not report.healthy
    assert report.failing == ["slow", "redis", "odd"]
    assert report.checks["slow"]["error"] == "timeout: no answer within 0.2s"
    assert report.checks["redis"]["error"] == "connection refused"
    assert report.checks["odd"]["error"] == "ValueError: driver bug"
    assert report.checks["fine"]["status"] == "up"


async def test_concurrent_callers_share_one_evaluation() -> None:
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)

    checker = HealthChecker({"db": counted}, timeout=1)
    reports = await asyncio.gather(*(checker.report() for _ in range(20)))
    assert calls == 1
    assert all(report.healthy for report in reports)
    await checker.report()
    assert calls == 2  # a later call evaluates afresh


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.1)

    checker = HealthChecker({"db": slow}, timeout=1)
    first = asyncio.create_task(checker.report())
    second = asyncio.create_task(checker.report())
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await second).healthy


async def test_a_check_that_absorbs_its_cancellation_is_still_cut_at_the_timeout() -> None:
    """psycopg answers a cancellation by waiting (up to 10 s) for the server to cancel the
    query; a frozen server never does. The answer must not wait for that clean-up."""
    cleaned_up = asyncio.Event()

    async def absorbs_cancellation() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(5)  # the driver's clean-up, still running after the answer
            cleaned_up.set()
            raise

    started = time.perf_counter()
    report = await HealthChecker({"postgresql": absorbs_cancellation}, timeout=0.2).report()
    elapsed = time.perf_counter() - started
    assert report.checks["postgresql"]["status"] == "down"
    assert elapsed < 3, elapsed  # 0.2 s plus scheduling, not 0.2 + 5 s
    assert not cleaned_up.is_set()
