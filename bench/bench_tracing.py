"""Per-request cost of tracing, measured in process like bench_middleware (no network).

Four apps with the platform's telemetry middleware, driven by direct ASGI calls:
- "none": the app without the tracing hook at all, the reference for "off",
- "off": what every process runs when no OTEL_* variable asks for traces (app.tracing installs
  nothing; the same app as bench_middleware's instrumented one),
- "on": FastAPI server spans, always sampled, through a BatchSpanProcessor to an exporter that
  drops the batches (so the export itself, done on another thread, is not counted),
- "on, sampled out": the same with OTEL_TRACES_SAMPLER=traceidratio at 0 (spans are created
  but not recorded), what a low sampling ratio costs on most requests.
Rounds alternate and swap order; results are medians of thread CPU time per request.

    python bench/bench_tracing.py [ROUNDS]
"""

import asyncio
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, TraceIdRatioBased

from app import tracing
from bench.bench_middleware import _time_requests, build_app, json_logging_to_devnull

REQUESTS_PER_ROUND = 2000


class DroppingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def traced_app(sampler: Any) -> tuple[FastAPI, TracerProvider]:
    app = build_app(instrumented=True)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(DroppingExporter()))
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"]
    )
    return app, provider


async def _alternate(
    apps: dict[str, FastAPI], rounds: int, requests: int, samples: dict[str, list[float]]
) -> None:
    for app in apps.values():  # warm-up
        await _time_requests(app, requests // 4)
    for round_number in range(rounds):
        order = list(apps) if round_number % 2 == 0 else list(reversed(apps))
        for name in order:
            cpu, _wall = await _time_requests(apps[name], requests)
            samples.setdefault(name, []).append(cpu)


async def _measure(rounds: int, requests: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    off = build_app(instrumented=True)
    tracing.instrument_app(off, "sbs-bench")  # the real hook: a no-op without OTEL_* variables
    # "none" against "off" first, before any span processor thread exists to share the GIL.
    await _alternate({"none": build_app(instrumented=True), "off": off}, rounds, requests, samples)
    on, on_provider = traced_app(ALWAYS_ON)
    sampled_out, out_provider = traced_app(TraceIdRatioBased(0.0))
    try:
        traced = {"off_beside_traced": off, "on": on, "on_sampled_out": sampled_out}
        await _alternate(traced, rounds, requests, samples)
    finally:
        on_provider.shutdown()
        out_provider.shutdown()
    return samples


def run(rounds: int = 10, requests_per_round: int = REQUESTS_PER_ROUND) -> dict[str, Any]:
    if tracing.tracing_requested():
        raise SystemExit("unset the OTEL_* trace variables: 'off' must measure the default path")
    with json_logging_to_devnull():
        samples = asyncio.run(_measure(rounds, requests_per_round))
    cpu = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "rounds": rounds,
        "requests_per_round": requests_per_round,
        "none_us_per_request": round(cpu["none"], 2),
        "off_us_per_request": round(cpu["off"], 2),
        "off_cost_us_per_request": round(cpu["off"] - cpu["none"], 2),
        "on_us_per_request": round(cpu["on"], 2),
        "on_sampled_out_us_per_request": round(cpu["on_sampled_out"], 2),
        "tracing_cost_us_per_request": round(cpu["on"] - cpu["off_beside_traced"], 2),
        "sampled_out_cost_us_per_request": round(
            cpu["on_sampled_out"] - cpu["off_beside_traced"], 2
        ),
    }


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for key, value in run(rounds=rounds).items():
        print(f"{key:36} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
