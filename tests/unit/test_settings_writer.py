"""`system_settings` has one writer: `app.models.system.upsert_setting`, used by the initial
migration's seed, the version record after an upgrade and the API's PUT."""

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql

from app.models import upsert_setting

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WRITER = PROJECT_ROOT / "app/models/system.py"
USERS = {
    "alembic/versions/20251107000000_initial.py": "upgrade",
    "app/migrations.py": "record_platform_version",
    "app/api/routes/system_settings.py": "put_setting",
}
RAW_WRITE = re.compile(r"\b(insert\s+into|update)\s+system_settings\b", re.IGNORECASE)


def sources() -> list[Path]:
    return sorted(PROJECT_ROOT.glob("app/**/*.py")) + sorted(PROJECT_ROOT.glob("alembic/**/*.py"))


def function(tree: ast.Module, name: str) -> ast.AST:
    return next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
    )


def called_names(tree: ast.AST) -> set[str]:
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


@pytest.mark.parametrize(("path", "name"), USERS.items())
def test_each_writer_goes_through_upsert_setting(path: str, name: str) -> None:
    tree = ast.parse((PROJECT_ROOT / path).read_text())
    assert called_names(function(tree, name)) & {"upsert_setting", "upsert_setting_values"}


def test_no_other_statement_writes_system_settings() -> None:
    """No raw INSERT/UPDATE text and no insert()/update() of the model outside the builder."""
    found = []
    for path in sources():
        if path == WRITER:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if RAW_WRITE.search(node.value):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} SQL text")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name | ast.Attribute)
                and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
                in {"insert", "update"}
                and any(ast.unparse(argument) == "SystemSetting" for argument in node.args)
            ):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_the_statement_creates_or_replaces_and_says_which() -> None:
    sql = str(
        upsert_setting("a.b", {"x": 1}, "d").compile(
            dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
            compile_kwargs={"render_postcompile": True},
        )
    )
    flat = " ".join(sql.split())
    assert flat.startswith("INSERT INTO system_settings (key, value, description)")
    assert (
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "description = excluded.description, updated_at = now()"
    ) in flat
    assert flat.endswith(
        "RETURNING system_settings.key, system_settings.value, system_settings.description, "
        "system_settings.updated_at, system_settings.created_at, xmax = 0 AS created"
    )
