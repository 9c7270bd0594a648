"""No hand-written deadline loop in app/: waits go through tenacity or the server itself.

A deadline loop is a `while` whose condition or body reads a clock (`time.monotonic()`,
`time.time()`, `time.perf_counter()`, `loop.time()`). The check runs on the AST of every
module under app/ and is proven on a scratch module that has one.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOCKS = frozenset(("monotonic", "time", "perf_counter", "monotonic_ns", "time_ns"))


def reads_a_clock(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in CLOCKS
        for call in ast.walk(node)
    )


def deadline_loops(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.While) and reads_a_clock(node):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def test_no_module_in_app_has_a_deadline_loop() -> None:
    assert deadline_loops(ROOT / "app") == []


def test_the_check_finds_a_deadline_loop(tmp_path: Path) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "wait.py").write_text(
        "import time\n\n\n"
        "def wait(ready):\n"
        "    deadline = time.monotonic() + 5\n"
        "    while not ready():\n"
        "        if time.monotonic() > deadline:\n"
        "            raise TimeoutError\n"
        "        time.sleep(0.1)\n"
    )
    (package / "periodic.py").write_text(
        "import asyncio\n\n\nasync def run(check):\n    while True:\n        await check()\n"
        "        await asyncio.sleep(5)\n"
    )
    assert deadline_loops(package) == ["app/wait.py:6"]
