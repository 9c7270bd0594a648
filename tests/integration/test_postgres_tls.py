"""PostgreSQL over TLS with verification: a server whose certificate a test CA (made at test
time by trustme) signed. With DATABASE_SSLMODE=verify-full and that CA the API is healthy and
its settings calls work over TLS; with a CA that did not sign the server, /health names
postgresql and the certificate problem within the health timeout, and writes are 503s."""

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from sqlalchemy import text

from app.config import Settings
from app.migrations import make_engine, migrate
from devstack.config import StackConfig, free_ports
from devstack.privileges import chown_to_unprivileged, running_as_root
from devstack.servers.postgres_replication import PostgresNode
from tests.integration.helpers import api_process

HEALTH_CHECK_TIMEOUT = Settings().health_check_timeout


@dataclass
class TlsPostgres:
    node: PostgresNode
    ca_file: Path  # the CA that signed the server's certificate
    other_ca_file: Path  # a CA that did not

    def variables(self, ca_file: Path) -> dict[str, str]:
        return {
            "DATABASE_URL": "",
            "DATABASE_HOST": self.node.address,
            "DATABASE_SSLMODE": "verify-full",
            "DATABASE_SSLROOTCERT": str(ca_file),
        }


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[TlsPostgres]:
    state_dir = Path(tempfile.mkdtemp(prefix="sbs-pg-tls-"))
    state_dir.chmod(0o755)  # PostgreSQL runs as nobody under root
    authority, stranger = trustme.CA(), trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    tls_dir = state_dir / "tls"
    tls_dir.mkdir()
    certificate, key = tls_dir / "server.crt", tls_dir / "server.key"
    server.cert_chain_pems[0].write_to_path(str(certificate))
    server.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)  # PostgreSQL refuses a key others may read
    if running_as_root():
        chown_to_unprivileged(tls_dir, certificate, key)
    ca_file, other_ca_file = state_dir / "ca.pem", state_dir / "other-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    stranger.cert_pem.write_to_path(str(other_ca_file))
    settings = {"ssl": "on", "ssl_cert_file": str(certificate), "ssl_key_file": str(key)}
    node = PostgresNode(state_dir, "postgresql-tls", free_ports(1)[0], settings)
    try:
        node.init_primary()
        database = TlsPostgres(node, ca_file, other_ca_file)
        assert migrate(Settings(**database.variables(ca_file))) == "upgraded"  # type: ignore[arg-type]
        yield database
    finally:
        node.kill()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_verified_tls_serves_health_and_settings(
    stack: StackConfig, tls_postgres: TlsPostgres
) -> None:
    variables = tls_postgres.variables(tls_postgres.ca_file)
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    with api_process(stack, **variables) as api, api.client() as client:
        api.wait_ready()
        health = client.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["postgresql"]["status"] == "up"
        written = client.put("/settings/tls.check", json={"value": [1, 2]}, headers=headers)
        assert written.status_code in (200, 201), written.text
        read = client.get("/settings/tls.check")
        assert read.status_code == 200, read.text
        assert read.json()["value"] == [1, 2]
        with tls_postgres.node.connect() as connection:
            api_sessions = connection.execute(
                "SELECT ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)"
                " WHERE application_name = 'sbs-api'"
            ).fetchall()
    assert api_sessions, "the API holds no connection"
    assert all(encrypted for (encrypted,) in api_sessions), api_sessions


def test_a_ca_that_did_not_sign_the_server_is_a_clear_error_in_time(
    stack: StackConfig, tls_postgres: TlsPostgres
) -> None:
    variables = tls_postgres.variables(tls_postgres.other_ca_file)
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    with api_process(stack, **variables) as api, api.client() as client:
        api.wait_ready()
        started = time.monotonic()
        health = client.get("/health")
        elapsed = time.monotonic() - started
        written = client.put("/settings/tls.refused", json={"value": 1}, headers=headers)
    assert health.status_code == 503, health.text
    assert health.json()["failing"] == ["postgresql"]
    assert "certificate verify failed" in health.json()["checks"]["postgresql"]["error"]
    assert elapsed < HEALTH_CHECK_TIMEOUT + 1
    assert written.status_code == 503, written.text
    assert written.json()["dependency"] == "postgresql"
    assert "certificate" in written.json()["detail"]


def encrypted_session(database_url: str) -> bool:
    """Whether a connection made as the migrations make theirs is encrypted."""
    engine = make_engine(Settings(DATABASE_URL=database_url))
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_tls_parameters_in_the_database_url_query_are_honoured(tls_postgres: TlsPostgres) -> None:
    node = tls_postgres.node
    url = node.url(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    assert encrypted_session(f"{url}?sslmode=verify-full&sslrootcert={tls_postgres.ca_file}")
    # The server takes clear text too (pg_hba `host`): encryption is the client's choice.
    assert not encrypted_session(f"{url}?sslmode=disable")
    wrong = f"{url}?sslmode=verify-full&sslrootcert={tls_postgres.other_ca_file}"
    engine = make_engine(Settings(DATABASE_URL=wrong))
    try:
        with pytest.raises(Exception, match="certificate verify failed"), engine.connect():
            pass
    finally:
        engine.dispose()
