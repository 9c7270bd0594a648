"""The API served in this process: httpx's ASGI transport and the app's lifespan, no socket.

The app runs on an event loop of its own, in a thread, as it would in its server: its lifespan
builds the services and runs the start-up check there, and every request is handed to
`httpx.ASGITransport` on that loop. The tests hold a plain `httpx.Client` whose transport does
the hand-over, so a test reads the same whether the API is in process or a server process.
"""

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI

BASE_URL = "http://sbs.in-process"
# One request's bound, as the process clients use (`?wait=true` waits up to REQUEST_TIMEOUT).
REQUEST_TIMEOUT_SECONDS = 30


class AppLoop:
    """An event loop in a thread of its own, running what it is given."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="in-process-app")
        self.thread.start()

    def run[T](self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


class InProcessTransport(httpx.BaseTransport):
    """A synchronous transport that passes each request to `httpx.ASGITransport` on the
    app's loop and returns its response, body and all (the app's bytes, still encoded)."""

    def __init__(self, app: FastAPI, app_loop: AppLoop) -> None:
        # An unexpected error is a 500 response, as the server answers, not an exception here.
        self.asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.app_loop = app_loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self.asgi.handle_async_request(forwarded)
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            return response.status_code, response.headers.raw, raw

        try:
            status, headers, raw = self.app_loop.run(send(), REQUEST_TIMEOUT_SECONDS)
        except TimeoutError as error:
            raise httpx.ReadTimeout(
                f"no answer in {REQUEST_TIMEOUT_SECONDS}s", request=request
            ) from error
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(raw), request=request
        )


@contextmanager
def served_in_process(app: FastAPI, startup_seconds: float = 60) -> Iterator[httpx.Client]:
    """`app` started (its lifespan entered) on a loop of its own, and a client for it; the
    lifespan is left and the loop stopped afterwards."""
    app_loop = AppLoop()
    try:
        lifespan = app.router.lifespan_context(app)
        app_loop.run(lifespan.__aenter__(), startup_seconds)
        try:
            transport = InProcessTransport(app, app_loop)
            with httpx.Client(
                transport=transport, base_url=BASE_URL, timeout=REQUEST_TIMEOUT_SECONDS
            ) as client:
                yield client
        finally:
            app_loop.run(lifespan.__aexit__(None, None, None), startup_seconds)
    finally:
        app_loop.close()
