"""Temporal over mTLS: the stack's Temporal dev server behind HAProxy (the dev server has no TLS
option), with certificates from a test CA made here. The API and a worker of their own reach
it through TEMPORAL_TLS_*; a wrong CA or a missing client certificate fails fast, naming
temporal."""

import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from devstack.config import HOST, StackConfig, free_ports
from devstack.servers import tls_proxy
from tests.integration.helpers import ApiProcess, api_process, start_api
from tests.waiting import answers_ok, wait_for

# The server's certificate names only this, so every client here needs the server name override.
SERVER_NAME = "temporal.sbs.test"
HEALTH_CHECK_TIMEOUT = 2.0  # the product's default HEALTH_CHECK_TIMEOUT
# /health answers within the check timeout; the rest is one HTTP round trip on a loaded box.
HEALTH_ANSWER_BOUND = HEALTH_CHECK_TIMEOUT + 3.0


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # signed the server's and the client's certificates
    other_ca: Path  # signed neither
    client_cert: Path
    client_key: Path
    server_chain: Path


@pytest.fixture(scope="module")
def haproxy() -> str:
    """Debian's haproxy (`.ci/run` installs it); its absence is a failure, never a skip."""
    found = tls_proxy.HAPROXY.find()
    if found is None:
        pytest.fail(f"haproxy is not installed: {tls_proxy.HAPROXY.install_hint}", pytrace=False)
    return found


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    directory = tmp_path_factory.mktemp("temporal-tls")
    ca, other_ca = trustme.CA(), trustme.CA()
    files = TlsFiles(
        ca=directory / "ca.pem",
        other_ca=directory / "other-ca.pem",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        server_chain=directory / "server.pem",
    )
    ca.cert_pem.write_to_path(str(files.ca))
    other_ca.cert_pem.write_to_path(str(files.other_ca))
    ca.issue_cert(SERVER_NAME).private_key_and_cert_chain_pem.write_to_path(str(files.server_chain))
    client = ca.issue_cert("sbs-worker.sbs.test")
    client.cert_chain_pems[0].write_to_path(str(files.client_cert))
    client.private_key_pem.write_to_path(str(files.client_key))
    return files


@pytest.fixture(scope="module")
def mtls_port(
    stack: StackConfig, tls_files: TlsFiles, haproxy: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """The port where HAProxy serves the stack's Temporal with mTLS."""
    proxy = tls_proxy.TlsProxy(
        listen_port=free_ports(1)[0],
        target_port=stack.ports["temporal"],
        certificate_chain=tls_files.server_chain,
        client_ca=tls_files.ca,
    )
    directory = tmp_path_factory.mktemp("haproxy")
    with tls_proxy.running(proxy, directory):
        yield proxy.listen_port
    shutil.rmtree(directory, ignore_errors=True)


def temporal_variables(port: int, files: TlsFiles, **overrides: str) -> dict[str, str]:
    return {
        "TEMPORAL_PORT": str(port),
        "TEMPORAL_TLS_CA_FILE": str(files.ca),
        "TEMPORAL_TLS_CERT_FILE": str(files.client_cert),
        "TEMPORAL_TLS_KEY_FILE": str(files.client_key),
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
        "HEALTH_CHECK_TIMEOUT": str(HEALTH_CHECK_TIMEOUT),
        **overrides,
    }


@pytest.fixture
def worker_process(stack: StackConfig) -> Iterator[list[ApiProcess]]:
    """Workers a test starts (through `start_worker`), stopped at its end."""
    started: list[ApiProcess] = []
    yield started
    for worker in started:
        worker.stop()
        worker.log.unlink(missing_ok=True)


def start_worker(
    stack: StackConfig, started: list[ApiProcess], variables: dict[str, str]
) -> tuple[ApiProcess, str]:
    """A worker of its own (free probe ports); returns it with its readiness URL."""
    health_port, metrics_port = free_ports(2)
    worker = start_api(
        stack,
        script="run_worker.py",
        WORKER_HEALTH_PORT=str(health_port),
        WORKER_METRICS_PORT=str(metrics_port),
        **variables,
    )
    started.append(worker)
    return worker, f"http://{HOST}:{health_port}/health/ready"


def timed_health(server: ApiProcess) -> tuple[httpx.Response, float]:
    with server.client() as client:
        started = time.monotonic()
        health = client.get("/health")
        return health, time.monotonic() - started


def test_the_worker_completes_a_workflow_through_mtls(
    stack: StackConfig,
    mtls_port: int,
    tls_files: TlsFiles,
    worker_process: list[ApiProcess],
) -> None:
    # A task queue of their own: only this worker, reached through the proxy, can run the workflow.
    queue = f"mtls-{uuid.uuid4().hex[:8]}"
    variables = temporal_variables(mtls_port, tls_files, TEMPORAL_TASK_QUEUE=queue)
    worker, worker_ready = start_worker(stack, worker_process, variables)
    with api_process(stack, **variables) as server:
        server.wait_ready()
        wait_for(lambda: answers_ok(worker_ready, timeout=2), 60, "the mTLS worker ready")
        with server.client() as client:
            run = client.post("/test-workflow?wait=true", json={"name": "Mtls"}).json()
            assert run["status"] == "COMPLETED", run
            assert run["result"] == "Hello, Mtls!"
            health = client.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["temporal"]["status"] == "up"
    assert worker.process.poll() is None, worker.output()


def test_a_ca_that_did_not_sign_the_server_fails_fast_naming_temporal(
    stack: StackConfig,
    mtls_port: int,
    tls_files: TlsFiles,
    worker_process: list[ApiProcess],
) -> None:
    variables = temporal_variables(
        mtls_port, tls_files, TEMPORAL_TLS_CA_FILE=str(tls_files.other_ca)
    )
    with api_process(stack, **variables) as server:
        server.wait_ready()
        health, seconds = timed_health(server)
        assert health.status_code == 503, health.text
        temporal = health.json()["checks"]["temporal"]
        assert temporal["status"] == "down"
        assert "InvalidCertificate(UnknownIssuer)" in temporal["error"], temporal
        assert seconds < HEALTH_ANSWER_BOUND, f"/health took {seconds:.1f}s"
        assert health.json()["checks"]["postgresql"]["status"] == "up"

    worker, _ = start_worker(stack, worker_process, {**variables, "TEMPORAL_WAIT_TIMEOUT": "2"})
    assert worker.process.wait(60) == 1, worker.output()
    assert "temporal at" in worker.output()
    assert "InvalidCertificate(UnknownIssuer)" in worker.output()


def test_the_proxy_refuses_a_client_without_a_certificate(
    stack: StackConfig, mtls_port: int, tls_files: TlsFiles
) -> None:
    """mTLS is really enforced: the right CA and server name, but no client certificate."""
    variables = temporal_variables(
        mtls_port, tls_files, TEMPORAL_TLS_CERT_FILE="", TEMPORAL_TLS_KEY_FILE=""
    )
    with api_process(stack, **variables) as server:
        server.wait_ready()
        health, seconds = timed_health(server)
        assert health.status_code == 503, health.text
        temporal = health.json()["checks"]["temporal"]
        assert temporal["status"] == "down"
        # TLS 1.3: the server's refusal comes after the client's handshake ends, as an alert,
        # or, when the server has closed first, as a closed connection or, when the client was
        # still writing its first request, a broken pipe.
        refused = ("CertificateRequired", "connection closed", "broken pipe")
        assert any(text in temporal["error"] for text in refused), temporal
        assert seconds < HEALTH_ANSWER_BOUND, f"/health took {seconds:.1f}s"
