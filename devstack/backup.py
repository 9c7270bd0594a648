"""Backups of the local stack's PostgreSQL and their restore (`make backup`, `make restore`).

A backup is a base backup (`pg_basebackup`, plain format, WAL streamed in, a SHA-256 manifest)
checked by `pg_verifybackup` before it is kept; with the WAL the server archives continuously
(devstack/servers/postgres.py, `archive_settings`) it restores to any moment after it.

A restore never touches a running stack's data: it refuses while the stack's PostgreSQL runs,
verifies the backup first (a damaged one is refused before anything changes), recovers a copy in
a fresh directory with a PostgreSQL of its own (to the end of the archive, or to TARGET_TIME),
and only then puts it in place of the data directory, which it keeps beside it.

    python -m devstack.backup backup [--keep N]
    python -m devstack.backup restore [--target-time TIME] [--backup DIR]
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from devstack import process
from devstack.config import DATABASE_PASSWORD, DATABASE_USER, HOST, StackConfig, free_ports
from devstack.privileges import chown_to_unprivileged, running_as_root
from devstack.servers import postgres
from devstack.servers.base import StackError
from devstack.waiting import wait_until

# Base backups kept by `make backup` (older ones and the WAL only they need are deleted).
DEFAULT_KEEP = 2
BACKUP_TIMEOUT_SECONDS = 3600.0
VERIFY_TIMEOUT_SECONDS = 1800.0
RECOVERY_TIMEOUT_SECONDS = 600.0
# The temporary server that replays the WAL: its name in the state directory (pid, log).
RECOVERY_SERVER = "postgresql-restore"
# The lines `restore` adds to the copy's postgresql.auto.conf, removed once it recovered.
RECOVERY_MARK = "# added by devstack.backup restore"
START_WAL = re.compile(r"^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$", re.MULTILINE)


def base_backups_dir(config: StackConfig) -> Path:
    return config.path("backups", "base")


def base_backups(config: StackConfig) -> list[Path]:
    """The finished base backups, oldest first (their names are UTC timestamps)."""
    directory = base_backups_dir(config)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if (p / "backup_manifest").is_file())


def run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL tool; its output, or StackError with what it said."""
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"{Path(command[0]).name} did not finish in {timeout:.0f}s") from None
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip()
        raise StackError(f"{Path(command[0]).name} failed (exit {result.returncode}): {said}")
    return result.stdout


def verify(backup: Path) -> None:
    """`pg_verifybackup`: every file against the manifest's checksums, and the WAL it needs."""
    if not (backup / "backup_manifest").is_file():
        raise StackError(f"{backup} is not a base backup: it has no backup_manifest")
    try:
        run([postgres.bin_path("pg_verifybackup"), str(backup)], VERIFY_TIMEOUT_SECONDS)
    except StackError as error:
        raise StackError(f"backup {backup} failed verification and is refused: {error}") from None


def start_wal_segment(backup: Path) -> str:
    found = START_WAL.search((backup / "backup_label").read_text())
    if found is None:
        raise StackError(f"{backup}/backup_label names no start WAL segment")
    return found.group(1)


def prune(config: StackConfig, keep: int) -> list[Path]:
    """Delete all but the newest `keep` base backups, and the archived WAL older than the oldest
    one kept (`pg_archivecleanup`); returns the deleted backups."""
    backups = base_backups(config)
    deleted = backups[:-keep] if keep < len(backups) else []
    for old in deleted:
        shutil.rmtree(old)
    kept = backups[len(deleted) :]
    if kept and postgres.wal_archive_dir(config).is_dir():
        run(
            [
                postgres.bin_path("pg_archivecleanup"),
                str(postgres.wal_archive_dir(config)),
                start_wal_segment(kept[0]),
            ],
            VERIFY_TIMEOUT_SECONDS,
        )
    return deleted


def backup(config: StackConfig, keep: int = DEFAULT_KEEP) -> Path:
    """Take a base backup of the running stack's PostgreSQL, verify it, keep the newest `keep`."""
    if keep < 1:
        raise StackError(f"BACKUP_KEEP={keep}: keep at least one base backup")
    if not postgres.ready(config):
        raise StackError(
            f"the stack's PostgreSQL (port {config.ports['postgresql']}) does not answer: "
            "run 'make up' first"
        )
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = base_backups_dir(config) / name
    partial = final.with_name(name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        run(
            [
                postgres.bin_path("pg_basebackup"),
                f"--host={HOST}",
                f"--port={config.ports['postgresql']}",
                f"--username={DATABASE_USER}",
                "--no-password",
                f"--pgdata={partial}",
                "--format=plain",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--manifest-checksums=SHA256",
                f"--label=sbs-{name}",
            ],
            BACKUP_TIMEOUT_SECONDS,
            env={**os.environ, "PGPASSWORD": DATABASE_PASSWORD, "PGCONNECT_TIMEOUT": "10"},
        )
        verify(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(final)
    prune(config, keep)
    return final


def parse_target_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StackError(
            f"TARGET_TIME={text!r} is not an ISO 8601 time, e.g. 2026-12-04T05:10:00+00:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def recovery_settings(config: StackConfig, target: datetime | None) -> list[str]:
    archive = postgres.wal_archive_dir(config)
    lines = [RECOVERY_MARK, f"restore_command = 'cp {archive}/%f %p'"]
    if target is not None:
        lines += [
            f"recovery_target_time = '{target.isoformat()}'",
            "recovery_target_inclusive = on",
        ]
    lines.append("recovery_target_action = 'promote'")
    return lines


def recovered(config: StackConfig, port: int) -> bool:
    """Whether the recovery server answers and has left recovery (promoted)."""
    url = config.database("postgresql").set(port=port, database="postgres")
    try:
        with psycopg.connect(
            url.render_as_string(hide_password=False), connect_timeout=2, autocommit=True
        ) as connection:
            row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] is False


def replay(config: StackConfig, data: Path) -> None:
    """Start PostgreSQL on `data` (a free port), wait until its recovery has ended, stop it."""
    port = free_ports(1)[0]
    command = postgres.server_command(data, port, None, **postgres.archive_settings(config))
    server = process.spawn(
        config.state_dir, RECOVERY_SERVER, command, env=dict(os.environ), cwd=data.parent
    )
    log = process.log_file(config.state_dir, RECOVERY_SERVER)

    def done() -> bool:
        if server.poll() is not None:
            raise StackError(f"recovery stopped (exit {server.returncode}):\n{process.tail(log)}")
        return recovered(config, port)

    try:
        if not wait_until(done, RECOVERY_TIMEOUT_SECONDS, interval=0.2):
            raise StackError(
                f"recovery not finished after {RECOVERY_TIMEOUT_SECONDS:.0f}s; see {log}"
            )
    finally:
        process.stop(config.state_dir, RECOVERY_SERVER, signal.SIGINT)


def restore(
    config: StackConfig, backup_dir: Path | None = None, target_time: str | None = None
) -> Path:
    """Restore into a fresh data directory and put it in place of the stack's; returns where
    the data directory it replaced was kept."""
    running = process.running_pid(config.state_dir, "postgresql")
    if running is not None:
        raise StackError(
            f"the stack's PostgreSQL is running (pid {running}): run 'make down' first; "
            "a restore never overwrites the data of a running stack"
        )
    target = parse_target_time(target_time) if target_time else None
    chosen = backup_dir or next(reversed(base_backups(config)), None)
    if chosen is None:
        raise StackError(f"no base backup in {base_backups_dir(config)}: run 'make backup' first")
    verify(chosen)

    data = postgres.data_dir(config)
    fresh = data.with_name("data.restoring")
    shutil.rmtree(fresh, ignore_errors=True)  # left by an interrupted restore, never live data
    shutil.copytree(chosen, fresh, ignore=shutil.ignore_patterns("backup_manifest"))
    (fresh / "recovery.signal").touch()
    auto_conf = fresh / "postgresql.auto.conf"
    original_conf = auto_conf.read_text() if auto_conf.exists() else ""
    auto_conf.write_text(original_conf + "\n".join(recovery_settings(config, target)) + "\n")
    fresh.chmod(0o700)
    if running_as_root():
        for path in [fresh, *fresh.rglob("*")]:
            chown_to_unprivileged(path)
    replay(config, fresh)
    auto_conf.write_text(original_conf)

    kept = data.with_name(f"data.replaced-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    if data.exists():
        data.rename(kept)
    fresh.rename(data)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Back up and restore the stack's PostgreSQL.")
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("backup", help="a verified base backup (make backup)")
    take.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="base backups to keep")
    back = commands.add_parser("restore", help="restore into a fresh data directory")
    back.add_argument("--target-time", default=None, help="ISO 8601 time to recover to")
    back.add_argument("--backup", type=Path, default=None, help="a base backup directory")
    args = parser.parse_args(argv)
    config = StackConfig.from_environment()
    try:
        if args.command == "backup":
            made = backup(config, args.keep)
            print(f"Base backup verified: {made}")
            print(f"WAL archive: {postgres.wal_archive_dir(config)}")
        else:
            kept = restore(config, args.backup, args.target_time)
            print(f"Restored into {postgres.data_dir(config)}; the previous data is kept in {kept}")
            print("Start the stack with 'make up'.")
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
