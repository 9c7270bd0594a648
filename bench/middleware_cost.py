"""Section 2: per-request cost of the telemetry middleware (bench_middleware.run, in process),
with the layer-by-layer cost of a trivial route (app_floor), the logging libraries compared and
what tracing costs when no OTEL_* variable asks for it (bench_tracing)."""

from typing import Any

from bench import app_floor, bench_middleware, bench_tracing, logging_libraries
from bench.report import Result

ROUNDS = 10
# "Nothing measurable": with the hook a no-op, "off" and "none" are the same app, and the
# medians of two identical apps differ by up to 1-2 µs from round noise on this machine.
TRACING_OFF_GOAL_US = 2.0


def measure(details: dict[str, Any]) -> list[Result]:
    figures = bench_middleware.run(rounds=ROUNDS)
    details["middleware"] = figures
    print(f"  middleware {figures}", flush=True)
    details["app_floor"] = app_floor.run()
    print(f"  app floor {details['app_floor']['cpu_us_per_request']}", flush=True)
    details["logging_libraries_cpu_us_per_line"] = logging_libraries.run()
    print(f"  logging {details['logging_libraries_cpu_us_per_line']}", flush=True)
    traces = bench_tracing.run(rounds=ROUNDS)
    details["tracing"] = traces
    print(f"  tracing {traces}", flush=True)
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
        ),
        Result(
            section="2",
            metric="tracing cost per request with OTEL_* unset (CPU)",
            unit="µs",
            platform=traces["off_cost_us_per_request"],
            baseline=None,
            baseline_name="",
            goal_kind="value<=",
            goal_value=TRACING_OFF_GOAL_US,
            note=(
                f"hook installed {traces['off_us_per_request']:.1f} µs vs no hook "
                f"{traces['none_us_per_request']:.1f} µs; with traces on, always sampled "
                f"+{traces['tracing_cost_us_per_request']:.1f} µs, sampled out "
                f"+{traces['sampled_out_cost_us_per_request']:.1f} µs"
            ),
        ),
    ]
