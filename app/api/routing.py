"""A route class for JSON bodies: one content-type policy and clear 400/415 errors.

PowerShell's `Invoke-RestMethod -Body '{...}'` sends POST bodies form-encoded and PUT bodies
with no Content-Type at all; the README's check calls must work as written, so such a body
is read as JSON. A browser on another origin can send exactly those content types without
a CORS preflight, so the leniency applies only to requests no browser sent: browsers mark
theirs with `Origin` or `Sec-Fetch-Site`, PowerShell, curl and other tools send neither.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute

JSON_CONTENT_TYPE = b"application/json"
LENIENT_CONTENT_TYPES = (b"", b"application/x-www-form-urlencoded", b"text/plain")
METHODS_WITH_BODY = frozenset(("POST", "PUT", "PATCH"))
# `none` is a request the user typed or bookmarked; anything else came from a page.
BROWSER_CONTEXT_HEADERS = (b"origin", b"sec-fetch-site")


def media_type(headers: list[tuple[bytes, bytes]]) -> bytes:
    declared = next((value for name, value in headers if name == b"content-type"), b"")
    return declared.split(b";")[0].strip().lower()


def is_json(declared: bytes) -> bool:
    return declared == JSON_CONTENT_TYPE or (
        declared.startswith(b"application/") and declared.endswith(b"+json")
    )


def sent_by_a_page(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name in BROWSER_CONTEXT_HEADERS and not (name == b"sec-fetch-site" and value == b"none"):
            return True
    return False


def unsupported(message: str) -> HTTPException:
    return HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, message)


def as_json_request(request: Request) -> Request:
    """The same request, declaring the JSON it carries."""
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    request.scope["headers"] = [*headers, (b"content-type", JSON_CONTENT_TYPE)]
    return Request(request.scope, request.receive)


async def check_json_body(request: Request) -> None:
    """400 naming the problem when the body is not UTF-8 or not JSON (parsed once, cached)."""
    body = await request.body()
    if not body:
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"request body is not valid UTF-8 (byte {error.start}: {error.reason})",
        ) from None
    try:
        await request.json()
    except json.JSONDecodeError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"request body is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})",
        ) from None


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            if request.scope["method"] in METHODS_WITH_BODY:
                headers = request.scope["headers"]
                declared = media_type(headers)
                if not is_json(declared):
                    if declared not in LENIENT_CONTENT_TYPES:
                        raise unsupported(
                            f"unsupported Content-Type '{declared.decode('latin-1')}': "
                            "send application/json"
                        )
                    if sent_by_a_page(headers):
                        raise unsupported(
                            "requests from web pages must send Content-Type: application/json"
                        )
                    request = as_json_request(request)
                await check_json_body(request)
            return await handler(request)

        return handle
