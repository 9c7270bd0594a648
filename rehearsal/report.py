"""The report: report.json (every figure), report.md (a table per fault, the checks) and
timeline.png (requests per second and errors per route, fault windows shaded and labelled)."""

import json
from pathlib import Path
from typing import Any

from rehearsal.history import History
from rehearsal.load import ROUTES


def markdown(summary: dict[str, Any]) -> str:
    verdict = "PASSED" if summary["passed"] else "FAILED"
    lines = [
        f"# Rehearsal report: {verdict}",
        "",
        f"{summary['requests']} requests in {summary['duration_seconds']} s, "
        f"{summary['failed_requests']} failed; longest request "
        f"{summary['longest_request_seconds']} s.",
        "",
        "## Checks",
        "",
        "| check | figure | result | detail |",
        "| --- | ---: | --- | --- |",
    ]
    for item in summary["checks"]:
        result = "ok" if item["passed"] else "**FAILED**"
        lines.append(f"| {item['name']} | {item['figure']} | {result} | {item['detail']} |")
    lines += ["", "## Faults", ""]
    for fault in summary["faults"]:
        bound = fault["bound"] or {}
        lines += [
            f"### {fault['kind']} on {fault['target']}"
            + (
                " (the database primary among them: the failover's bound)"
                if fault["primary_isolated"]
                else ""
            ),
            "",
            f"Window {fault['started']:.1f}-{fault['ended']:.1f} s; requests failing after the "
            f"heal {fault['failed_after_heal_seconds']} s; longest request "
            f"{fault['longest_request_seconds']} s; bound: outage {bound.get('outage')} s, "
            f"after heal {bound.get('after_heal')} s, failed {bound.get('failed')}."
            + (
                f" Connections through the delay proxy: {fault['delayed_connections']}."
                if fault["delayed_connections"] is not None
                else ""
            ),
            "",
            "| route | errors | failing for (s) |",
            "| --- | ---: | ---: |",
        ]
        for route, errors in fault["errors_per_route"].items():
            lines.append(f"| {route} | {errors} | {fault['outage_per_route'][route]} |")
        if not fault["errors_per_route"]:
            lines.append("| (none) | 0 | 0 |")
        verdict = "; ".join(fault["violations"]) or "within its bounds"
        lines += ["", f"Result: {verdict}.", ""]
    return "\n".join(lines) + "\n"


LABEL_STEP = 0.14  # axes fraction between the heights of the fault labels


def timeline(history: History, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    seconds = int(history.duration) + 1
    width = max(14.0, seconds / 45)  # a 10-minute run gets room for its labels
    figure, (rate_axes, error_axes) = pyplot.subplots(2, 1, sharex=True, figsize=(width, 7))
    for route in ROUTES:
        total = [0] * seconds
        errors = [0] * seconds
        for request in history.requests:
            if request.route != route:
                continue
            second = min(int(request.started), seconds - 1)
            total[second] += 1
            errors[second] += int(request.failed)
        rate_axes.plot(range(seconds), total, label=route, linewidth=0.8)
        error_axes.plot(range(seconds), errors, label=route, linewidth=0.8)
    for axes in (rate_axes, error_axes):
        for fault in history.faults:
            axes.axvspan(
                fault.started, max(fault.ended, fault.started + 0.5), alpha=0.15, color="tab:red"
            )
    for index, fault in enumerate(history.faults):
        rate_axes.annotate(  # four heights in turn: neighbouring labels do not overlap
            f"{fault.kind}\n{fault.target}",
            (fault.started, 1.0 - LABEL_STEP * (index % 4)),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            va="top",
        )
    rate_axes.set_ylabel("requests / s")
    error_axes.set_ylabel("failed requests / s")
    error_axes.set_xlabel("seconds since the load began")
    rate_axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write(history: History, summary: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (directory / "report.md").write_text(markdown(summary))
    history.save(directory / "history.json")
    timeline(history, directory / "timeline.png")
