"""Root handling: PostgreSQL refuses to run as root, so under root it runs as `nobody`."""

import os
import shutil
import subprocess
from pathlib import Path

UNPRIVILEGED_USER = ("nobody", "nogroup")


def running_as_root() -> bool:
    return os.geteuid() == 0


def as_unprivileged(command: list[str]) -> list[str]:
    """`command` as it must run: dropped to nobody when started by root."""
    if not running_as_root():
        return command
    user, group = UNPRIVILEGED_USER
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", "--", *command]


def unprivileged_can(test_arguments: list[str]) -> bool:
    """Whether `test ARGUMENTS` holds for the user the servers run as."""
    probe = subprocess.run(as_unprivileged(["test", *test_arguments]), timeout=10, check=False)
    return probe.returncode == 0


def chown_to_unprivileged(*paths: Path) -> None:
    for path in paths:
        shutil.chown(path, *UNPRIVILEGED_USER)
