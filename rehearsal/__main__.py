"""Command line of the rehearsal: `python -m rehearsal up|down|chaos`."""

import argparse
import os
import sys
from pathlib import Path

from devstack.servers.base import StackError
from rehearsal import teardown
from rehearsal.journal import Journal, state_dir


def unsupported() -> str | None:
    """Why the rehearsal cannot run here, in one line; None when it can."""
    if not sys.platform.startswith("linux"):
        return f"the rehearsal needs Linux (network namespaces); this is {sys.platform}"
    if os.geteuid() != 0:
        return "the rehearsal needs root (it creates network namespaces): run it with sudo"
    return None


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    sub = commands.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="lay out the topology and print every host")
    up.add_argument(
        "--async-replication",
        action="store_true",
        help="PostgreSQL replication asynchronous (to see what it costs)",
    )
    sub.add_parser("down", help="remove everything the tool made (idempotent)")
    chaos = sub.add_parser("chaos", help="load + faults + checks on a topology it lays out")
    chaos.add_argument(
        "--minutes",
        type=float,
        default=10.0,
        help="faults go on at least this long (every class once in any case)",
    )
    chaos.add_argument("--seed", type=int, default=1, help="fixes the fault schedule")
    chaos.add_argument(
        "--report",
        type=Path,
        default=Path("rehearsal-report"),
        help="directory for report.json, report.md, timeline.png",
    )
    chaos.add_argument(
        "--async-replication",
        action="store_true",
        help="PostgreSQL replication asynchronous (to see what it costs)",
    )
    chaos.add_argument(
        "--record",
        action="store_true",
        help="add the run's figures to rehearsal/runs.json and the table of docs/rehearsal.md",
    )
    return commands


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    reason = unsupported()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    journal = Journal(state_dir())
    if arguments.command == "down":
        removed = teardown.down(journal)
        print(f"removed {len(removed)} things" if removed else "nothing to remove")
        return 0
    from rehearsal import layout

    if arguments.command == "up":
        print("Laying out the rehearsal topology:", flush=True)
        try:
            layout.up(journal, synchronous=not arguments.async_replication)
        except StackError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(layout.describe())
        return 0
    from rehearsal import chaos

    try:
        passed = chaos.chaos(
            journal,
            arguments.minutes,
            arguments.seed,
            arguments.report,
            synchronous=not arguments.async_replication,
            record=arguments.record,
        )
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
