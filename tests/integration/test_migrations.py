"""Migrations through entrypoint.py: fresh, repeated, four replicas at once, and a database
that never comes up; the migration lock's wait in PostgreSQL and its bound; the one writer
of system_settings; pytest-alembic's standard checks (single head, upgrade, up/down round trip,
models match the migrated schema); a migration facing a long transaction that holds its table."""

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from pytest_alembic.tests import (  # noqa: F401 - pytest collects the imported tests
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, create_engine, pool, text
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from alembic import command
from app import __version__
from app.config import Settings
from app.migrations import (
    MIGRATION_LOCK_KEY,
    MigrationLockTimeoutError,
    acquire_migration_lock,
    alembic_config,
    head_revision,
    make_engine,
    migrate,
)
from app.models import Base, upsert_setting
from app.models.system import PLATFORM_VERSION_DESCRIPTION
from devstack.config import DATABASE_NAME, PROJECT_ROOT, StackConfig
from devstack.servers.postgres import connect as postgres_connect
from tests.integration.helpers import start_api_in
from tests.releases import checked_out, releases
from tests.waiting import wait_for


@pytest.fixture
def empty_database(stack: StackConfig) -> Iterator[str]:
    """A new, empty database on the stack's PostgreSQL; its SQLAlchemy URL."""
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    with postgres_connect(stack, "postgres") as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield stack.database_url.rsplit("/", 1)[0] + f"/{name}"
    with postgres_connect(stack, "postgres") as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def alembic_engine(empty_database: str) -> Iterator[Engine]:
    """pytest-alembic's checks run on an empty database of the stack's PostgreSQL."""
    engine = create_engine(empty_database, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def migrate_only(database_url: str, **extra_env: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json", **extra_env}
    return subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "entrypoint.py"), "--migrate-only"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def schema_state(database_url: str) -> tuple[list[str], object]:
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain_url, connect_timeout=5) as connection:
        revisions = [
            row[0] for row in connection.execute("SELECT version_num FROM alembic_version")
        ]
        version = connection.execute(
            "SELECT value FROM system_settings WHERE key = 'core.version'"
        ).fetchone()
    return revisions, version[0] if version else None


def test_fresh_then_repeated_migration(empty_database: str) -> None:
    first = migrate_only(empty_database)
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output
    assert "migrations applied" in output
    assert schema_state(empty_database) == ([head_revision(alembic_config())], __version__)

    again = migrate_only(empty_database)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    assert "schema already at head" in output
    assert "applying migrations" not in output


def test_four_replicas_migrating_at_once(empty_database: str) -> None:
    replicas = [migrate_only(empty_database) for _ in range(4)]
    outputs = [replica.communicate(timeout=120)[0] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0, 0], outputs
    assert sum("migrations applied" in output for output in outputs) == 1, outputs
    revisions, version = schema_state(empty_database)
    assert revisions == [head_revision(alembic_config())]
    assert version == __version__


def test_unreachable_database_fails_after_the_wait(stack: StackConfig) -> None:
    closed_port_url = f"postgresql+psycopg://postgres:secret@127.0.0.1:1/{DATABASE_NAME}"
    replica = migrate_only(
        closed_port_url, DATABASE_WAIT_TIMEOUT="2", DEPENDENCY_CONNECT_TIMEOUT="1"
    )
    output, _ = replica.communicate(timeout=60)
    assert replica.returncode == 1
    assert "waiting for database" in output
    assert "not reachable after 2s" in output


def test_invalid_setting_stops_the_process_naming_the_variable() -> None:
    replica = migrate_only("postgresql+psycopg://x@127.0.0.1:1/x", DATABASE_WAIT_TIMEOUT="soon")
    output, _ = replica.communicate(timeout=60)
    assert replica.returncode != 0
    assert "DATABASE_WAIT_TIMEOUT" in output


def plain(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


def test_upgrade_rewrites_core_version_through_the_one_writer(empty_database: str) -> None:
    """A schema at head whose core.version names another platform version is re-recorded
    (value, description and updated_at, as upsert_setting writes them)."""
    first = migrate_only(empty_database)
    assert first.wait(timeout=120) == 0
    with psycopg.connect(plain(empty_database), connect_timeout=5, autocommit=True) as connection:
        connection.execute(
            "UPDATE system_settings SET value = '\"0.9.0\"', description = 'stale', "
            "updated_at = now() - interval '1 day' WHERE key = 'core.version'"
        )
    again = migrate_only(empty_database)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    assert "migrations applied" in output
    with psycopg.connect(plain(empty_database), connect_timeout=5) as connection:
        row = connection.execute(
            "SELECT value, description, now() - updated_at < interval '1 minute' "
            "FROM system_settings WHERE key = 'core.version'"
        ).fetchone()
    assert row == (__version__, PLATFORM_VERSION_DESCRIPTION, True)


def test_upsert_setting_creates_then_replaces_and_says_which(empty_database: str) -> None:
    engine = make_engine(Settings(DATABASE_URL=empty_database))
    try:
        Base.metadata.create_all(engine)
        with engine.connect() as connection:
            created = connection.execute(upsert_setting("demo.a", {"n": 1}, "first")).one()
            connection.commit()
            replaced = connection.execute(upsert_setting("demo.a", [2], None)).one()
            connection.commit()
            stored = connection.execute(text("SELECT value, description FROM system_settings"))
            assert stored.all() == [([2], None)]
    finally:
        engine.dispose()
    assert (created.key, created.value, created.description, created.created) == (
        "demo.a",
        {"n": 1},
        "first",
        True,
    )
    assert (replaced.value, replaced.description, replaced.created) == ([2], None, False)
    assert replaced.updated_at > created.updated_at


@contextmanager
def migration_lock_held(database_url: str) -> Iterator[psycopg.Connection]:
    """Another replica: a session holding the migration lock until the block ends."""
    with psycopg.connect(plain(database_url), connect_timeout=5, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        yield holder


def waiting_for_the_lock(database_url: str) -> int:
    """How many sessions PostgreSQL has queued on the migration lock (not granted)."""
    with psycopg.connect(plain(database_url), connect_timeout=5) as observer:
        row = observer.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_waiting_replica_queues_in_postgresql_and_takes_the_lock_on_release(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.migrations")
    engine = make_engine(Settings(DATABASE_URL=empty_database))
    acquired = threading.Event()
    try:
        with engine.connect() as connection, migration_lock_held(empty_database) as holder:

            def acquire() -> None:
                acquire_migration_lock(connection, 30)
                acquired.set()

            waiter = threading.Thread(target=acquire, daemon=True)
            waiter.start()
            # A blocking pg_advisory_lock is a lock request PostgreSQL queues (a poll is not).
            queued = Retrying(
                stop=stop_after_delay(10),
                wait=wait_fixed(0.05),
                retry=retry_if_result(lambda queued: queued != 1),
                retry_error_callback=lambda state: state.outcome and state.outcome.result(),
            )(waiting_for_the_lock, empty_database)
            assert queued == 1, "no session queued on the migration lock"
            assert not acquired.is_set()
            released = time.monotonic()
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
            assert acquired.wait(5)
            # Handed over by the queue at once (the bound leaves room for a loaded machine).
            assert time.monotonic() - released < 2.0
            waiter.join(5)
            # lock_timeout was SET LOCAL: the migrations that follow run without it.
            assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "0"
            connection.execute(text("SELECT pg_advisory_unlock_all()"))
            connection.commit()
    finally:
        engine.dispose()
    waits = [record.getMessage() for record in caplog.records]
    assert waits.count("another replica is migrating; waiting for the migration lock") == 1


def test_the_lock_wait_ends_at_lock_timeout(empty_database: str) -> None:
    engine = make_engine(Settings(DATABASE_URL=empty_database))
    outcome: list[BaseException] = []
    try:
        with engine.connect() as connection, migration_lock_held(empty_database):

            def acquire() -> None:
                try:
                    acquire_migration_lock(connection, 1.0)
                except BaseException as error:
                    outcome.append(error)

            started = time.monotonic()
            # A thread, so that a wait without its bound fails this test instead of hanging it.
            waiter = threading.Thread(target=acquire, daemon=True)
            waiter.start()
            waiter.join(10)
            elapsed = time.monotonic() - started
            assert not waiter.is_alive(), "the lock wait did not end at its timeout"
            assert len(outcome) == 1
            assert isinstance(outcome[0], TimeoutError)
            assert "still held by another process after 1s" in str(outcome[0])
            assert 1.0 <= elapsed < 2.5
            assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "0"
            assert waiting_for_the_lock(empty_database) == 0
    finally:
        engine.dispose()


# What `pip install -e .` needs of the checkout: the package, its metadata, the migrations.
PROJECT_FILES = ("pyproject.toml", "README.md", "requirements.txt", "alembic.ini", "alembic", "app")


def test_installed_sbs_migrate_migrates(empty_database: str, tmp_path: Path) -> None:
    """`pip install -e .` puts the `[project.scripts]` on PATH and `sbs-migrate` works."""
    source = tmp_path / "src"
    source.mkdir()
    for name in PROJECT_FILES:
        original = PROJECT_ROOT / name
        if original.is_dir():
            shutil.copytree(original, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(original, source / name)
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    # The new environment sees this one's packages: only the project itself gets installed.
    site_packages = next((venv / "lib").glob("python3.*/site-packages"))
    (site_packages / "dev-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
         "--quiet", "--no-deps", "--editable", str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr

    for script, expected in (("sbs-api", "--migrate-only"), ("sbs-worker", "Temporal worker")):
        shown = subprocess.run(
            [str(venv / "bin" / script), "--help"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert expected in shown.stdout

    migrated = subprocess.run(
        [str(venv / "bin/sbs-migrate")],
        env={**os.environ, "DATABASE_URL": empty_database, "LOG_FORMAT": "json"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "migrations applied" in migrated.stdout
    assert schema_state(empty_database) == ([head_revision(alembic_config())], __version__)


# The last revision of release 1.0.0; the next one (1.1.0) alters system_settings.
RELEASE_1_0_0_HEAD = "20251107000000"
LOCK_TIMEOUT = 1.0
LOCK_RETRIES = 2


def upgrade_to(database_url: str, revision: str) -> None:
    engine = make_engine(Settings(DATABASE_URL=database_url))
    try:
        with engine.connect() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def test_a_migration_behind_a_long_transaction_fails_within_its_lock_timeout(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A session of the previous release holds ACCESS SHARE on system_settings in an open
    transaction: the 1.1.0 migration's ALTER TABLE waits at most MIGRATION_LOCK_TIMEOUT per
    attempt, is retried MIGRATION_LOCK_RETRIES times (each logged), then fails naming the bound;
    meanwhile the other sessions' reads of the table never wait longer than that bound."""
    caplog.set_level(logging.INFO, logger="app.migrations")
    upgrade_to(empty_database, RELEASE_1_0_0_HEAD)
    settings = Settings(
        DATABASE_URL=empty_database,
        MIGRATION_LOCK_TIMEOUT=str(LOCK_TIMEOUT),
        MIGRATION_LOCK_RETRIES=str(LOCK_RETRIES),
    )
    outcome: list[BaseException | str] = []
    read_seconds: list[float] = []

    def run_migration() -> None:
        try:
            outcome.append(migrate(settings))
        except BaseException as error:
            outcome.append(error)

    def read_while_migrating(migration: threading.Thread) -> None:
        with psycopg.connect(plain(empty_database), connect_timeout=5, autocommit=True) as reader:
            # Its own bound, far above the one under test: a read never hangs this test.
            reader.execute("SET statement_timeout = '20s'")
            while migration.is_alive():
                started = time.monotonic()
                reader.execute("SELECT count(*) FROM system_settings").fetchone()
                read_seconds.append(time.monotonic() - started)

    with psycopg.connect(plain(empty_database), connect_timeout=5) as holder:
        holder.execute("SELECT count(*) FROM system_settings").fetchone()  # ACCESS SHARE, kept
        started = time.monotonic()
        migration = threading.Thread(target=run_migration, daemon=True)
        migration.start()
        reader = threading.Thread(target=read_while_migrating, args=(migration,), daemon=True)
        reader.start()
        migration.join(60)
        elapsed = time.monotonic() - started
        assert not migration.is_alive(), "the migration did not stop at its lock timeout"
        reader.join(30)
        holder.rollback()

    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], MigrationLockTimeoutError), outcome
    assert "within MIGRATION_LOCK_TIMEOUT=1s in 3 attempt(s)" in str(outcome[0])
    assert "LockNotAvailable" in str(outcome[0])
    # Three lock waits of 1 s and two pauses of 1 s between them; room for a loaded machine.
    attempts = LOCK_RETRIES + 1
    assert attempts * LOCK_TIMEOUT <= elapsed < 2 * attempts * LOCK_TIMEOUT + 6
    retries = [
        record
        for record in caplog.records
        if record.getMessage().startswith("migration could not take its lock")
    ]
    assert [getattr(record, "attempt", None) for record in retries] == [1, 2]
    # Reads queued behind the waiting ALTER (so the test saw the queue) but never for longer
    # than the lock timeout (plus scheduling slack on a busy 2-core machine).
    assert max(read_seconds) > LOCK_TIMEOUT / 2, read_seconds
    assert max(read_seconds) < LOCK_TIMEOUT + 1.0, read_seconds
    assert schema_state(empty_database)[0] == [RELEASE_1_0_0_HEAD]

    # The transaction ended: the same migration now goes through.
    assert migrate(settings) == "upgraded"
    assert schema_state(empty_database) == ([head_revision(alembic_config())], __version__)


def test_upgrade_from_the_previous_release(empty_database: str, tmp_path: Path) -> None:
    """The previous release (its recorded commit, checked out) migrates an empty database to
    its schema; this release then upgrades it in place and records its version."""
    previous = releases()[-2]
    with checked_out(previous, tmp_path) as old_release:
        old = subprocess.run(
            [sys.executable, str(old_release / "entrypoint.py"), "--migrate-only"],
            env={**os.environ, "DATABASE_URL": empty_database, "LOG_FORMAT": "json"},
            cwd=old_release,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert old.returncode == 0, old.stdout + old.stderr
    old_revisions, old_version = schema_state(empty_database)
    assert old_version == previous.version
    assert old_revisions != [head_revision(alembic_config())]

    new = migrate_only(empty_database)
    output, _ = new.communicate(timeout=120)
    assert new.returncode == 0, output
    assert schema_state(empty_database) == ([head_revision(alembic_config())], __version__)


def test_the_previous_release_serves_while_this_one_migrates(
    stack: StackConfig, empty_database: str, tmp_path: Path
) -> None:
    """The previous release's API (its recorded commit) serves writes and reads under a steady
    load while this release's migration runs on its database, and after it: no request fails,
    every acknowledged write is stored, and its new writes get the new column's default."""
    previous = releases()[-2]
    failures: list[str] = []
    acknowledged: list[str] = []
    migrated = threading.Event()
    after_migration = 0
    with checked_out(previous, tmp_path) as old_release:
        old = subprocess.run(
            [sys.executable, str(old_release / "entrypoint.py"), "--migrate-only"],
            env={**os.environ, "DATABASE_URL": empty_database, "LOG_FORMAT": "json"},
            cwd=old_release,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert old.returncode == 0, old.stdout + old.stderr
        old_api = start_api_in(old_release, stack, "run_api.py", {"DATABASE_URL": empty_database})
        try:
            old_api.wait_ready()
            headers = {"Authorization": f"Bearer {stack.api_token}"}

            def load() -> None:
                nonlocal after_migration
                with old_api.client(timeout=10) as client:
                    # Bounded: at most 2000 writes, and it stops 100 writes after the migration.
                    for number in range(2000):
                        key = f"rolling.k{number}"
                        try:
                            put = client.put(
                                f"/settings/{key}", json={"value": number}, headers=headers
                            )
                            got = client.get(f"/settings/{key}")
                        except httpx.HTTPError as error:
                            failures.append(f"{key}: {error!r}")
                            continue
                        if put.status_code != 201 or got.status_code != 200:
                            failures.append(f"{key}: PUT {put.status_code} GET {got.status_code}")
                            continue
                        acknowledged.append(key)
                        if migrated.is_set():
                            after_migration += 1
                            if after_migration >= 100:
                                return

            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            assert wait_for(lambda: len(acknowledged) >= 20, 60, "load on the old release") >= 0
            new = migrate_only(empty_database)
            output, _ = new.communicate(timeout=120)
            migrated.set()
            assert new.returncode == 0, output
            assert "migrations applied" in output
            loader.join(120)
            assert not loader.is_alive(), "the load did not finish"
            version = old_api.client().get("/version").json()["version"]
        finally:
            old_api.stop()
            old_api.log.unlink(missing_ok=True)

    assert version == previous.version
    assert failures == []
    assert after_migration == 100
    with psycopg.connect(plain(empty_database), connect_timeout=5) as connection:
        stored = {
            key: created
            for key, created in connection.execute(
                "SELECT key, created_at IS NOT NULL FROM system_settings WHERE key LIKE 'rolling.%'"
            )
        }
    assert set(stored) == set(acknowledged)
    # Written by the old release after the migration: the new column's default filled it.
    assert all(stored[key] for key in acknowledged[-100:])
    print(f"old release: {len(acknowledged)} acknowledged writes, 0 failed, 100 after migrating")
