"""Section 2: per-request cost of the telemetry middleware (bench_middleware.run, in process),
with the layer-by-layer cost of a trivial route (app_floor) and the logging libraries compared."""

from typing import Any

from bench import app_floor, bench_middleware, logging_libraries
from bench.report import Result

ROUNDS = 10


def measure(details: dict[str, Any]) -> list[Result]:
    figures = bench_middleware.run(rounds=ROUNDS)
    details["middleware"] = figures
    print(f"  middleware {figures}", flush=True)
    details["app_floor"] = app_floor.run()
    print(f"  app floor {details['app_floor']['cpu_us_per_request']}", flush=True)
    details["logging_libraries_cpu_us_per_line"] = logging_libraries.run()
    print(f"  logging {details['logging_libraries_cpu_us_per_line']}", flush=True)
    return [
        Result(
            section="2",
            metric="telemetry middleware cost per request (CPU)",
            unit="µs",
            platform=figures["overhead_us_per_request"],
            baseline=None,
            baseline_name="",
            goal_kind="value<=",
            goal_value=figures["goal_us_per_request"],
            note=(
                f"app with it {figures['instrumented_us_per_request']:.1f} µs vs bare "
                f"{figures['bare_us_per_request']:.1f} µs; without the access log line "
                f"{figures['overhead_without_access_log_us_per_request']:.1f} µs"
            ),
        )
    ]
