"""Error responses: a dependency outage is a 503 naming it; nothing leaks a traceback."""

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.services.errors import DependencyUnavailableError

logger = logging.getLogger(__name__)


async def dependency_unavailable(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DependencyUnavailableError)
    logger.warning("%s unavailable: %s", error.dependency, error.reason)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": str(error), "dependency": error.dependency},
        headers={"Retry-After": "5"},
    )


async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal error; see the server log"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DependencyUnavailableError, dependency_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
