"""Frozen dependencies (SIGSTOP of the whole process tree: TCP open, no answer): `/health`
names the frozen one within its timeout, the route that needs it answers 503 within its
request timeout, and both recover by themselves within seconds of SIGCONT, repeatedly."""

import time

import httpx
import pytest

from app.config import Settings
from devstack.config import StackConfig
from tests.integration.helpers import frozen
from tests.waiting import wait_for

FREEZE_SECONDS = 5
RECOVERY_SECONDS = 15
# Client-side scheduling on a loaded 2-core machine, not a tolerance for hanging.
MARGIN_SECONDS = 1.5
DEFAULTS = Settings()

# The route that needs each dependency, and the timeout that bounds it.
DEPENDENT_CALLS = {
    "postgresql": ("GET", "/settings/core.version", None, DEFAULTS.database_timeout),
    "redis": ("POST", "/redis/test", {"key": "freeze", "value": "v"}, DEFAULTS.request_timeout),
    "nats": ("POST", "/nats/test", {"message": "freeze"}, DEFAULTS.request_timeout),
    "temporal": ("POST", "/test-workflow", {"name": "Freeze"}, DEFAULTS.request_timeout),
}


@pytest.mark.parametrize(
    ("dependency", "round"),
    [("postgresql", 1), ("redis", 1), ("temporal", 1), ("nats", 1), ("nats", 2), ("nats", 3)],
)
def test_a_frozen_dependency_is_reported_bounded_and_healed(
    stack: StackConfig, api: httpx.Client, dependency: str, round: int
) -> None:
    method, path, payload, request_timeout = DEPENDENT_CALLS[dependency]
    assert api.get("/health").status_code == 200
    with frozen(stack, dependency):
        frozen_at = time.monotonic()
        health = api.get("/health")
        health_seconds = time.monotonic() - frozen_at
        assert health.status_code == 503, health.text
        assert health.json()["failing"] == [dependency]
        assert health.json()["checks"][dependency]["error"].startswith("timeout")
        assert health_seconds < DEFAULTS.health_check_timeout + MARGIN_SECONDS

        started = time.monotonic()
        failed = api.request(method, path, json=payload)
        route_seconds = time.monotonic() - started
        assert failed.status_code == 503, failed.text
        assert failed.json()["dependency"] == dependency
        assert route_seconds < request_timeout + MARGIN_SECONDS

        assert api.get("/version").status_code == 200  # nothing else is held up
        remaining = FREEZE_SECONDS - (time.monotonic() - frozen_at)
        if remaining > 0:
            time.sleep(remaining)

    def healed() -> bool:
        if api.get("/health").status_code != 200:
            return False
        return api.request(method, path, json=payload).status_code < 300

    wait_for(healed, RECOVERY_SECONDS, interval=0.5)
