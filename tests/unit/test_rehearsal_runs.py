"""The recorded runs: `chaos --record` adds a run's figures to the JSON (replacing only the same
seed, replication and minutes) and writes the docs table again from it; the committed docs table
is the one the committed JSON generates."""

import json
from pathlib import Path
from typing import Any

import pytest

from rehearsal import runs
from rehearsal.checks import summary
from rehearsal.history import History

RECORDED = Path(__file__).parent / "rehearsal" / "clean_history.json"
DOCUMENT = f"# Rehearsal\n\nBefore.\n\n{runs.BEGIN}\n{runs.END}\n\nAfter.\n"


def run_summary(seed: int, minutes: float = 10.0) -> dict[str, Any]:
    report = summary(History.load(RECORDED))
    report.update(
        seed=seed, replication="synchronous", minutes=minutes, total_seconds=801.4, cores=2
    )
    return report


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    doc = tmp_path / "rehearsal.md"
    doc.write_text(DOCUMENT)
    return tmp_path / "runs.json", doc


def test_a_recorded_run_is_a_row_of_the_table(files: tuple[Path, Path]) -> None:
    path, doc = files
    report = run_summary(seed=7)
    runs.record(report, path, doc)
    (row,) = runs.section(doc.read_text()).splitlines()[2:]
    assert row.startswith(f"| 7 | synchronous | 10 | {runs.duration(801.4)} | ")
    assert runs.duration(801.4).startswith("13 мин 21 ")
    assert f"| {report['requests']} |" in row
    assert f"| {report['acknowledged_writes']} / 0 |" in row
    assert row.endswith("| нет | все пройдены |")
    text = doc.read_text()
    assert text.startswith("# Rehearsal\n\nBefore.")
    assert text.endswith("\n\nAfter.\n")


def test_the_same_run_again_replaces_its_row_and_another_seed_adds_one(
    files: tuple[Path, Path],
) -> None:
    path, doc = files
    runs.record(run_summary(seed=1), path, doc)
    runs.record(run_summary(seed=1), path, doc)
    runs.record(run_summary(seed=2), path, doc)
    runs.record(run_summary(seed=2, minutes=0), path, doc)
    assert [(r["seed"], r["minutes"]) for r in json.loads(path.read_text())] == [
        (1, 10.0),
        (2, 10.0),
        (2, 0),
    ]
    assert len(runs.section(doc.read_text()).splitlines()) == 2 + 3


def test_a_failed_check_and_a_recovery_beyond_its_bound_show_in_the_row(
    files: tuple[Path, Path],
) -> None:
    path, doc = files
    report = run_summary(seed=3)
    recovery = next(c for c in report["checks"] if c["name"] == runs.RECOVERIES)
    recovery.update(passed=False, figure=1, detail="split on pg1: 8.7s after the heal")
    runs.record(report, path, doc)
    (row,) = runs.section(doc.read_text()).splitlines()[2:]
    assert row.endswith(f"| split on pg1: 8.7s after the heal | не пройдены: {runs.RECOVERIES} |")


def test_a_document_without_the_markers_is_refused(files: tuple[Path, Path]) -> None:
    path, doc = files
    doc.write_text("# Rehearsal\n")
    with pytest.raises(ValueError, match="markers are missing"):
        runs.record(run_summary(seed=1), path, doc)


def test_the_docs_table_is_the_one_the_recorded_runs_generate() -> None:
    recorded = runs.load()
    assert runs.section(runs.RUNS_DOC.read_text()) == runs.table(recorded), (
        "docs/rehearsal.md's runs table differs from rehearsal/runs.json: "
        "record runs with `make rehearsal` (chaos --record), never edit the table by hand"
    )
