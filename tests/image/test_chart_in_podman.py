"""The Helm chart's API and worker Deployments, run for real with `podman kube play`.

The chart is rendered with the bundled subcharts disabled and its external endpoints pointed at
the test stack (10.0.2.2 from a slirp4netns pod), with the image built from this checkout, once
with minimal values and once with values-production.example.yaml. The Deployments are played
exactly as rendered (command, env from the ConfigMap and the Secret, security contexts, volumes);
what podman 4.3 cannot take, and what stands in for it, is listed in tests/image/chart_pods.py.
Each value set gets a database and a login of its own, and a task queue no other worker polls.
The production example reaches Temporal with mutual TLS for real (HAProxy in front of the stack's
Temporal, the client's files from a Secret the chart mounts as files); its other dependencies'
standbys, Sentinels and TLS are moved off with their endpoints (the stack is single and plain).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trustme
import yaml

from devstack.config import HOST, StackConfig, free_ports
from devstack.servers import tls_proxy
from devstack.servers.base import venv_binary
from devstack.servers.postgres import connect as postgres_connect
from tests.deploy.helm_chart import CHART, NAMESPACE, render_chart
from tests.deploy.test_artifact_mutations import KUBE_MUTATIONS, Mutation
from tests.image.chart_pods import (
    HOST_FROM_POD,
    PROBES,
    Doc,
    PlayedPod,
    container_of,
    create_secret,
    encoded,
    find,
    play,
    point_helm_test_at,
    publish_ports,
)
from tests.image.image_containers import BuiltImage, podman
from tests.waiting import answers_ok, poll

RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
SHUTDOWN_LOGGED = re.compile(r"shutdown|shutting down", re.IGNORECASE)
STARTUP_SECONDS = 90
# What each mutation of the catalogue must be caught by (not just any failure).
KILLED_BY = {
    "kube api command": "scripts/start-api.sh: no such file",
    "kube api token variable name": "no caller could authenticate",
    "kube worker readiness path": "readinessProbe of ",
}


@dataclass
class Target:
    """What one value set runs against: its own database, login, token and task queue."""

    key: str
    database: str
    user: str
    password: str
    token: str
    task_queue: str


def make_target(stack: StackConfig, key: str) -> Target:
    name = f"kube_{key}_{RUN_ID.replace('-', '_')}"
    target = Target(
        key=key,
        database=name,
        user=name,
        password=secrets.token_hex(16),
        token=secrets.token_hex(24),
        task_queue=f"kube-{key}-{RUN_ID}",
    )
    with postgres_connect(stack, "postgres") as connection:
        connection.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{target.password}'")
        connection.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    return target


def stack_endpoints(stack: StackConfig, target: Target) -> dict[str, Any]:
    ports = stack.ports
    return {
        "config": {"temporalTaskQueue": target.task_queue},
        # A Worker Deployment of its own: promoting it moves no other test's current version.
        "worker": {"deploymentName": f"kube-{target.key}-{RUN_ID}"},
        "externalDatabase": {
            "host": HOST_FROM_POD,
            "port": ports["postgresql"],
            "user": target.user,
            "database": target.database,
        },
        "externalNats": {"url": f"nats://{HOST_FROM_POD}:{ports['nats']}"},
        "externalTemporal": {"host": HOST_FROM_POD, "port": ports["temporal"]},
        "postgresql": {"enabled": False},
        "temporal": {"enabled": False},
        "redis": {"enabled": False},
        "nats": {"enabled": False},
    }


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def image_values(image: BuiltImage) -> dict[str, Any]:
    repository, tag = image.name.rsplit(":", 1)
    return {"image": {"repository": repository, "tag": tag, "digest": ""}}


def default_values(stack: StackConfig, target: Target, image: BuiltImage) -> dict[str, Any]:
    """Minimal values: credentials inline, so the chart renders its own Secret."""
    values = merged(image_values(image), stack_endpoints(stack, target))
    values["secrets"] = {"apiToken": target.token}
    values["externalDatabase"]["password"] = target.password
    values["externalRedis"] = {"url": f"redis://{HOST_FROM_POD}:{stack.ports['redis']}/0"}
    return values


@dataclass(frozen=True)
class TemporalMtls:
    port: int  # where HAProxy serves the stack's Temporal with mutual TLS
    client_files: dict[str, str]  # ca.crt, tls.crt, tls.key: the Secret a user would create


@pytest.fixture(scope="module")
def temporal_mtls(
    stack: StackConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TemporalMtls]:
    """The stack's Temporal behind HAProxy with mTLS, its certificate named as the production
    example's externalTemporal.tls.serverName, all from a test CA made here."""
    example = yaml.safe_load((CHART / "values-production.example.yaml").read_text())
    directory = tmp_path_factory.mktemp("temporal-mtls")
    authority = trustme.CA()
    server_name = example["externalTemporal"]["tls"]["serverName"]
    authority.issue_cert(server_name).private_key_and_cert_chain_pem.write_to_path(
        str(directory / "server.pem")
    )
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    client = authority.issue_cert("sbs-worker.sbs.svc")
    proxy = tls_proxy.TlsProxy(
        listen_port=free_ports(1)[0],
        target_port=stack.ports["temporal"],
        certificate_chain=directory / "server.pem",
        client_ca=directory / "ca.pem",
    )
    with tls_proxy.running(proxy, directory):
        yield TemporalMtls(
            proxy.listen_port,
            {
                "ca.crt": authority.cert_pem.bytes().decode(),
                "tls.crt": client.cert_chain_pems[0].bytes().decode(),
                "tls.key": client.private_key_pem.bytes().decode(),
            },
        )


def production_values(
    stack: StackConfig,
    target: Target,
    image: BuiltImage,
    directory: Path,
    temporal_mtls: TemporalMtls,
) -> dict[str, Any]:
    """values-production.example.yaml with only the endpoints, image and Secret names moved;
    its Secrets are created beforehand as the file's header tells a user to."""
    example = yaml.safe_load((CHART / "values-production.example.yaml").read_text())
    names = {role: f"{example_name}-{RUN_ID}" for role, example_name in (
        ("platform", example["secrets"]["existingSecret"]),
        ("database", example["externalDatabase"]["existingSecret"]),
        ("redis", example["externalRedis"]["existingSecret"]),
    )}  # fmt: skip
    values = merged(example, merged(image_values(image), stack_endpoints(stack, target)))
    values["secrets"]["existingSecret"] = names["platform"]
    values["externalDatabase"]["existingSecret"] = names["database"]
    values["externalRedis"]["existingSecret"] = names["redis"]
    # The stack runs one plain server of each: the example's standbys, Sentinels and TLS are moved
    # off like its endpoints (tests/integration/test_temporal_tls.py and tests/deploy cover them).
    values["externalDatabase"] |= {"sslmode": "", "tls": {}}
    values["externalRedis"] |= {
        "existingSecretPasswordKey": "",
        "sentinel": {"hosts": [], "existingSecretPasswordKey": ""},
        "tls": {},
    }
    values["externalNats"]["tls"] = {}
    # Temporal's mutual TLS is played for real: HAProxy with the example's server name in front of
    # the stack's Temporal, and the client's files from a Secret the chart mounts.
    temporal_tls = f"{example['externalTemporal']['tls']['existingSecret']}-{RUN_ID}"
    values["externalTemporal"]["port"] = temporal_mtls.port
    values["externalTemporal"]["tls"]["existingSecret"] = temporal_tls
    create_secret(temporal_tls, encoded(temporal_mtls.client_files), directory)
    redis_url = f"redis://{HOST_FROM_POD}:{stack.ports['redis']}/0"
    create_secret(names["platform"], encoded({"api-token": target.token}), directory)
    create_secret(
        names["database"],
        encoded({example["externalDatabase"]["existingSecretPasswordKey"]: target.password}),
        directory,
    )
    create_secret(
        names["redis"],
        encoded({example["externalRedis"]["existingSecretUrlKey"]: redis_url}),
        directory,
    )
    ensure_temporal_namespace(stack, example["externalTemporal"]["namespace"])
    return values


def ensure_temporal_namespace(stack: StackConfig, namespace: str) -> None:
    """The production example uses its own Temporal namespace; the dev server has `default`."""
    address = f"{HOST}:{stack.ports['temporal']}"
    temporal = venv_binary("temporal")
    described = subprocess.run(
        [temporal, "operator", "namespace", "describe", "--namespace", namespace,
         "--address", address],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if described.returncode == 0:
        return
    created = subprocess.run(
        [temporal, "operator", "namespace", "create", "--namespace", namespace,
         "--address", address],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr


@dataclass
class ChartRun:
    key: str
    target: Target
    docs: list[Doc]
    directory: Path
    api: PlayedPod
    worker: PlayedPod
    api_url: str
    api_host_port: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.token}"}


def release_for(key: str) -> str:
    # A release name containing the chart's name is the resources' base name (sbs.fullname).
    return f"sbs-{key[:4]}-{RUN_ID}"


def prepare(docs: list[Doc], directory: Path) -> None:
    """Turn the rendered Secret (if the chart renders one) into the podman secret it needs."""
    for doc in docs:
        if doc["kind"] == "Secret":
            create_secret(doc["metadata"]["name"], doc["data"], directory)


def start_workloads(docs: list[Doc], directory: Path) -> tuple[PlayedPod, PlayedPod, int]:
    """Play the API and the worker; returns them and the API's port on the host."""
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    api_workload = find(docs, "Deployment", "api")
    worker_workload = find(docs, "Deployment", "worker")
    api_port = publish_ports(api_workload, free_ports(1))["http"]
    publish_ports(worker_workload, free_ports(len(container_of(worker_workload)["ports"])))
    api = play(api_workload, config_map, directory)
    worker = play(worker_workload, config_map, directory)
    return api, worker, api_port


def probe_problems(pod: PlayedPod, timeout: float) -> list[str]:
    """Every probe the chart declares on this container, run until it passes or `timeout`."""
    declared = [kind for kind in PROBES if kind in pod.container]
    problems = [f"{pod.container_name}: no {kind}" for kind in PROBES if kind not in declared]
    for kind in declared:
        try:
            pod.wait_for_probe(kind, timeout)
        except AssertionError as error:
            return [*problems, str(error)]
    return problems


def remove(docs: list[Doc], directory: Path) -> None:
    for manifest in directory.glob("*.yaml"):
        podman("kube", "down", str(manifest), timeout=60, check=False)
    for doc in docs:
        if doc["kind"] == "Secret":
            podman("secret", "rm", doc["metadata"]["name"], check=False)


@pytest.fixture(scope="module", params=["default", "production"])
def chart_run(
    request: pytest.FixtureRequest,
    stack: StackConfig,
    image: BuiltImage,
    container_engine: str,
    tmp_path_factory: pytest.TempPathFactory,
    temporal_mtls: TemporalMtls,
) -> Iterator[ChartRun]:
    key: str = request.param
    directory = tmp_path_factory.mktemp(f"kube-{key}")
    target = make_target(stack, key)
    if key == "production":
        values = production_values(stack, target, image, directory, temporal_mtls)
    else:
        values = default_values(stack, target, image)
    release = release_for(key)
    docs = render_chart(CHART, values, release, NAMESPACE)
    prepare(docs, directory)
    try:
        api, worker, host_port = start_workloads(docs, directory)
        run = ChartRun(
            key, target, docs, directory, api, worker, f"http://{HOST}:{host_port}", host_port
        )
        wait_for_health(run)
        run_the_rollout_job(docs, directory)
        yield run
    finally:
        remove(docs, directory)
        for name in podman("secret", "ls", "--format", "{{.Name}}").stdout.split():
            if name.endswith(RUN_ID):
                podman("secret", "rm", name, check=False)


def run_the_rollout_job(docs: list[Doc], directory: Path) -> None:
    """Play the rollout Job's pod (podman plays no Job): it makes the worker pod's build the
    current version once Temporal sees its pollers, as after `helm install` on a cluster."""
    job = find(docs, "Job", "worker-rollout")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": job["metadata"]["name"], "labels": job["metadata"]["labels"]},
        "spec": job["spec"]["template"]["spec"],
    }
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    played = play(pod, config_map, directory)
    try:
        poll(played.running, lambda running: not running, STARTUP_SECONDS, interval=0.5)
        state = played.inspect()["State"]
        assert state["ExitCode"] == 0, played.logs()[-3000:]
        assert "is current" in played.logs(), played.logs()[-3000:]
    finally:
        played.down()


def wait_for_health(run: ChartRun) -> None:

    def healthy() -> bool:
        assert run.api.running(), run.api.logs()[-3000:]
        return answers_ok(f"{run.api_url}/health")

    if not poll(healthy, bool, STARTUP_SECONDS, interval=0.5):
        raise AssertionError(f"the API pod never got healthy:\n{run.api.logs()[-3000:]}")


def test_api_pod_migrates_and_serves_health_and_version(
    chart_run: ChartRun, stack: StackConfig
) -> None:
    health = httpx.get(f"{chart_run.api_url}/health", timeout=10)
    assert health.status_code == 200, health.text
    version = httpx.get(f"{chart_run.api_url}/version", timeout=10)
    assert version.status_code == 200, version.text
    assert version.json()["build"] == "image-test", version.json()
    with psycopg.connect(
        host=HOST,
        port=stack.ports["postgresql"],
        user=chart_run.target.user,
        password=chart_run.target.password,
        dbname=chart_run.target.database,
        connect_timeout=10,
    ) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone() or ()
    assert revision
    assert "migrations done" in chart_run.api.logs()


@pytest.mark.parametrize("role", ["api", "worker"])
def test_every_probe_the_chart_declares_passes(chart_run: ChartRun, role: str) -> None:
    pod: PlayedPod = getattr(chart_run, role)
    assert probe_problems(pod, timeout=60) == []


def test_worker_pod_completes_a_workflow_started_through_the_api_pod(chart_run: ChartRun) -> None:
    started = httpx.post(
        f"{chart_run.api_url}/test-workflow",
        json={"name": "Kube"},
        headers=chart_run.auth,
        timeout=30,
    )
    assert started.status_code == 202, started.text
    workflow = started.json()
    assert workflow["task_queue"] == chart_run.target.task_queue  # no other worker polls it
    state_url = f"{chart_run.api_url}/test-workflow/{workflow['workflow_id']}"
    state: dict[str, Any] = poll(
        lambda: httpx.get(state_url, headers=chart_run.auth, timeout=10).json(),
        lambda state: state["status"] != "RUNNING",
        60,
        interval=0.3,
    )
    assert state["status"] == "COMPLETED", (state, chart_run.worker.logs()[-3000:])
    assert state["result"] == "Hello, Kube!"


@pytest.mark.parametrize("role", ["api", "worker"])
def test_pods_run_as_the_declared_uid_on_a_read_only_root(chart_run: ChartRun, role: str) -> None:
    pod: PlayedPod = getattr(chart_run, role)
    context = pod.container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    uid, gid = str(context["runAsUser"]), str(context["runAsGroup"])
    assert pod.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    status = pod.exec("cat", "/proc/1/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == [uid] * 4
    assert fields["Gid"].split() == [gid] * 4
    assert int(fields["CapEff"], 16) == 0  # capabilities: drop ALL
    denied = pod.exec("touch", "/app/written", "/etc/written")
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr
    assert pod.exec("touch", "/tmp/written").returncode == 0  # the emptyDir


def test_helm_test_pod_passes_against_the_api_pod(chart_run: ChartRun) -> None:
    test_pod = find(chart_run.docs, "Pod", "helm-test")
    point_helm_test_at(test_pod, f"http://{HOST_FROM_POD}:{chart_run.api_host_port}")
    config_map = next(d for d in chart_run.docs if d["kind"] == "ConfigMap")
    played = play(test_pod, config_map, chart_run.directory)
    poll(played.running, lambda running: not running, 60, interval=0.5)
    state = played.inspect()["State"]
    logs = played.logs()
    assert state["ExitCode"] == 0, logs
    assert "/health 200" in logs, logs
    assert "/version 200" in logs, logs


@pytest.mark.parametrize("role", ["api", "worker"])
def test_each_pod_stops_gracefully_within_its_grace_period(chart_run: ChartRun, role: str) -> None:
    pod: PlayedPod = getattr(chart_run, role)
    grace = pod.workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert not SHUTDOWN_LOGGED.search(pod.logs()), "shutdown logged before SIGTERM"
    elapsed = pod.stop()
    state = pod.inspect()["State"]
    logs = pod.logs()
    pod.down()
    assert state["ExitCode"] == 0, f"{role}: exit code {state['ExitCode']}\n{logs[-3000:]}"
    assert elapsed < grace, f"{role}: {elapsed:.1f} s, grace {grace} s\n{logs[-3000:]}"
    assert SHUTDOWN_LOGGED.search(logs), logs[-3000:]
    for trouble in ("Traceback", "Network is unreachable", "drain failed", "errored"):
        assert trouble not in logs, logs[-3000:]


@pytest.mark.parametrize("mutation", KUBE_MUTATIONS, ids=lambda m: m.name)
def test_the_pods_catch_a_broken_chart(
    mutation: Mutation,
    stack: StackConfig,
    image: BuiltImage,
    container_engine: str,
    tmp_path: Path,
) -> None:
    chart = tmp_path / "sbs"
    shutil.copytree(CHART, chart)
    target_file = chart / mutation.path.removeprefix("deploy/helm/sbs/")
    text = target_file.read_text()
    assert text.count(mutation.old) == 1, mutation.name
    target_file.write_text(text.replace(mutation.old, mutation.new))
    key = f"m{uuid.uuid4().hex[:4]}"
    target = make_target(stack, key)
    docs = render_chart(chart, default_values(stack, target, image), release_for(key), NAMESPACE)
    prepare(docs, tmp_path)
    try:
        try:
            api, worker, _ = start_workloads(docs, tmp_path)
            problems = probe_problems(api, timeout=20) + probe_problems(worker, timeout=20)
        except AssertionError as error:  # podman itself refused to start a container
            problems = [str(error)]
    finally:
        remove(docs, tmp_path)
    assert problems, f"{mutation.name} survived podman kube play"
    assert KILLED_BY[mutation.name] in problems[0], problems
    if mutation.name.endswith("path"):
        assert problems[0].splitlines()[0].endswith("never passed: 404"), problems
