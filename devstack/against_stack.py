"""Run one command with the environment the local stack gives its API and worker.

`make migration`, `make migrate` and `make dev` go through it, so Alembic and a reloading API
reach the same PostgreSQL, Temporal, Redis and NATS as `make up`'s own processes (ports moved
by `*_PORT` variables or `.env` included): `python -m devstack.against_stack COMMAND ...`.
"""

import os
import sys

from devstack import process
from devstack.config import StackConfig


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m devstack.against_stack COMMAND [ARGUMENTS ...]", file=sys.stderr)
        return 2
    config = StackConfig.from_environment()
    if process.running_pid(config.state_dir, "postgresql") is None:
        print(
            f"the local stack is not running (state in {config.state_dir}): run 'make up' first",
            file=sys.stderr,
        )
        return 1
    environment = {**os.environ, **config.app_environment()}
    os.execvpe(argv[0], argv, environment)  # noqa: S606 - the developer's own command


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
