"""API-level tests: the app runs in this process, its services on the session's real stack.

`create_app` as the API's server builds it (routes, error handlers, body limit, telemetry), its
lifespan (the services, the start-up check) entered, served through httpx's ASGI transport
(tests/api/in_process.py). No uvicorn process and no socket per request, and still the stack's
real PostgreSQL, Redis, NATS and Temporal (its worker runs the workflows). What needs a server
process (signals, drain, limits the HTTP server enforces, faults, a process's metrics) stays in
tests/integration.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from app.api.main import ServicesFactory, create_app
from app.api.state import Services
from app.config import Settings
from devstack.config import StackConfig
from tests.api.in_process import served_in_process
from tests.waiting import wait_for

READY_WITHIN_SECONDS = 30  # the start-up check: one round trip to each dependency


def stack_settings(stack: StackConfig, **variables: str) -> Settings:
    """The settings the stack gives its own API (`variables` override them), no .env read."""
    return Settings(_env_file=None, **{**stack.app_environment(), **variables})  # type: ignore[arg-type]


@contextmanager
def app_in_process(
    settings: Settings, services_factory: ServicesFactory = Services.create
) -> Iterator[httpx.Client]:
    """The app, started (its lifespan entered) and ready, and a client calling it in process."""
    with served_in_process(create_app(settings, services_factory)) as client:
        wait_for(
            lambda: client.get("/health/ready").status_code == 200,
            READY_WITHIN_SECONDS,
            "the in-process app ready",
        )
        yield client


@pytest.fixture(scope="session")
def api(stack: StackConfig) -> Iterator[httpx.Client]:
    """The API in this process against the session's stack (it replaces the API process)."""
    with app_in_process(stack_settings(stack)) as client:
        yield client
