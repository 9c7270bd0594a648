"""The baselines: a bare FastAPI app and a raw Starlette app with the platform's two cheap routes.

`python -m bench.bare_apps fastapi|starlette PORT` serves one on loopback with the same
uvicorn settings as `run_api.py` (one process, auto loop/http: uvloop + httptools when installed).
"""

import sys

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import __version__

VERSION_BODY = {"version": __version__, "build": "bench"}
LIVE_BODY = {"status": "alive"}


def create_fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/version")
    async def version() -> dict[str, str]:
        return VERSION_BODY

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return LIVE_BODY

    return app


async def starlette_version(request: Request) -> JSONResponse:
    return JSONResponse(VERSION_BODY)


async def starlette_live(request: Request) -> JSONResponse:
    return JSONResponse(LIVE_BODY)


def create_starlette_app() -> Starlette:
    return Starlette(
        routes=[Route("/version", starlette_version), Route("/health/live", starlette_live)]
    )


FACTORIES = {"fastapi": create_fastapi_app, "starlette": create_starlette_app}


def serve(kind: str, host: str, port: int) -> None:
    """Mirror of run_api.serve: the uvicorn arguments must stay the same for a fair comparison."""
    uvicorn.run(
        f"bench.bare_apps:{FACTORIES[kind].__name__}",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    serve(sys.argv[1], "127.0.0.1", int(sys.argv[2]))
