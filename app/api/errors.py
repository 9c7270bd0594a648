"""Error responses: a dependency outage is a 503 naming it; nothing leaks a traceback, a
secret, or more than a short excerpt of the client's input."""

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from app.api.body_limit import BodyTooLargeError, too_large_response
from app.api.deps import services_of
from app.services.errors import DependencyUnavailableError

logger = logging.getLogger(__name__)

# A 422 lists at most this many problems and echoes at most this much of each input.
MAX_LISTED_ERRORS = 10
MAX_INPUT_EXCERPT_CHARS = 120


def is_production(request: Request) -> bool:
    return services_of(request).settings.is_production


async def dependency_unavailable(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DependencyUnavailableError)
    logger.warning("%s unavailable: %s", error.dependency, error.reason)
    reason = error.cause if is_production(request) else error.reason
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={
            "detail": f"{error.dependency} unavailable: {reason}",
            "dependency": error.dependency,
        },
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


def input_excerpt(value: Any) -> Any:
    """The input as given when it is short, else the start of its JSON text."""
    encoded = json.dumps(value, ensure_ascii=True, default=str)
    if len(encoded) <= MAX_INPUT_EXCERPT_CHARS:
        return value
    return encoded[:MAX_INPUT_EXCERPT_CHARS] + f"... ({len(encoded)} characters, truncated)"


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so echoing a client's lone surrogate cannot fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 body (`detail` lists each field's `loc` and `msg`), short for any input."""
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    listed = []
    for problem in json_safe(jsonable_encoder(problems[:MAX_LISTED_ERRORS])):
        if "input" in problem:
            problem["input"] = input_excerpt(problem["input"])
        if len(json.dumps(problem.get("ctx"), default=str)) > MAX_INPUT_EXCERPT_CHARS:
            del problem["ctx"]
        listed.append(problem)
    content: dict[str, Any] = {"detail": listed}
    if len(problems) > MAX_LISTED_ERRORS:
        content["more_errors"] = len(problems) - MAX_LISTED_ERRORS
    return AsciiJSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content=content)


async def body_too_large(request: Request, error: Exception) -> Response:
    assert isinstance(error, BodyTooLargeError)
    return too_large_response(error.limit)


async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal error; see the server log"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(BodyTooLargeError, body_too_large)
    app.add_exception_handler(DependencyUnavailableError, dependency_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
