"""The error statuses a route can answer, for its OpenAPI `responses`."""

from typing import Any

DESCRIPTIONS = {
    400: "The body is not valid UTF-8 or not valid JSON; `detail` says which.",
    401: "Missing or invalid bearer token (`WWW-Authenticate` says which).",
    403: "The token lacks the route's scope (`detail` names it), or a rule forbids the call.",
    404: "Not found.",
    413: "The body exceeds MAX_REQUEST_BODY_BYTES.",
    415: "Content-Type is not JSON (or a web page sent a non-JSON body).",
    422: "A field is invalid; `detail` names it.",
    431: "The request headers exceed MAX_REQUEST_HEADER_BYTES.",
    503: "A dependency is unavailable; `dependency` names it.",
}
# Every route can answer 431: the server checks the headers before any route runs.
BODY_ERRORS = (400, 413, 415, 422)


def described(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for `codes`, plus the 431 every route can answer."""
    return {code: {"description": DESCRIPTIONS[code]} for code in (*codes, 431)}
