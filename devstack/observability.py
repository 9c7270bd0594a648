"""What the local Prometheus needs to reach the observability servers (Alertmanager and the
exporters of PostgreSQL, Redis and NATS; their recipes: devstack/servers/): its compose
configuration is rewritten to the loopback ports here, and the jobs of missing exporters are
dropped (an absent exporter is not a dead dependency, so it must not raise a "down" alert).
Also its alert rules, scaled to the stack's cadence.
"""

import re
from pathlib import Path
from typing import Any

import yaml

from devstack.config import HOST, StackConfig
from devstack.servers import alertmanager, blackbox_exporter, postgres_exporter, redis_exporter
from devstack.servers.base import Package

# The cadence the committed rules are written for (prometheus.yml's evaluation_interval).
RULES_CADENCE_SECONDS = 15.0


def listen_address(config: StackConfig, port_name: str) -> str:
    return f"{HOST}:{config.ports[port_name]}"


# --- Prometheus's view of them --------------------------------------------------------------

# Scrape job -> (the package that serves it, the port it listens on).
EXPORTER_JOBS: dict[str, tuple[Package, str]] = {
    "postgresql": (postgres_exporter.PACKAGE, "postgres_exporter"),
    "redis": (redis_exporter.PACKAGE, "redis_exporter"),
    "alertmanager": (alertmanager.PACKAGE, "alertmanager"),
}
NATS_PROBE_JOB = "nats"
# An exporter does its own I/O per scrape; postgres_exporter needs about 1 s to report pg_up 0
# once PostgreSQL refuses connections. A faster cadence (the tests' 1 s) would time out these
# scrapes and lose the very series that says "down", so exporters are never scraped faster.
EXPORTER_MIN_SCRAPE = "3s"


def localise_observability(document: dict[str, Any], config: StackConfig) -> None:
    """Point the alerting block and the exporter jobs of prometheus.yml at the local ports."""
    if alertmanager.PACKAGE.installed():
        document["alerting"] = {
            "alertmanagers": [
                {"static_configs": [{"targets": [listen_address(config, "alertmanager")]}]}
            ]
        }
    else:
        document.pop("alerting", None)
    slow_down = duration_seconds(config.scrape_interval) < duration_seconds(EXPORTER_MIN_SCRAPE)
    kept = []
    for job in document.get("scrape_configs", []):
        name = job["job_name"]
        if slow_down and name in {*EXPORTER_JOBS, NATS_PROBE_JOB}:
            job["scrape_interval"] = job["scrape_timeout"] = EXPORTER_MIN_SCRAPE
        if name in EXPORTER_JOBS:
            package, port_name = EXPORTER_JOBS[name]
            if not package.installed():
                continue
            job["static_configs"] = [{"targets": [listen_address(config, port_name)]}]
        elif name == NATS_PROBE_JOB:
            if not blackbox_exporter.PACKAGE.installed():
                continue
            job["static_configs"] = [{"targets": [config.url("nats_monitor", "/healthz")]}]
            for relabel in job["relabel_configs"]:
                if relabel.get("target_label") == "__address__":
                    relabel["replacement"] = listen_address(config, "blackbox_exporter")
        kept.append(job)
    document["scrape_configs"] = kept


_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def render_rules(config: StackConfig, rule_files: list[Path]) -> list[Path]:
    """The rule files, with every `for:` hold scaled to the stack's cadence.

    A stack scraping every second (the tests) then raises in seconds what the 15 s cadence
    raises in minutes: `for: 1m` becomes 4 s. At the committed cadence the files are used as
    they are.
    """
    factor = duration_seconds(config.scrape_interval) / RULES_CADENCE_SECONDS
    if factor == 1:
        return rule_files
    rendered_dir = config.path("prometheus", "rules")
    rendered_dir.mkdir(parents=True, exist_ok=True)
    rendered = []
    for source in rule_files:
        document = yaml.safe_load(source.read_text())
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                if "for" in rule:
                    held = max(1, round(duration_seconds(rule["for"]) * factor))
                    rule["for"] = f"{held}s"
        target = rendered_dir / source.name
        target.write_text(yaml.safe_dump(document, sort_keys=False))
        rendered.append(target)
    return rendered
