"""One access line through each way of writing structured logs: CPU per line, in process.

- `platform`: `app.logging_setup.write_access_line` (queued, then built and serialized in a
  batch by the background writer; the flush is timed with the lines);
- `stdlib + platform JsonFormatter`: a LogRecord through `logging` with the platform's
  formatter and a stream handler (what every access line cost before);
- `python-json-logger`: its `JsonFormatter` on the same logging path;
- `structlog`: `JSONRenderer` with a timestamper, printing to the stream (its fastest setup:
  no stdlib integration, a cached logger).

Every variant writes to /dev/null; the stream ones with a `write` per line as a logging
handler does. `python -m bench.logging_libraries [ROUNDS]`.
"""

import contextlib
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import structlog
from pythonjsonlogger.json import JsonFormatter as LibraryJsonFormatter

from app.logging_setup import (
    JsonFormatter,
    configure_logging,
    flush_access_log,
    write_access_line,
)

LINES_PER_ROUND = 20_000
FIELDS: dict[str, Any] = {
    "request_id": "9f1c2e4b5a6d7e8f0011223344556677",
    "method": "GET",
    "route": "/settings/{key}",
    "path": "/settings/core.version",
    "status": 200,
    "duration_ms": 0.412,
    "client": "127.0.0.1",
}
MESSAGE = "GET /settings/core.version 200 0.4ms"


def _logging_variant(stream: TextIO, formatter: logging.Formatter) -> Callable[[], None]:
    logger = logging.Logger("bench.access")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.addHandler(handler)

    def write() -> None:
        logger.info(MESSAGE, extra=FIELDS)

    return write


def _structlog_variant(stream: TextIO) -> Callable[[], None]:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    logger = structlog.get_logger("sbs.access")

    def write() -> None:
        logger.info(MESSAGE, **FIELDS)

    return write


def _platform_variant() -> Callable[[], None]:
    def write() -> None:
        write_access_line(logging.INFO, _as_given, MESSAGE, FIELDS)

    return write


def _as_given(message: str, fields: dict[str, object]) -> tuple[str, dict[str, object]]:
    return message, fields


def _cpu_per_line(write: Callable[[], None], count: int) -> float:
    """CPU of the whole process (the platform's log writer thread included), queued lines
    written out included."""
    started = time.process_time()
    for _ in range(count):
        write()
    flush_access_log()
    return (time.process_time() - started) / count * 1e6


def run(rounds: int = 5) -> dict[str, float]:
    """Median CPU µs per line of each variant."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        configure_logging("INFO", "json")
        variants = {
            "platform": _platform_variant(),
            "stdlib + platform JsonFormatter": _logging_variant(devnull, JsonFormatter()),
            "python-json-logger": _logging_variant(devnull, LibraryJsonFormatter()),
            "structlog": _structlog_variant(devnull),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for round_number in range(rounds + 1):
                names = list(variants) if round_number % 2 else list(reversed(variants))
                for name in names:
                    value = _cpu_per_line(variants[name], LINES_PER_ROUND)
                    if round_number:  # round 0 warms up
                        samples[name].append(value)
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
    return {name: round(statistics.median(values), 2) for name, values in samples.items()}


def main() -> int:
    for name, value in run(int(sys.argv[1]) if len(sys.argv) > 1 else 5).items():
        print(f"{name:<34} {value:6.2f} µs per line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
