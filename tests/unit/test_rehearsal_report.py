"""The rehearsal's report from a recorded history: every figure in report.json, a table per fault
in report.md, a timeline image with the fault windows."""

import json
from pathlib import Path

from rehearsal import report
from rehearsal.checks import summary
from rehearsal.history import History

RECORDED = Path(__file__).parent / "rehearsal" / "clean_history.json"


def test_the_report_holds_every_figure_and_a_table_per_fault(tmp_path: Path) -> None:
    history = History.load(RECORDED)
    figures = summary(history)
    report.write(history, figures, tmp_path)

    written = json.loads((tmp_path / "report.json").read_text())
    assert written == json.loads(json.dumps(figures))
    assert len(written["checks"]) == 10
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# Rehearsal report: PASSED")
    for fault in history.faults:
        assert f"### {fault.kind} on {fault.target}" in text
    assert "| PUT /settings/{key} |" in text
    assert (tmp_path / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "timeline.png").stat().st_size > 20_000
    assert History.load(tmp_path / "history.json") == history


def test_a_failed_check_makes_the_report_say_so(tmp_path: Path) -> None:
    history = History.load(RECORDED)
    history.observed.settings.clear()
    report.write(history, summary(history), tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# Rehearsal report: FAILED")
    assert "| acknowledged writes lost | 5 | **FAILED** |" in text
