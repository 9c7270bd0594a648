"""What the README and its `docs/` pages must say, derived from the files that hold the facts."""

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def documents() -> list[Path]:
    """The README and every page of `docs/`."""
    return [README, *sorted(DOCS.glob("*.md"))]


def section(title: str) -> str:
    """From the heading line `title` (in the README or a `docs/` page) to the next heading of its
    level or higher."""
    holders = [path for path in documents() if title in path.read_text().splitlines()]
    assert len(holders) == 1, f"heading {title!r} is in {holders or 'no document'}"
    lines = holders[0].read_text().splitlines()
    start = lines.index(title)
    level = len(title) - len(title.lstrip("#"))
    in_code = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            in_code = not in_code
        heading = len(line) - len(line.lstrip("#"))
        if not in_code and 0 < heading <= level and line[heading : heading + 1] == " ":
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def figure(value: float, unit: str) -> str:
    if unit in ("req/s", "wf/s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:.3g} ms" if value < 10 else f"{value:.1f} ms"
    return f"{value:.1f} {unit}"


def benchmark_rows() -> list[str]:
    """The benchmark table (docs/benchmarks.md), one row per result of the last `make bench`."""
    results: list[dict[str, Any]] = json.loads((ROOT / "bench" / "results.json").read_text())[
        "results"
    ]
    rows = []
    for result in results:
        baseline = (
            f"{figure(result['baseline'], result['unit'])} ({result['baseline_name']})"
            if result["baseline"] is not None
            else "—"
        )
        ratio = f"{result['ratio']:.2f}x" if result["ratio"] is not None else "—"
        verdict = "достигнута" if result["passed"] else "**не достигнута**"
        rows.append(
            f"| {result['metric']} | {figure(result['platform'], result['unit'])} | {baseline} "
            f"| {ratio} | {result['goal']} | {verdict} |"
        )
    return rows
