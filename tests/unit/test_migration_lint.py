"""The migration linter (devstack/migration_lint.py, in `make lint`): the project's revisions
pass it, and each kind of DDL that blocks or breaks a running previous release fails it, naming
the revision and squawk's rule."""

import shutil
from pathlib import Path

import pytest

from devstack.config import PROJECT_ROOT
from devstack.migration_lint import lint, main

HEAD = "20261204000100"
MUTANT = "29990101000000"

REVISION = '''"""A mutant revision for the linter's test."""

import sqlalchemy as sa

from alembic import op

revision = "{mutant}"
down_revision = "{head}"
branch_labels = None
depends_on = None
{extra}

def upgrade() -> None:
    {operation}


def downgrade() -> None:
    pass
'''

# Each dangerous change, and the squawk rule that must name it.
MUTATIONS = {
    "not-null-without-default": (
        'op.add_column("system_settings", sa.Column("owner", sa.Text(), nullable=False))',
        "adding-required-field",
    ),
    "index-without-concurrently": (
        'op.create_index("ix_settings_description", "system_settings", ["description"])',
        "require-concurrent-index-creation",
    ),
    "column-rename": (
        'op.alter_column("system_settings", "description", new_column_name="summary")',
        "renaming-column",
    ),
    "type-change": (
        'op.alter_column("system_settings", "description", type_=sa.String(200))',
        "changing-column-type",
    ),
}


def scripts_with(tmp_path: Path, operation: str, extra: str = "") -> Path:
    location = tmp_path / "alembic"
    shutil.copytree(
        PROJECT_ROOT / "alembic", location, ignore=shutil.ignore_patterns("__pycache__")
    )
    (location / "versions" / f"{MUTANT}_mutant.py").write_text(
        REVISION.format(mutant=MUTANT, head=HEAD, extra=extra, operation=operation)
    )
    return location


def test_the_project_revisions_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "revision(s) clean" in capsys.readouterr().out


@pytest.mark.parametrize("name", MUTATIONS)
def test_dangerous_ddl_fails_naming_revision_and_rule(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operation, rule = MUTATIONS[name]
    location = scripts_with(tmp_path, operation)
    assert main([str(location)]) == 1
    report = capsys.readouterr().err
    assert f"revision {MUTANT} (" in report
    assert f"{MUTANT}_mutant.py" in report
    assert rule in report
    assert "1 of 4 revision(s) failed" in report


def test_a_justified_ignore_silences_its_rule_only_for_its_revision(tmp_path: Path) -> None:
    operation, rule = MUTATIONS["index-without-concurrently"]
    reason = "The table is created empty in this same revision and nobody reads it yet."
    location = scripts_with(tmp_path, operation, extra=f"SQUAWK_IGNORE = {{{rule!r}: {reason!r}}}")
    assert lint(location) == []


def test_an_ignore_without_a_reason_fails(tmp_path: Path) -> None:
    operation, rule = MUTATIONS["index-without-concurrently"]
    location = scripts_with(tmp_path, operation, extra=f"SQUAWK_IGNORE = {{{rule!r}: 'ok'}}")
    problems = lint(location)
    assert [problem.revision for problem in problems] == [MUTANT]
    assert f"ignore of '{rule}' has no reason" in problems[0].report


def test_a_revision_whose_sql_cannot_be_rendered_fails(tmp_path: Path) -> None:
    location = scripts_with(tmp_path, 'op.execute(sa.text("SELECT :x").bindparams(x=object()))')
    problems = lint(location)
    assert [problem.revision for problem in problems] == [MUTANT]
    assert "cannot render its SQL" in problems[0].report
