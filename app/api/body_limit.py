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


def body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None when absent or not a number), and whether that
    frames the body: a valid Content-Length, or neither it nor Transfer-Encoding (then
    HTTP/1.1 says there is no body, RFC 9112 6.3). The HTTP parser delivers no more than
    a framing Content-Length; only other bodies must be counted as they stream in."""
    length: int | None = None
    has_length = has_transfer_encoding = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            has_length = True
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            has_transfer_encoding = True
    framed = (length is not None or not has_length) and not has_transfer_encoding
    return length, framed


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared, framed = body_framing(scope)
        if declared is not None and declared > limit:
            await too_large_response(limit)(scope, receive, send)
            return
        if framed:
            await self.app(scope, receive, send)
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
