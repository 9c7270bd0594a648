"""Health: liveness without I/O, readiness of this instance, /health checking every dependency."""

from typing import Any, Literal

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app import __version__
from app.api.deps import services_of
from app.api.readiness import Readiness
from app.api.responses import described
from app.services.errors import short_cause

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["alive"]


# Probed constantly and always the same: encoded once, not validated and serialised per call.
_ALIVE = Liveness(status="alive").model_dump_json().encode()


@router.get("/health/live", response_model=Liveness, responses=described())
async def live() -> Response:
    """The process is up and serving; checks nothing else (for liveness probes)."""
    return Response(_ALIVE, media_type="application/json")


@router.get("/health/ready", responses=described(503))
async def ready(request: Request, response: Response) -> dict[str, str]:
    """This instance takes traffic: 503 while starting and from SIGTERM on (readiness probes).

    Shared dependencies are not checked here: one Redis blip must not take every replica out
    of its Service at once; `/health` and the alerts report them."""
    readiness: Readiness = request.app.state.readiness
    if not readiness.is_ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": readiness.state}


@router.get(
    "/health",
    responses={
        **described(),
        503: {"description": "At least one dependency is down; `failing` names it."},
    },
)
async def health(request: Request) -> JSONResponse:
    """PostgreSQL, Redis, NATS and Temporal, checked concurrently, each under its own timeout."""
    # Callers share one evaluation, so under load this route runs in bursts: it reads the
    # services off the app and encodes the small body itself, instead of a dependency and a
    # response model (≈ 50 µs of FastAPI work per caller, bench/RESULTS.md section 3).
    services = services_of(request)
    report = await services.health.report()
    checks = report.checks
    if services.settings.is_production:  # a short cause; the full error is in the log
        checks = {
            name: {**result, "error": short_cause(result["error"])} if "error" in result else result
            for name, result in checks.items()
        }
    body: dict[str, Any] = {
        "status": "healthy" if report.healthy else "unhealthy",
        "version": __version__,
        "checks": checks,
    }
    if report.healthy:
        return JSONResponse(body)
    body["failing"] = report.failing
    return JSONResponse(body, status.HTTP_503_SERVICE_UNAVAILABLE)
