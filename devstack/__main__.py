"""Command line of the local stack: `python -m devstack up|down|status|logs`."""

import argparse
import os
import sys

from devstack.config import StackConfig
from devstack.services import StackError
from devstack.stack import down, log_files, status, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "logs"])
    args = parser.parse_args(argv)
    config = StackConfig.from_environment()
    try:
        if args.command == "up":
            up(config)
        elif args.command == "down":
            down(config)
        elif args.command == "status":
            for row in status(config):
                pid = row["pid"] or "-"
                ports = ",".join(str(port) for port in row["ports"])  # type: ignore[attr-defined]
                print(f"{row['service']:<11} {row['state']:<20} pid {pid!s:<8} ports {ports}")
        else:
            files = [str(path) for path in log_files(config)]
            if not files:
                print(f"no logs yet in {config.state_dir / 'logs'}")
                return 0
            os.execvp("tail", ["tail", "-n", "20", "-F", *files])  # noqa: S606
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
