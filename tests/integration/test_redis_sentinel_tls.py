"""Redis behind Sentinel over verified TLS: data nodes and Sentinels speak only TLS and want a
client certificate (Debian's redis-server, devstack/servers/redis_sentinel.py in TLS mode). An
API given REDIS_SENTINELS and REDIS_TLS_* is healthy and `/redis/test` answers; after the master
is SIGKILLed and Sentinel promotes the replica, `/redis/test` answers 200 again within 5 s of the
promotion. Given a CA that did not sign the servers, `/health` names redis within its timeout.

Sentinel announces addresses (127.0.0.1), so the servers' certificate names the IP address.
"""

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
import trustme

from app.config import Settings
from devstack.config import HOST, StackConfig
from devstack.servers import redis_sentinel
from devstack.servers.base import PROBE_TIMEOUT, TlsFiles
from devstack.servers.group import ServerGroup
from devstack.servers.redis import TLS_PACKAGE
from devstack.servers.redis_sentinel import MASTER, REPLICA, port_name
from tests.integration.failover import (
    Outcome,
    record_calls,
    recovered_at,
    successes_since,
    summary,
)
from tests.integration.helpers import ApiProcess, api_process, kill
from tests.waiting import wait_for

MASTER_NAME = "sbs-cache-tls"
DATA_PASSWORD = "data-pass-tls"
SENTINEL_PASSWORD = "sentinel-pass-tls"
RECOVERY_AFTER_PROMOTION_SECONDS = 5.0  # the acceptance bound
PROMOTION_SECONDS = 30.0  # down-after-milliseconds (2 s) plus the election, on a loaded machine
SETTINGS = Settings()
MARGIN_SECONDS = 1.5  # client-side scheduling on a loaded 2-core machine


@pytest.fixture(scope="module")
def certificates() -> Iterator[dict[str, TlsFiles]]:
    """The servers' certificate (for 127.0.0.1: Sentinel announces addresses), the API's client
    certificate, both of one CA, and a CA that signed neither."""
    directory = Path(tempfile.mkdtemp(prefix="sbs-sentinel-tls-"))
    authority, stranger = trustme.CA(), trustme.CA()
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    stranger.cert_pem.write_to_path(str(directory / "wrong-ca.pem"))
    files: dict[str, TlsFiles] = {}
    for role, issued in (
        ("server", authority.issue_cert(HOST, "localhost")),
        ("client", authority.issue_cert("sbs-api")),
    ):
        cert, key = directory / f"{role}.pem", directory / f"{role}.key"
        issued.private_key_pem.write_to_path(str(key))
        issued.cert_chain_pems[0].write_to_path(str(cert))
        files[role] = TlsFiles(directory / "ca.pem", cert, key)
    client = files["client"]
    files["wrong"] = TlsFiles(directory / "wrong-ca.pem", client.cert_file, client.key_file)
    yield files
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def sentinels(certificates: dict[str, TlsFiles]) -> Iterator[ServerGroup]:
    if not TLS_PACKAGE.installed():
        missing = f"no Redis server with TLS: {TLS_PACKAGE.install_hint}"
        if os.environ.get("CI"):  # .ci/run installs it
            pytest.fail(missing)
        pytest.skip(missing)
    group = redis_sentinel.sentinel_group(
        MASTER_NAME, DATA_PASSWORD, SENTINEL_PASSWORD, certificates["server"]
    )
    try:
        group.up()
        yield group
    finally:
        group.down()


def api_over_tls(
    stack: StackConfig, sentinels: ServerGroup, files: TlsFiles
) -> AbstractContextManager[ApiProcess]:
    """An API that asks the Sentinels for the master over TLS, trusting `files.ca_file`."""
    return api_process(
        stack,
        REDIS_URL="redis://unused.invalid:6379/0",  # Sentinel mode ignores it
        REDIS_SENTINELS=redis_sentinel.sentinel_addresses(sentinels),
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
        REDIS_PASSWORD=DATA_PASSWORD,
        REDIS_TLS_CA_FILE=str(files.ca_file),
        REDIS_TLS_CERT_FILE=str(files.cert_file),
        REDIS_TLS_KEY_FILE=str(files.key_file),
    )


def redis_test(client: httpx.Client, key: str) -> int:
    try:
        return client.post("/redis/test", json={"key": key, "value": "v"}).status_code
    except httpx.TransportError:
        return 0


def test_a_ca_that_did_not_sign_the_servers_is_named(
    stack: StackConfig, sentinels: ServerGroup, certificates: dict[str, TlsFiles]
) -> None:
    with (
        api_over_tls(stack, sentinels, certificates["wrong"]) as tls_api,
        tls_api.client() as api,
    ):
        tls_api.wait_ready()
        started = time.monotonic()
        health = api.get("/health")
        assert time.monotonic() - started < SETTINGS.health_check_timeout + MARGIN_SECONDS
        assert health.status_code == 503, health.text
        body = health.json()
        # Only the CA differs from the healthy API's: TLS refused the Sentinels. redis-py's
        # MasterNotFoundError keeps only the type of each Sentinel's error, not the cause.
        assert body["failing"] == ["redis"], body
        assert "MasterNotFoundError" in body["checks"]["redis"]["error"], body


def test_over_tls_the_api_follows_the_promoted_replica(
    stack: StackConfig, sentinels: ServerGroup, certificates: dict[str, TlsFiles]
) -> None:
    tls = certificates["server"]
    old_port = redis_sentinel.current_master(sentinels, MASTER_NAME, SENTINEL_PASSWORD, tls)
    (old_master,) = [m for m in (MASTER, REPLICA) if sentinels.port(port_name(m)) == old_port]
    replica = REPLICA if old_master == MASTER else MASTER
    with (
        api_over_tls(stack, sentinels, certificates["client"]) as tls_api,
        tls_api.client() as api,
    ):
        tls_api.wait_ready()
        health = api.get("/health")
        assert health.status_code == 200, health.text
        assert redis_test(api, "before") == 200

        promotion: dict[str, float] = {}

        def watch() -> None:
            deadline = time.monotonic() + PROMOTION_SECONDS
            while time.monotonic() < deadline:
                port = redis_sentinel.current_master(sentinels, MASTER_NAME, SENTINEL_PASSWORD, tls)
                if port is not None and port != old_port:
                    promotion["promoted"] = time.monotonic()
                    return
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
        faulted_at = time.monotonic()
        kill(sentinels.config, old_master)
        try:

            def settled(outcomes: list[Outcome]) -> bool:
                promoted = promotion.get("promoted")
                return promoted is not None and successes_since(outcomes, promoted) >= 3

            outcomes = record_calls(lambda: redis_test(api, "failover"), settled, PROMOTION_SECONDS)
            promoted = promotion.get("promoted")
            timeline = summary(outcomes, faulted_at)
            assert promoted is not None, f"no promotion within {PROMOTION_SECONDS}s: {timeline}"
            assert {o.status for o in outcomes} <= {200, 503}, timeline
            recovered = recovered_at(outcomes)
            assert recovered is not None, timeline
            assert recovered - promoted <= RECOVERY_AFTER_PROMOTION_SECONDS, (
                f"promoted at {promoted - faulted_at:.1f}s: {timeline}"
            )
            wait_for(
                lambda: api.get("/health").status_code == 200, RECOVERY_AFTER_PROMOTION_SECONDS
            )
            promoted_node = redis_sentinel.client(
                sentinels.port(port_name(replica)), DATA_PASSWORD, tls
            )
            assert promoted_node.get("sbs:test:failover") == "v", "the write missed the replica"
            print(
                f"TLS sigkill: promoted {promoted - faulted_at:.1f}s after the fault, 200 again "
                f"{recovered - promoted:.1f}s after the promotion: {timeline}"
            )
        finally:
            sentinels.start(old_master)


def test_the_members_refuse_plain_text(sentinels: ServerGroup) -> None:
    """The servers speak only TLS: a plain-text PING gets no PONG."""
    for member in (MASTER, REPLICA, *redis_sentinel.SENTINELS):
        address = (HOST, sentinels.port(port_name(member)))
        with socket.create_connection(address, PROBE_TIMEOUT) as connection:
            connection.settimeout(PROBE_TIMEOUT)
            connection.sendall(b"PING\r\n")
            try:
                answer = connection.recv(16)
            except OSError:
                answer = b""
        assert not answer.startswith(b"+PONG"), member
