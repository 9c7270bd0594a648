"""The build identifier's fallbacks, and the worker's liveness endpoint over real HTTP."""

import httpx

from app.temporal.health_server import HealthServer
from app.version import resolve_build
from devstack.config import free_ports


def test_app_build_wins() -> None:
    assert resolve_build("abc123") == "abc123"


def test_git_commit_when_no_build_is_given() -> None:
    build = resolve_build("")
    assert build == "unknown" or (len(build) >= 7 and all(c in "0123456789abcdef" for c in build))


async def test_worker_health_server_reflects_liveness_and_readiness() -> None:
    port = free_ports(1)[0]
    server = HealthServer("127.0.0.1", port)
    await server.start()
    alive = False
    server.set_alive(lambda: alive)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            assert (await client.get("/health/live")).status_code == 503
            alive = True
            response = await client.get("/health/live")
            assert response.status_code == 200
            assert response.text == "ok"
            assert (await client.get("/health/ready")).status_code == 503  # until set_ready
            ready = False
            server.set_ready(lambda: ready)
            assert (await client.get("/health/ready")).status_code == 503
            ready = True
            assert (await client.get("/health/ready")).status_code == 200
            assert (await client.get("/other")).status_code == 404
    finally:
        await server.stop()
