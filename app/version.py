"""The build identifier: APP_BUILD, else the git commit, else "unknown"."""

import subprocess
from pathlib import Path

GIT_TIMEOUT_SECONDS = 2.0


def resolve_build(app_build: str) -> str:
    if app_build:
        return app_build
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else "unknown"
