"""The README and its `docs/` pages tell the truth: the file map (docs/architecture.md), the
targets table (docs/operations.md) and the benchmark figures (docs/benchmarks.md) are checked
against the files, `make help` and `bench/results.json`; the README's example responses against
the live API (by shape)."""

import json
import re
import subprocess

import httpx
import pytest

from tests.docs.readme_facts import ROOT, benchmark_rows, section

MODULE_MAPS = {"app": "### Приложение (`app/`)", "devstack": "### Локальный стек (`devstack/`)"}


@pytest.mark.parametrize("package", list(MODULE_MAPS))
def test_every_module_is_in_the_file_map(package: str) -> None:
    described = section(MODULE_MAPS[package])
    missing = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT / package).as_posix()
        if path.name == "__init__.py" and (relative != "__init__.py" or package != "app"):
            continue  # package markers; app/__init__.py holds the platform version
        named = relative if "/" in relative else f"`{relative}`"
        if named not in described and f"`{path.name}`" not in described:
            missing.append(relative)
    assert missing == [], f"docs/architecture.md's {package}/ map lacks {missing}"


def test_the_quick_start_is_the_two_commands() -> None:
    """`make up` runs the platform, `make test` proves it: nothing else to type first."""
    quick_start = section("## Быстрый старт без Docker")
    block = quick_start.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert [command for command in commands if command] == ["make up", "make test"]


def test_every_make_target_is_in_the_targets_table() -> None:
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    targets = re.findall(r"^\s+make (\S+)", listed, re.MULTILINE)
    assert "up" in targets
    table = section("### Цели Makefile")
    missing = [name for name in targets if f"`make {name}`" not in table]
    assert missing == [], f"targets missing from the docs/operations.md table: {missing}"


def test_benchmark_table_matches_the_last_results() -> None:
    text = section("## Бенчмарки")
    missing = [row for row in benchmark_rows() if row not in text]
    assert missing == [], (
        "docs/benchmarks.md's table differs from bench/results.json: " + "; ".join(missing)
    )


def example_responses() -> dict[str, object]:
    """`METHOD /path  {json}` lines of the README's example block (continuations joined)."""
    block = section("## Проверочные вызовы").split("Пример ответов", 1)[1]
    block = block.split("```text", 1)[1].split("```", 1)[0]
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        match = re.match(r"^(GET|POST|PUT|DELETE)\s+(\S+)\s*(.*)$", line)
        if match:
            current = f"{match.group(1)} {match.group(2)}"
            entries[current] = match.group(3)
        elif current is not None:
            entries[current] += line.strip()
    parsed = {}
    for call, text in entries.items():
        text = re.sub(r"^\d{3}\s+", "", text.strip())
        if text.startswith("{") and "{…" not in text:
            parsed[call] = json.loads(text)
    return parsed


def shape(value: object) -> object:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__ if value is not None else "null"


LIVE_CALLS = {
    "GET /health": ("GET", "/health", None),
    "GET /version": ("GET", "/version", None),
    "POST /test-workflow": ("POST", "/test-workflow", {"name": "Demo"}),
    "POST /nats/test": ("POST", "/nats/test", {"message": "ping"}),
    "POST /redis/test": ("POST", "/redis/test", {"key": "demo", "value": "ok"}),
}


def test_example_responses_have_the_shape_of_live_ones(
    api: httpx.Client, auth: dict[str, str]
) -> None:
    examples = example_responses()
    assert set(LIVE_CALLS) <= set(examples), sorted(examples)
    for call, (method, path, body) in LIVE_CALLS.items():
        live = api.request(method, path, json=body)
        assert live.status_code < 300, (call, live.text)
        assert shape(examples[call]) == shape(live.json()), call
    written = api.put(
        "/settings/demo.greeting", json={"value": "hello", "description": "demo"}, headers=auth
    )
    assert shape(examples["PUT /settings/demo.greeting"]) == shape(written.json())
