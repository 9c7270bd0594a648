"""The processes start from app/entrypoints.py: the spec's scripts are shims calling it, the
`[project.scripts]` name it, and logging is configured in one place."""

import ast
import tomllib
from pathlib import Path

import pytest

from app import entrypoints

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIMS = {"entrypoint.py": "api", "run_api.py": "api_server", "run_worker.py": "worker"}
SCRIPTS = {"sbs-api": "api", "sbs-worker": "worker", "sbs-migrate": "migrate"}


def runtime_sources() -> list[Path]:
    """Every module a process of the platform runs (the image's code)."""
    return sorted(PROJECT_ROOT.glob("app/**/*.py")) + [PROJECT_ROOT / name for name in SHIMS]


def calls_of(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def test_logging_is_configured_in_one_place() -> None:
    sites = [
        f"{path.relative_to(PROJECT_ROOT)}:{call.lineno}"
        for path in runtime_sources()
        for call in calls_of(ast.parse(path.read_text()), "configure_logging")
    ]
    assert sites == [f"app/entrypoints.py:{start_line()}"], sites


def start_line() -> int:
    tree = ast.parse((PROJECT_ROOT / "app/entrypoints.py").read_text())
    start = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "_start"
    )
    return calls_of(start, "configure_logging")[0].lineno


@pytest.mark.parametrize(("script", "function"), SHIMS.items())
def test_spec_scripts_are_shims_calling_the_package(script: str, function: str) -> None:
    """Beyond its docstring, the script imports one function and calls it as __main__."""
    body = ast.parse((PROJECT_ROOT / script).read_text()).body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    assert len(body) == 2, ast.unparse(ast.Module(body=body, type_ignores=[]))
    imported, main = body
    assert isinstance(imported, ast.ImportFrom)
    assert imported.module == "app.entrypoints"
    assert [alias.name for alias in imported.names] == [function]
    assert isinstance(main, ast.If)
    assert ast.unparse(main.test) == "__name__ == '__main__'"
    assert [ast.unparse(statement) for statement in main.body] == [f"{function}()"]


def test_project_scripts_name_the_entry_points() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {
        name: f"app.entrypoints:{function}" for name, function in SCRIPTS.items()
    }
    for function in SCRIPTS.values():
        assert callable(getattr(entrypoints, function))
