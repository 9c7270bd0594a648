"""TLS with verification to Redis and NATS: certificates from a test CA made at test time
(trustme). Over TLS (with client certificates: the servers require them) `/health` is healthy
and `/redis/test` and `/nats/test` answer; given a CA that did not sign the servers, the API
names each dependency and the certificate failure within the health timeout, without hanging.

Redis is Debian's redis-server (the wheel's Valkey has no TLS), NATS a three-node cluster with
`tls://` URLs (devstack/servers/redis.py `tls_service`, devstack/servers/nats_cluster.py).
"""

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import trustme

from app.config import Settings
from devstack.config import HOST, StackConfig
from devstack.servers import nats_cluster, redis
from devstack.servers.base import TlsFiles
from devstack.servers.group import ServerGroup
from tests.integration.helpers import ApiProcess, api_process

SETTINGS = Settings()
MARGIN_SECONDS = 1.5  # client-side scheduling on a loaded 2-core machine
CERTIFICATE_FAILURE = "certificate verify failed"


@pytest.fixture(scope="module")
def certificates() -> Iterator[dict[str, TlsFiles]]:
    """Server and client certificates of one CA, and a CA that signed neither."""
    directory = Path(tempfile.mkdtemp(prefix="sbs-tls-"))
    authority, stranger = trustme.CA(), trustme.CA()
    files: dict[str, TlsFiles] = {}
    for role, issued in (
        ("server", authority.issue_cert(HOST, "localhost")),
        ("client", authority.issue_cert("sbs-api")),
    ):
        cert, key = directory / f"{role}.pem", directory / f"{role}.key"
        issued.private_key_pem.write_to_path(str(key))
        issued.cert_chain_pems[0].write_to_path(str(cert))
        authority.cert_pem.write_to_path(str(directory / "ca.pem"))
        files[role] = TlsFiles(directory / "ca.pem", cert, key)
    stranger.cert_pem.write_to_path(str(directory / "wrong-ca.pem"))
    client = files["client"]
    files["wrong"] = TlsFiles(directory / "wrong-ca.pem", client.cert_file, client.key_file)
    yield files
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def servers(certificates: dict[str, TlsFiles]) -> Iterator[ServerGroup]:
    if not redis.TLS_PACKAGE.installed():
        missing = f"no Redis server with TLS: {redis.TLS_PACKAGE.install_hint}"
        if os.environ.get("CI"):  # .ci/run installs it
            pytest.fail(missing)
        pytest.skip(missing)
    redis_server = redis.tls_service("redis-tls", certificates["server"])
    cluster = nats_cluster.cluster_group(certificates["server"])
    group = ServerGroup([redis_server, *cluster.services], cluster.settled)
    try:
        group.up()
        yield group
    finally:
        group.down()


def api_over_tls(
    stack: StackConfig, servers: ServerGroup, files: TlsFiles
) -> AbstractContextManager[ApiProcess]:
    """An API that reaches Redis and NATS over TLS, trusting `files.ca_file`."""
    return api_process(
        stack,
        REDIS_URL=f"rediss://{HOST}:{servers.port('redis_tls')}/0",
        REDIS_TLS_CA_FILE=str(files.ca_file),
        REDIS_TLS_CERT_FILE=str(files.cert_file),
        REDIS_TLS_KEY_FILE=str(files.key_file),
        NATS_URL=nats_cluster.cluster_urls(servers, scheme="tls"),
        NATS_TLS_CA_FILE=str(files.ca_file),
        NATS_TLS_CERT_FILE=str(files.cert_file),
        NATS_TLS_KEY_FILE=str(files.key_file),
    )


def test_over_tls_the_api_is_healthy_and_the_calls_answer(
    stack: StackConfig, servers: ServerGroup, certificates: dict[str, TlsFiles]
) -> None:
    with (
        api_over_tls(stack, servers, certificates["client"]) as tls_api,
        tls_api.client() as api,
    ):
        tls_api.wait_ready()
        health = api.get("/health")
        assert health.status_code == 200, health.text
        stored = api.post("/redis/test", json={"key": "tls", "value": "sealed"})
        assert stored.status_code == 200, stored.text
        assert stored.json()["value"] == "sealed"
        echoed = api.post("/nats/test", json={"message": "sealed"})
        assert echoed.status_code == 200, echoed.text


def test_a_ca_that_did_not_sign_the_server_is_named_at_once(
    stack: StackConfig, servers: ServerGroup, certificates: dict[str, TlsFiles]
) -> None:
    with (
        api_over_tls(stack, servers, certificates["wrong"]) as tls_api,
        tls_api.client() as api,
    ):
        tls_api.wait_ready()
        started = time.monotonic()
        health = api.get("/health")
        assert time.monotonic() - started < SETTINGS.health_check_timeout + MARGIN_SECONDS
        assert health.status_code == 503
        body = health.json()
        assert body["failing"] == ["redis", "nats"], body
        for dependency in ("redis", "nats"):
            assert CERTIFICATE_FAILURE in body["checks"][dependency]["error"], body
        for path, payload, dependency in (
            ("/redis/test", {"key": "tls"}, "redis"),
            ("/nats/test", {"message": "tls"}, "nats"),
        ):
            started = time.monotonic()
            failed = api.post(path, json=payload)
            assert time.monotonic() - started < SETTINGS.health_check_timeout + MARGIN_SECONDS
            assert failed.status_code == 503, failed.text
            assert failed.json()["dependency"] == dependency
            assert CERTIFICATE_FAILURE in failed.json()["detail"], failed.text


def test_a_tls_url_to_a_server_without_tls_is_refused(stack: StackConfig) -> None:
    """nats-py would talk plain text to a `tls://` server that offers no TLS; the API refuses."""
    plain = f"tls://{HOST}:{stack.ports['nats']}"
    with api_process(stack, NATS_URL=plain) as plain_api, plain_api.client() as api:
        plain_api.wait_ready()
        health = api.get("/health")
        assert health.status_code == 503, health.text
        assert health.json()["checks"]["nats"]["error"] == "server does not offer TLS"
        assert api.post("/nats/test", json={"message": "in clear"}).status_code == 503
