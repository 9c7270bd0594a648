"""The platform's API with one part taken away at a time: the rungs that account for its CPU.

`python -m bench.platform_variants RUNG PORT` serves the platform's app (`create_app`, the
stack's settings from the environment) on loopback, each rung removing one more part than the
one before, so the difference between two neighbours is what that part costs a request in the
whole process under wrk:

- `served`: `app.api.server.serve`, as `make up` runs it (the same as the stack's own API);
- `no access line`: LOG_LEVEL=WARNING, so no access line is formatted or written;
- `stock protocol`: uvicorn's own httptools protocol, no connection limit (no head deadline
  and size cap);
- `no telemetry`: the telemetry middleware taken out (no request id, metrics, access line);
- `no body limit`: the body limit middleware taken out too: the platform's routes on FastAPI.
"""

import os
import sys

import uvicorn

from app.api.body_limit import BodyLimitMiddleware
from app.api.main import create_app
from app.api.server import serve
from app.config import get_settings
from app.logging_setup import configure_logging
from app.telemetry import TelemetryMiddleware
from bench.bare_apps import UVICORN_OPTIONS

RUNGS = ("served", "no access line", "stock protocol", "no telemetry", "no body limit")


def main(rung: str, port: int) -> None:
    if rung not in RUNGS:
        raise SystemExit(f"unknown rung {rung!r}; one of {', '.join(RUNGS)}")
    os.environ["API_PORT"] = str(port)
    if rung != "served":
        os.environ["LOG_LEVEL"] = "WARNING"
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if rung in ("served", "no access line"):
        serve(settings)
        return
    app = create_app(settings)
    taken: list[object] = []
    if rung in ("no telemetry", "no body limit"):
        taken.append(TelemetryMiddleware)
    if rung == "no body limit":
        taken.append(BodyLimitMiddleware)
    app.user_middleware = [m for m in app.user_middleware if m.cls not in taken]
    uvicorn.run(
        app, host=settings.api_host, port=port, log_config=None, access_log=False, **UVICORN_OPTIONS
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
