"""Health: liveness without I/O, readiness and /health checking every dependency."""

from typing import Any

from fastapi import APIRouter, Response, status

from app import __version__
from app.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up and serving; checks nothing else (for liveness probes)."""
    return {"status": "alive"}


@router.get(
    "/health",
    responses={503: {"description": "At least one dependency is down; `failing` names it."}},
)
async def health(services: ServicesDep, response: Response) -> dict[str, Any]:
    """PostgreSQL, Redis, NATS and Temporal, checked concurrently, each under its own timeout."""
    report = await services.health.report()
    body: dict[str, Any] = {
        "status": "healthy" if report.healthy else "unhealthy",
        "version": __version__,
        "checks": report.checks,
    }
    if not report.healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        body["failing"] = report.failing
    return body


router.add_api_route(
    "/health/ready",
    health,
    methods=["GET"],
    summary="Ready",
    description="Same as /health: ready only when every dependency answers (readiness probes).",
    responses={503: {"description": "At least one dependency is down."}},
)
