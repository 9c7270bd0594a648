"""PostgreSQL failover: the API given a primary and a standby (DATABASE_HOST) follows a promoted
standby without a restart; a write is never a 500, only a 503 naming postgresql while no primary
exists; migrations reach the primary however the hosts are listed.

One replicated set-up (devstack.servers.postgres_replication) serves the whole module; each test
leaves a primary and a streaming standby behind it.
"""

import itertools
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.migrations import DatabaseUnavailableError, make_engine, migrate, wait_for_database
from devstack.config import StackConfig
from devstack.servers.postgres_replication import PostgresNode, ReplicatedPostgres
from tests.integration.helpers import ApiProcess, api_process
from tests.waiting import wait_for

# The acceptance bound: writes succeed again this long after the promotion at the latest.
WRITES_BACK_SECONDS = 5.0
# How long a drill waits for the outage to show (a 503) before promoting.
OUTAGE_SHOWS_SECONDS = 10.0


@pytest.fixture(scope="module")
def replicated() -> Iterator[ReplicatedPostgres]:
    """`postgresql-a` primary, `postgresql-b` its standby; migrated through a host list that
    names the standby first (so the migration itself proves it reached the primary)."""
    state_dir = Path(tempfile.mkdtemp(prefix="sbs-pg-failover-"))
    state_dir.chmod(0o755)  # PostgreSQL runs as nobody under root
    cluster = ReplicatedPostgres.on_free_ports(state_dir)
    try:
        cluster.start()
        primary, standby = cluster.nodes
        standby_first = Settings(
            DATABASE_URL="",
            DATABASE_HOST=f"{standby.address},{primary.address}",
            DATABASE_WAIT_TIMEOUT=30,
        )
        wait_for_database(standby_first)
        assert migrate(standby_first) == "upgraded"
        yield cluster
    finally:
        for node in cluster.nodes:
            node.kill()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def api(stack: StackConfig, replicated: ReplicatedPostgres) -> Iterator[ApiProcess]:
    """One API process for the module (never restarted), given every node in DATABASE_HOST."""
    with api_process(stack, DATABASE_URL="", DATABASE_HOST=replicated.hosts) as started:
        started.wait_ready()
        yield started


def put_setting(client: httpx.Client, token: str, key: str) -> tuple[int, str]:
    """PUT /settings/{key}: the status and body, or 0 and the error when the connection broke."""
    try:
        response = client.put(
            f"/settings/{key}", json={"value": key}, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.TransportError as error:
        return 0, repr(error)
    return response.status_code, response.text


@dataclass
class Answer:
    started: float
    finished: float
    status: int
    body: str


@dataclass
class Writer:
    """PUTs a new setting (201) in a loop on its own thread, recording every answer."""

    api: ApiProcess
    token: str
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _keys: Iterator[int] = field(default_factory=itertools.count)

    def run(self) -> None:
        with self.api.client(timeout=15) as client:
            while not self._stop.is_set():
                key = f"failover.write_{time.monotonic_ns()}_{next(self._keys)}"
                started = time.monotonic()
                status, body = put_setting(client, self.token, key)
                self.answers.append(Answer(started, time.monotonic(), status, body))
                if status != 201:
                    time.sleep(0.05)  # an outage: do not spin

    def successes_after(self, moment: float) -> list[Answer]:
        return [a for a in self.answers if a.status == 201 and a.started >= moment]

    @classmethod
    def running(cls, api: ApiProcess, token: str) -> "tuple[Writer, threading.Thread]":
        writer = cls(api, token)
        thread = threading.Thread(target=writer.run, daemon=True)
        thread.start()
        return writer, thread

    def stop(self, thread: threading.Thread) -> None:
        self._stop.set()
        thread.join(30)


def assert_only_201_or_503_naming_postgresql(answers: list[Answer]) -> None:
    for answer in answers:
        assert answer.status in (201, 503), f"{answer.status}: {answer.body}"
        if answer.status == 503:
            assert '"dependency":"postgresql"' in answer.body, answer.body


def failover_drill(
    api: ApiProcess, token: str, lose: PostgresNode, promote: PostgresNode
) -> dict[str, float]:
    """Writes run throughout; `lose` (the primary) is SIGKILLed, then `promote` is promoted
    once the writes fail. Returns the measured times."""
    writer, thread = Writer.running(api, token)
    try:
        wait_for(lambda: len(writer.successes_after(0)) >= 3, 30, "writes before the drill")
        lose.kill()
        killed = time.monotonic()
        wait_for(
            lambda: any(a.status == 503 for a in writer.answers if a.started >= killed),
            OUTAGE_SHOWS_SECONDS,
            "a 503 while no primary exists",
        )
        promote.promote()
        promoted = time.monotonic()
        wait_for(
            lambda: bool(writer.successes_after(promoted)),
            WRITES_BACK_SECONDS + 10,
            "a 201 after the promotion",
        )
        back = writer.successes_after(promoted)[0].finished
        wait_for(lambda: len(writer.successes_after(back)) >= 5, 30, "writes after recovery")
    finally:
        writer.stop(thread)
    answers = writer.answers
    assert_only_201_or_503_naming_postgresql(answers)
    late_failures = [a for a in answers if a.status != 201 and a.started >= back]
    assert not late_failures, f"failed after writes were back: {late_failures}"
    assert back - promoted <= WRITES_BACK_SECONDS, f"writes back {back - promoted:.2f}s after"
    return {"writes_back_after_promotion_s": round(back - promoted, 2)}


def test_migrations_and_the_wait_need_a_primary(replicated: ReplicatedPostgres) -> None:
    """The fixture migrated through `standby,primary`; a standby alone is never "ready"."""
    primary, standby = replicated.nodes
    with primary.connect("app_db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()
    only_standby = Settings(DATABASE_URL="", DATABASE_HOST=standby.address, DATABASE_WAIT_TIMEOUT=2)
    with pytest.raises(DatabaseUnavailableError, match=r"read-only|hot standby"):
        wait_for_database(only_standby)


def test_a_multi_host_database_url_reaches_the_primary(replicated: ReplicatedPostgres) -> None:
    """DATABASE_URL's libpq form: `?host=a:p&host=b:q`, the standby first."""
    primary, standby = replicated.nodes
    url = (
        f"postgresql+psycopg://postgres:secret@/app_db?host={standby.address}"
        f"&host={primary.address}&target_session_attrs=read-write"
    )
    engine = make_engine(Settings(DATABASE_URL=url))
    try:
        with engine.connect() as connection:
            port = connection.execute(text("SELECT inet_server_port()")).scalar_one()
    finally:
        engine.dispose()
    assert port == primary.port


def test_writes_follow_the_promoted_standby_and_back(
    stack: StackConfig, replicated: ReplicatedPostgres, api: ApiProcess
) -> None:
    first, second = replicated.nodes
    there = failover_drill(api, stack.api_token, lose=first, promote=second)

    # The old primary comes back as a standby of the new one, first in DATABASE_HOST: writes
    # carry on (new connections skip it), then the new primary is lost in turn.
    writer, thread = Writer.running(api, stack.api_token)
    try:
        first.clone_from(second)
        assert first.in_recovery()
        rejoined = time.monotonic()
        wait_for(lambda: len(writer.successes_after(rejoined)) >= 5, 30, "writes")
    finally:
        writer.stop(thread)
    assert [a for a in writer.answers if a.status != 201] == []

    back = failover_drill(api, stack.api_token, lose=second, promote=first)
    second.clone_from(first)  # the module's set-up: a primary and its standby again
    print(f"failover: {there}; failback: {back}")


def test_a_server_turning_read_only_under_the_pool_is_a_503_then_the_primary(
    stack: StackConfig, replicated: ReplicatedPostgres, api: ApiProcess
) -> None:
    """SQLSTATE 25006 on a pooled connection (its server is no primary any more, behind an
    address that stayed) is a 503 naming postgresql, and the pool is discarded: the next
    write connects to the writable server."""
    old = replicated.primary()
    new = next(node for node in replicated.nodes if node is not old)
    with api.client() as client:
        assert put_setting(client, stack.api_token, "failover.warm")[0] == 201
        with old.connect() as connection:
            connection.execute("ALTER SYSTEM SET default_transaction_read_only = on")
            connection.execute("SELECT pg_reload_conf()")
        wait_for(lambda: read_only_by_default(old), 10, "the old primary read-only")
        new.promote()
        answers = [put_setting(client, stack.api_token, f"failover.after_{n}") for n in range(3)]
    statuses = [status for status, _ in answers]
    assert statuses == [503, 201, 201], answers  # the pooled connection, then a new one
    assert '"dependency":"postgresql"' in answers[0][1]
    assert "read-only" in answers[0][1]
    # Back to one primary and its standby for the next test.
    old.kill()
    old.clone_from(new)


def read_only_by_default(node: PostgresNode) -> bool:
    with node.connect() as connection:
        row = connection.execute("SHOW default_transaction_read_only").fetchone()
    return bool(row and row[0] == "on")
