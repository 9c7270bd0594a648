"""MAX_REQUEST_BODY_BYTES, enforced while the body streams in: a 413 that names the limit.

A declared Content-Length over the limit is refused before the application runs; a body
without one (chunked) is counted as it arrives and refused once it passes the limit, so no
more than the limit is ever held. FastAPI's own `max_body_size` answers a plain-text
"Content Too Large" that names no limit, whatever the application's handlers say.
"""

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_detail(limit: int) -> str:
    return f"request body exceeds MAX_REQUEST_BODY_BYTES ({limit} bytes)"


def too_large_response(limit: int) -> JSONResponse:
    """Closes the connection: the rest of such a body is not worth reading."""
    return JSONResponse(
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        content={"detail": too_large_detail(limit)},
        headers={"Connection": "close"},
    )


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, too_large_detail(limit))
        self.limit = limit


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await too_large_response(limit)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, receive_within_limit, send)
