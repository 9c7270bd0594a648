"""A route class that reads a JSON body whatever Content-Type the client declared.

PowerShell's `Invoke-RestMethod -Body '{...}'` sends form encoding by default; the README's
check calls must work as written, so a body that parses as JSON is taken as JSON.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

JSON_CONTENT_TYPES = (b"application/json",)
LENIENT_CONTENT_TYPES = (b"application/x-www-form-urlencoded", b"text/plain")


class LenientJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            headers = request.scope["headers"]
            declared = next((v for k, v in headers if k == b"content-type"), b"")
            if declared.split(b";")[0].strip().lower() in LENIENT_CONTENT_TYPES:
                request.scope["headers"] = [(k, v) for k, v in headers if k != b"content-type"] + [
                    (b"content-type", JSON_CONTENT_TYPES[0])
                ]
                request = Request(request.scope, request.receive)
            return await handler(request)

        return handle
