"""`make bench`: run every benchmark against a stack of its own and write RESULTS.md/results.json.

The stack is devstack's (the code `make up` and the tests use) on free loopback ports in a
temporary state directory, so a running `make up` stack is left alone. wrk must be installed.
"""

import asyncio
import contextlib
import os
import sys
from typing import Any

import uvloop

from bench import brokers, health, http_cpu, middleware_cost, startup, workflows
from bench.bare_apps import FACTORIES
from bench.platform_variants import RUNGS
from bench.report import Result, machine, write_json, write_markdown
from bench.servers import (
    Server,
    bare_server,
    new_stack_config,
    platform_rung,
    remove_state,
    stack_api,
)
from bench.wrk import WrkMissingError, wrk_version
from devstack.config import StackConfig
from devstack.servers.base import StackError
from devstack.stack import down


async def measure_running_stack(
    config: StackConfig, others: dict[str, Server], details: dict[str, Any]
) -> list[Result]:
    """Sections that need the running stack; one uvloop event loop, like the API's."""
    results: list[Result] = []
    print("== 1. CPU per request of the server process (wrk)", flush=True)
    targets = {"platform": stack_api(config), **others}
    results += await http_cpu.measure(targets, details)
    print("== 3. /health against the raw dependency checks", flush=True)
    results += await health.measure(config, details)
    print("== 4. workflows", flush=True)
    results += await workflows.measure(config, details)
    print("== 5. brokers through the API against the raw clients", flush=True)
    results += await brokers.measure(config, details)
    return results


def run_suite(details: dict[str, Any]) -> list[Result]:
    print("== 2. telemetry middleware (in process)", flush=True)
    results = middleware_cost.measure(details)
    config = new_stack_config()
    log_dir = config.state_dir / "logs"
    try:
        print("== 6. start-up (devstack.stack.up)", flush=True)
        results += startup.measure(config, details)
        with contextlib.ExitStack() as servers:
            others = {kind: servers.enter_context(bare_server(kind, log_dir)) for kind in FACTORIES}
            for rung in RUNGS[1:]:  # the first rung is the stack's own API
                others[rung] = servers.enter_context(platform_rung(rung, config, log_dir))
            results += asyncio.run(
                measure_running_stack(config, others, details),
                loop_factory=uvloop.new_event_loop,
            )
    finally:
        down(config)
        remove_state(config)
    return sorted(results, key=lambda result: result.section)


def main() -> int:
    try:
        wrk = wrk_version()
    except WrkMissingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    details: dict[str, Any] = {}
    try:
        results = run_suite(details)
    except StackError as error:
        print(f"error: the benchmark stack did not start: {error}", file=sys.stderr)
        return 1
    info = machine({"wrk": wrk})
    info["load_average_1m"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    write_json(results, info, details)
    path = write_markdown(results, info, details)
    failed = [result.metric for result in results if not result.passed]
    print(f"\nWrote {path} and {path.with_name('results.json')}")
    print(f"{len(results) - len(failed)} of {len(results)} goals met", flush=True)
    for metric in failed:
        print(f"  missed: {metric}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
