"""Error responses: a dependency outage is a 503 naming it; nothing leaks a traceback."""

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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


def json_safe(value: Any) -> Any:
    """Non-finite floats (a client may send NaN) as strings: strict JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    return value


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so echoing a client's lone surrogate cannot fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 body (`detail` lists each field's `loc` and `msg`), safe for any input."""
    assert isinstance(error, RequestValidationError)
    return AsciiJSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": json_safe(jsonable_encoder(error.errors()))},
    )


async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal error; see the server log"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(DependencyUnavailableError, dependency_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
