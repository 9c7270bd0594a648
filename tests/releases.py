"""The release list (`releases.json`): versions, their commits, and a checkout of one."""

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.config import PROJECT_ROOT

RELEASES_FILE = PROJECT_ROOT / "releases.json"
GIT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    commit: str


def releases() -> list[Release]:
    entries = json.loads(RELEASES_FILE.read_text())["releases"]
    return [Release(entry["version"], entry["date"], entry["commit"]) for entry in entries]


def git(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_SECONDS,
        check=False,
    )


@contextmanager
def checked_out(release: Release, parent: Path) -> Iterator[Path]:
    """The release's files in a detached git worktree under `parent`, removed afterwards."""
    path = parent / f"sbs-{release.version}"
    added = git("worktree", "add", "--detach", str(path), release.commit)
    assert added.returncode == 0, added.stderr
    try:
        yield path
    finally:
        git("worktree", "remove", "--force", str(path))
