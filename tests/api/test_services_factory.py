"""The app takes its services from the caller (`create_app(settings, services_factory)`): here
real clients, one of them pointed at a port where no server listens. The routes, `/health` and
the error handler all use the services the factory built."""

import pytest

from app.api.state import Services
from app.config import Settings
from devstack.config import HOST, StackConfig, free_ports
from tests.api.conftest import app_in_process, stack_settings

# Each dependency's route and a body it accepts.
DEPENDENCY_ROUTES = {
    "redis": ("/redis/test", {"key": "factory", "value": "v"}),
    "nats": ("/nats/test", {"message": "factory"}),
}


def pointed_nowhere(dependency: str) -> dict[str, str]:
    """Settings that send `dependency`'s client to a free port on this host: nothing listens."""
    port = free_ports(1)[0]
    return {
        "redis": {"redis_url": f"redis://{HOST}:{port}/0"},
        "nats": {"nats_url": f"nats://{HOST}:{port}"},
    }[dependency]


@pytest.mark.parametrize("dependency", sorted(DEPENDENCY_ROUTES))
def test_a_dependency_the_factory_points_at_no_server_is_a_503_naming_it(
    stack: StackConfig, dependency: str
) -> None:
    nowhere = pointed_nowhere(dependency)

    def services(settings: Settings) -> Services:
        return Services.create(settings.model_copy(update=nowhere))

    with app_in_process(stack_settings(stack), services) as client:
        health = client.get("/health")
        assert health.status_code == 503, health.text
        checks = health.json()["checks"]
        assert checks[dependency]["status"] == "down", checks
        assert {name for name, check in checks.items() if check["status"] == "up"} == (
            set(checks) - {dependency}
        )
        path, body = DEPENDENCY_ROUTES[dependency]
        failed = client.post(path, json=body)
        assert failed.status_code == 503, failed.text
        assert failed.json()["dependency"] == dependency
        assert client.get("/version").status_code == 200
