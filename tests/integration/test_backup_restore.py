"""The restore drill, through `make backup` and `make restore` as docs/releases.md gives them, on a
PostgreSQL of the stack's recipe (WAL archiving on) started for each test: rows written, a
backup, more rows, a target time, more rows; the restore to that time brings back exactly the
rows written before it. A damaged backup is refused before anything changes, and a restore
never runs over a running stack's data."""

import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from devstack import backup, process
from devstack.config import DATABASE_NAME, PORT_VARIABLES, PROJECT_ROOT, StackConfig
from devstack.servers import postgres
from devstack.services import service
from devstack.stack import start
from devstack.waiting import wait_until

MAKE_TIMEOUT_SECONDS = 600
ARCHIVE_WAIT_SECONDS = 60.0


@pytest.fixture
def database() -> Iterator[StackConfig]:
    """The stack's PostgreSQL alone, on free ports in a new state directory."""
    config = StackConfig.ephemeral()
    try:
        start(config, service("postgresql"))
        yield config
    finally:
        process.stop(config.state_dir, "postgresql", signal.SIGINT)
        process.stop(config.state_dir, backup.RECOVERY_SERVER, signal.SIGINT)
        shutil.rmtree(config.state_dir, ignore_errors=True)


def make(config: StackConfig, target: str, *variables: str) -> subprocess.CompletedProcess[str]:
    """`make <target>` as an operator runs it, pointed at this test's stack."""
    env = {
        **os.environ,
        "SBS_STATE_DIR": str(config.state_dir),
        PORT_VARIABLES["postgresql"][0]: str(config.ports["postgresql"]),
    }
    return subprocess.run(
        ["make", "--no-print-directory", target, *variables],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MAKE_TIMEOUT_SECONDS,
        check=False,
    )


def connect(config: StackConfig) -> psycopg.Connection:
    return postgres.connect(config, DATABASE_NAME)


def write_rows(config: StackConfig, ids: range) -> None:
    with connect(config) as connection:
        for row_id in ids:  # one transaction (and commit time) per row
            connection.execute("INSERT INTO drill (id) VALUES (%s)", (row_id,))


def stored_ids(config: StackConfig) -> list[int]:
    with connect(config) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM drill ORDER BY id")]


def archive_everything(config: StackConfig) -> None:
    """Close the current WAL segment and wait until the server has archived it."""
    with connect(config) as connection:
        row = connection.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        segment = row[0]

        def archived() -> bool:
            found = connection.execute("SELECT last_archived_wal FROM pg_stat_archiver")
            last = found.fetchone()
            return last is not None and last[0] is not None and last[0] >= segment

        assert wait_until(archived, ARCHIVE_WAIT_SECONDS, interval=0.2), "WAL not archived"


def test_restore_to_a_point_in_time_brings_back_exactly_the_rows_before_it(
    database: StackConfig,
) -> None:
    with connect(database) as connection:
        connection.execute("CREATE TABLE drill (id int PRIMARY KEY)")
    write_rows(database, range(1, 4))

    began = time.monotonic()
    made = make(database, "backup")
    backup_seconds = time.monotonic() - began
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Base backup verified" in made.stdout
    (base_backup,) = backup.base_backups(database)

    write_rows(database, range(4, 7))
    with connect(database) as connection:
        row = connection.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        target: datetime = row[0]
    write_rows(database, range(7, 10))
    archive_everything(database)
    assert stored_ids(database) == list(range(1, 10))

    refused = make(database, "restore", f"TARGET_TIME={target.isoformat()}")
    assert refused.returncode != 0
    assert "run 'make down' first" in refused.stderr
    assert stored_ids(database) == list(range(1, 10))

    assert process.stop(database.state_dir, "postgresql", signal.SIGINT)
    began = time.monotonic()
    restored = make(database, "restore", f"TARGET_TIME={target.isoformat()}")
    restore_seconds = time.monotonic() - began
    assert restored.returncode == 0, restored.stdout + restored.stderr
    print(f"make backup {backup_seconds:.1f}s, make restore {restore_seconds:.1f}s")
    assert "the previous data is kept in" in restored.stdout
    replaced = list(postgres.data_dir(database).parent.glob("data.replaced-*"))
    assert len(replaced) == 1
    assert (replaced[0] / "PG_VERSION").is_file()

    start(database, service("postgresql"))
    assert stored_ids(database) == [1, 2, 3, 4, 5, 6]
    write_rows(database, range(100, 101))  # promoted: it takes writes again
    assert stored_ids(database)[-1] == 100
    assert base_backup.is_dir()


def tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def test_a_corrupted_backup_is_refused_before_the_restore_changes_anything(
    database: StackConfig,
) -> None:
    with connect(database) as connection:
        connection.execute("CREATE TABLE drill (id int PRIMARY KEY)")
    write_rows(database, range(1, 4))
    made = make(database, "backup")
    assert made.returncode == 0, made.stdout + made.stderr
    (base_backup,) = backup.base_backups(database)
    assert process.stop(database.state_dir, "postgresql", signal.SIGINT)

    # One flipped byte in a relation file of the backup, as a bad disk or a bad copy would do.
    relations = sorted((base_backup / "base").rglob("*"))
    damaged = next(p for p in relations if p.is_file() and p.stat().st_size > 0)
    content = bytearray(damaged.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged.write_bytes(bytes(content))

    data = postgres.data_dir(database)
    before = tree_digest(data)
    refused = make(database, "restore")
    assert refused.returncode != 0
    assert f"backup {base_backup} failed verification and is refused" in refused.stderr
    assert "pg_verifybackup" in refused.stderr
    assert "checksum mismatch" in refused.stderr
    assert tree_digest(data) == before
    assert not data.with_name("data.restoring").exists()
    assert not list(data.parent.glob("data.replaced-*"))


def test_backup_needs_a_running_database(database: StackConfig) -> None:
    assert process.stop(database.state_dir, "postgresql", signal.SIGINT)
    refused = make(database, "backup")
    assert refused.returncode != 0
    assert "run 'make up' first" in refused.stderr
    assert backup.base_backups(database) == []
