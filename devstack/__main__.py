"""Command line of the local stack (`make up|down|status|logs|reset|psql|redis-cli|temporal`)."""

import argparse
import os
import shlex
import shutil
import sys

from devstack import process
from devstack.config import DATABASE_NAME, DATABASE_PASSWORD, DATABASE_USER, HOST, StackConfig
from devstack.servers import postgres
from devstack.servers import temporal as temporal_server
from devstack.servers.base import StackError, venv_binary
from devstack.services import SERVICES
from devstack.stack import down, log_files, status, up


def print_status(config: StackConfig) -> None:
    for row in status(config):
        pid = row["pid"] or "-"
        ports = ",".join(str(port) for port in row["ports"])  # type: ignore[attr-defined]
        print(f"{row['service']:<18} {row['state']:<20} pid {pid!s:<8} ports {ports}")


def follow_logs(config: StackConfig) -> int:
    files = [str(path) for path in log_files(config)]
    if not files:
        print(f"no logs yet in {config.state_dir / 'logs'}")
        return 0
    # -F follows each file by name, so it goes on across a rotation (see devstack.logpipe).
    os.execvp("tail", ["tail", "-n", "20", "-F", *files])  # noqa: S606


def reset(config: StackConfig) -> None:
    """Delete the data of a stopped stack (logs included); refuse while anything runs."""
    running = [s.name for s in SERVICES if process.running_pid(config.state_dir, s.name)]
    if running:
        raise StackError(f"still running: {', '.join(running)}; run 'make down' first")
    if config.state_dir.exists():
        shutil.rmtree(config.state_dir)
    print(f"Deleted {config.state_dir}: the next 'make up' starts from empty databases.")


def psql(config: StackConfig, arguments: list[str]) -> None:
    os.environ["PGPASSWORD"] = DATABASE_PASSWORD
    command = [postgres.bin_path("psql"), "-h", HOST, "-p", str(config.ports["postgresql"])]
    os.execv(command[0], [*command, "-U", DATABASE_USER, DATABASE_NAME, *arguments])  # noqa: S606


def redis_cli(config: StackConfig, arguments: list[str]) -> None:
    """Debian's redis-cli or valkey-cli when installed, else a minimal prompt on redis-py."""
    port = str(config.ports["redis"])
    for name in ("valkey-cli", "redis-cli"):
        found = shutil.which(name)
        if found:
            os.execv(found, [found, "-h", HOST, "-p", port, *arguments])  # noqa: S606
    import redis

    client = redis.Redis(host=HOST, port=int(port), socket_timeout=10, decode_responses=True)
    if arguments:
        print(client.execute_command(*arguments))  # type: ignore[no-untyped-call]
        return
    print(f"redis {HOST}:{port} (redis-py; 'apt-get install redis-tools' gives redis-cli)")
    while True:
        try:
            line = input("redis> ").strip()
        except EOFError:
            return
        if line:
            try:
                print(client.execute_command(*shlex.split(line)))  # type: ignore[no-untyped-call]
            except redis.RedisError as error:
                print(f"(error) {error}")


def temporal(config: StackConfig, arguments: list[str]) -> None:
    binary = venv_binary("temporal")
    address = temporal_server.address(config)
    os.execv(binary, [binary, *arguments, "--address", address])  # noqa: S606


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "logs", "reset", "psql", "redis-cli", "temporal"],
    )
    parser.add_argument(
        "arguments", nargs=argparse.REMAINDER, help="passed to psql/redis-cli/temporal"
    )
    args = parser.parse_args(argv)
    config = StackConfig.from_environment()
    try:
        if args.command == "up":
            up(config)
        elif args.command == "down":
            down(config)
        elif args.command == "status":
            print_status(config)
        elif args.command == "logs":
            return follow_logs(config)
        elif args.command == "reset":
            reset(config)
        elif args.command == "psql":
            psql(config, args.arguments)
        elif args.command == "redis-cli":
            redis_cli(config, args.arguments)
        else:
            temporal(config, args.arguments)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
