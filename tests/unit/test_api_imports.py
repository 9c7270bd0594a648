"""Routes and dependencies never see a driver's exception types: the service modules
(`app/services/`) translate them into DependencyUnavailableError. Checked on the AST of every
module under app/api, and the check itself proven on mutated copies."""

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
API_PACKAGE = ROOT / "app" / "api"
DRIVER_EXCEPTION_MODULES = (
    "sqlalchemy.exc",
    "redis.exceptions",
    "nats.errors",
    "temporalio.service",
    "temporalio.exceptions",
)


def forbidden(module: str) -> str | None:
    """The driver exception module that `module` is or lies inside, if any."""
    for name in DRIVER_EXCEPTION_MODULES:
        if module == name or module.startswith(name + "."):
            return name
    return None


def dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attribute accesses on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def driver_exception_uses(package: Path) -> list[str]:
    """`path:line module` for each line that imports (or reaches by attribute) a driver's
    exception module, in the package's modules."""
    found = set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Attribute):
                modules = [name for name in [dotted(node)] if name]
            else:
                continue
            for module in modules:
                if name := forbidden(module):
                    found.add(f"{path.relative_to(package.parent)}:{node.lineno} {name}")
    return sorted(found)


def test_no_api_module_uses_a_driver_exception_module() -> None:
    assert driver_exception_uses(API_PACKAGE) == []


@pytest.mark.parametrize(
    "line",
    [
        "from temporalio.service import RPCError",
        "from sqlalchemy.exc import OperationalError as Outage",
        "import redis.exceptions",
        "from nats import errors",
        "from temporalio import exceptions as temporal_exceptions",
        "import sqlalchemy\nCAUGHT = (sqlalchemy.exc.InterfaceError,)",
        "def handler() -> None:\n    from redis.exceptions import RedisError  # noqa: F401",
    ],
)
def test_the_check_finds_each_way_of_reaching_one(tmp_path: Path, line: str) -> None:
    copy = tmp_path / "api"
    shutil.copytree(API_PACKAGE, copy)
    route = copy / "routes" / "workflows.py"
    route.write_text(route.read_text() + "\n" + line + "\n")
    found = driver_exception_uses(copy)
    assert len(found) == 1, found
    assert found[0].startswith("api/routes/workflows.py:"), found


def test_the_check_allows_the_driver_modules_routes_do_need(tmp_path: Path) -> None:
    copy = tmp_path / "api"
    shutil.copytree(API_PACKAGE, copy)
    route = copy / "routes" / "workflows.py"
    allowed = "from temporalio.client import Client\nfrom sqlalchemy import select\n"
    route.write_text(route.read_text() + "\n" + allowed)
    assert driver_exception_uses(copy) == []
