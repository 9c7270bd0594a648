"""The image, run for real: API and worker containers from it against the test stack's servers.

They run as `podman run --read-only --tmpfs /tmp --cap-drop ALL` on slirp4netns, so the stack
on the host's 127.0.0.1 is 10.0.2.2 inside. The API container starts before its (fresh)
database exists, so it must wait, then migrate it; the worker container polls a task queue of
its own, so only it can complete the workflow the API container starts.
"""

import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstack.config import DATABASE_PASSWORD, DATABASE_USER, HOST, StackConfig, free_ports
from devstack.servers.postgres import connect as postgres_connect
from tests.image.image_containers import BuiltImage, Container, podman, podman_json
from tests.waiting import answers_ok, poll

HOST_FROM_CONTAINER = "10.0.2.2"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
DATABASE = f"sbs_image_{RUN_ID.replace('-', '_')}"
TASK_QUEUE = f"image-test-{RUN_ID}"
DRAIN_SECONDS = 1
# What a pod or compose gives the containers: drain + uvicorn's 10 s (API) or the worker's
# graceful_shutdown_timeout of 10 s, plus a margin.
GRACE_SECONDS = {"api": DRAIN_SECONDS + 10 + 5, "worker": 10 + 5}
SHUTDOWN_LOGGED = re.compile(r"shutdown|shutting down", re.IGNORECASE)

RunContainer = Callable[..., Container]


def container_environment(stack: StackConfig) -> dict[str, str]:
    ports = stack.ports
    return {
        "DATABASE_URL": (
            f"postgresql+psycopg://{DATABASE_USER}:{DATABASE_PASSWORD}"
            f"@{HOST_FROM_CONTAINER}:{ports['postgresql']}/{DATABASE}"
        ),
        "DATABASE_WAIT_TIMEOUT": "60",
        "TEMPORAL_HOST": HOST_FROM_CONTAINER,
        "TEMPORAL_PORT": str(ports["temporal"]),
        "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
        "TEMPORAL_WAIT_TIMEOUT": "60",
        "REDIS_URL": f"redis://{HOST_FROM_CONTAINER}:{ports['redis']}/0",
        "NATS_URL": f"nats://{HOST_FROM_CONTAINER}:{ports['nats']}",
        "SBS_API_TOKEN": stack.api_token,
        "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
    }


class ApiContainer(Container):
    url: str
    log_before_database: str


@pytest.fixture(scope="module")
def api_container(stack: StackConfig, run_container: RunContainer) -> ApiContainer:
    (port,) = free_ports(1)
    container = run_container(
        f"sbs-image-test-api-{RUN_ID}",
        container_environment(stack),
        "--publish",
        f"{HOST}:{port}:8000",
    )
    api = ApiContainer(container.name)
    api.url = f"http://{HOST}:{port}"
    # Its database does not exist yet: the entrypoint must keep waiting for it.
    api.log_before_database = api.wait_for_log("waiting for database", timeout=60)
    with postgres_connect(stack, "postgres") as connection:
        connection.execute(f'CREATE DATABASE "{DATABASE}"')

    def healthy() -> bool:
        assert api.inspect()["State"]["Running"], api.logs()
        return answers_ok(f"{api.url}/health")

    if not poll(healthy, bool, 90, interval=0.5):
        raise AssertionError(f"the API container never got healthy:\n{api.logs()}")
    return api


@pytest.fixture(scope="module")
def worker_container(stack: StackConfig, run_container: RunContainer) -> Container:
    worker = run_container(
        f"sbs-image-test-worker-{RUN_ID}",
        container_environment(stack),
        command=("scripts/start_worker.sh",),
    )
    worker.wait_for_log("worker started", timeout=60)
    return worker


def test_api_container_waits_for_the_database_migrates_it_and_is_healthy(
    api_container: ApiContainer, stack: StackConfig
) -> None:
    assert "migrations done" not in api_container.log_before_database
    health = httpx.get(f"{api_container.url}/health", timeout=10)
    assert health.status_code == 200, health.text
    with postgres_connect(stack, DATABASE) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone() or ()
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables")}
    assert revision
    assert "system_settings" in tables
    assert "migrations done" in api_container.logs()


def test_worker_container_completes_a_workflow_started_through_the_api_container(
    api_container: ApiContainer, request: pytest.FixtureRequest
) -> None:
    started = httpx.post(f"{api_container.url}/test-workflow", json={"name": "Image"}, timeout=30)
    assert started.status_code == 202, started.text
    workflow = started.json()
    assert workflow["task_queue"] == TASK_QUEUE
    state_url = f"{api_container.url}/test-workflow/{workflow['workflow_id']}"
    time.sleep(1)
    # No worker polls this queue yet (the stack's own worker serves another one).
    assert httpx.get(state_url, timeout=10).json()["status"] == "RUNNING"

    request.getfixturevalue("worker_container")
    state: dict[str, Any] = poll(
        lambda: httpx.get(state_url, timeout=10).json(),
        lambda state: state["status"] != "RUNNING",
        60,
        interval=0.3,
    )
    assert state["status"] == "COMPLETED", state
    assert state["result"] == "Hello, Image!"


def test_the_worker_container_healthcheck_passes_once_temporal_sees_its_pollers(
    worker_container: Container,
) -> None:
    check = poll(
        lambda: podman("healthcheck", "run", worker_container.name, timeout=30, check=False),
        lambda check: check.returncode == 0,
        60,
        interval=1,
    )
    assert check.returncode == 0, f"worker never healthy: {check.stdout}\n{worker_container.logs()}"


@pytest.mark.parametrize("role", ["api", "worker"])
def test_containers_run_as_10001_on_a_read_only_root_without_capabilities(
    role: str, request: pytest.FixtureRequest
) -> None:
    container: Container = request.getfixturevalue(f"{role}_container")
    details = container.inspect()
    assert details["Config"]["User"] == "10001:10001"
    assert details["HostConfig"]["ReadonlyRootfs"] is True
    status = container.exec("cat", "/proc/1/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == ["10001"] * 4
    assert fields["Gid"].split() == ["10001"] * 4
    for capability_set in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[capability_set], 16) == 0, (capability_set, fields[capability_set])
    denied = container.exec("touch", "/app/written", "/opt/venv/written", "/etc/written")
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr
    assert container.exec("touch", "/tmp/written").returncode == 0  # the one writable place


def test_image_declares_user_10001_and_a_healthcheck(image: BuiltImage) -> None:
    (details,) = podman_json("image", "inspect", image.name)
    config = details["Config"]
    assert config["User"] == "10001:10001"
    healthcheck = details.get("Healthcheck") or config.get("Healthcheck")
    assert healthcheck, "HEALTHCHECK lost (build without --format docker?)"
    assert healthcheck["Test"][-3:] == ["python", "-m", "app.healthcheck"]


def test_healthcheck_passes_on_a_healthy_api_and_fails_on_a_stopped_one(
    api_container: ApiContainer,
) -> None:
    assert podman("healthcheck", "run", api_container.name, check=False).returncode == 0
    pid = api_container.inspect()["State"]["Pid"]
    os.kill(pid, signal.SIGSTOP)  # the API process stops answering; the container stays up
    try:
        stopped = podman("healthcheck", "run", api_container.name, timeout=30, check=False)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert stopped.returncode != 0, stopped.stdout
    assert podman("healthcheck", "run", api_container.name, check=False).returncode == 0


@pytest.mark.parametrize("role", ["api", "worker"])
def test_sigterm_stops_each_container_gracefully_within_its_grace_period(
    role: str, request: pytest.FixtureRequest
) -> None:
    container: Container = request.getfixturevalue(f"{role}_container")
    grace = GRACE_SECONDS[role]
    assert not SHUTDOWN_LOGGED.search(container.logs()), "shutdown logged before SIGTERM"
    started = time.monotonic()
    # podman stop sends SIGTERM and waits `--time` seconds before a SIGKILL.
    podman("stop", "--time", str(grace), container.name, timeout=grace + 30)
    elapsed = time.monotonic() - started
    state = container.inspect()["State"]
    logs = container.logs()
    assert state["ExitCode"] == 0, f"exit code {state['ExitCode']}:\n{logs[-3000:]}"
    assert elapsed < grace, f"{role} took {elapsed:.1f} s (grace {grace} s)"
    assert SHUTDOWN_LOGGED.search(logs), logs[-3000:]
