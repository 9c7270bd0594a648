"""The local stack's observability servers: Alertmanager and the exporters of PostgreSQL, Redis
and NATS, each from its Debian package and used only when installed (like Prometheus).

Also what the local Prometheus needs to reach them: its compose configuration is rewritten to
the loopback ports here, and the jobs of missing exporters are dropped (an absent exporter is
not a dead dependency, so it must not raise a "down" alert).
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.config import HOST, PROJECT_ROOT, StackConfig
from devstack.servers.base import Service, http_ok

ALERTMANAGER_CONFIG = PROJECT_ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
BLACKBOX_CONFIG = PROJECT_ROOT / "monitoring" / "blackbox" / "blackbox.yml"
# The cadence the committed rules are written for (prometheus.yml's evaluation_interval).
RULES_CADENCE_SECONDS = 15.0


@dataclass(frozen=True)
class Package:
    """A server program from a Debian package; upstream's binary name is accepted too."""

    debian_package: str
    binaries: tuple[str, ...]

    def find(self) -> str | None:
        for name in self.binaries:
            found = shutil.which(name)
            if found is not None:
                return found
        return None

    def installed(self) -> bool:
        return self.find() is not None

    def binary(self) -> str:
        found = self.find()
        if found is None:
            raise FileNotFoundError(
                f"{self.binaries[0]} is not installed: apt-get install {self.debian_package}"
            )
        return found

    @property
    def install_hint(self) -> str:
        return f"apt-get install {self.debian_package}"


ALERTMANAGER = Package("prometheus-alertmanager", ("prometheus-alertmanager", "alertmanager"))
POSTGRES_EXPORTER = Package(
    "prometheus-postgres-exporter", ("prometheus-postgres-exporter", "postgres_exporter")
)
REDIS_EXPORTER = Package(
    "prometheus-redis-exporter", ("prometheus-redis-exporter", "redis_exporter")
)
BLACKBOX_EXPORTER = Package(
    "prometheus-blackbox-exporter", ("prometheus-blackbox-exporter", "blackbox_exporter")
)


def listen_address(config: StackConfig, port_name: str) -> str:
    return f"{HOST}:{config.ports[port_name]}"


# --- Alertmanager ---------------------------------------------------------------------------


def alertmanager_command(config: StackConfig) -> list[str]:
    return [
        ALERTMANAGER.binary(),
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--storage.path={config.path('alertmanager')}",
        f"--web.listen-address={listen_address(config, 'alertmanager')}",
        # A single instance: no gossip port (it would listen on every interface at 9094).
        "--cluster.listen-address=",
        "--log.level=warn",
    ]


def alertmanager_ready(config: StackConfig) -> bool:
    return http_ok(config.url("alertmanager", "/-/ready"))


# --- Exporters ------------------------------------------------------------------------------


def postgres_exporter_command(config: StackConfig) -> list[str]:
    return [
        POSTGRES_EXPORTER.binary(),
        f"--web.listen-address={listen_address(config, 'postgres_exporter')}",
        "--log.level=warn",
    ]


def postgres_exporter_environment(config: StackConfig) -> dict[str, str]:
    # The exporter connects per scrape and reports pg_up 0 while PostgreSQL is down.
    url = config.database("postgresql", sslmode="disable", connect_timeout="3")
    return {"DATA_SOURCE_NAME": url.render_as_string(hide_password=False)}


def redis_exporter_command(config: StackConfig) -> list[str]:
    return [
        REDIS_EXPORTER.binary(),
        f"--redis.addr={config.redis_url}",
        f"--web.listen-address={listen_address(config, 'redis_exporter')}",
        "--connection-timeout=3s",
    ]


def blackbox_exporter_command(config: StackConfig) -> list[str]:
    return [
        BLACKBOX_EXPORTER.binary(),
        f"--config.file={BLACKBOX_CONFIG}",
        f"--web.listen-address={listen_address(config, 'blackbox_exporter')}",
        "--log.level=warn",
    ]


def postgres_exporter_ready(config: StackConfig) -> bool:
    return http_ok(config.url("postgres_exporter", "/metrics"))


def redis_exporter_ready(config: StackConfig) -> bool:
    return http_ok(config.url("redis_exporter", "/metrics"))


def blackbox_exporter_ready(config: StackConfig) -> bool:
    return http_ok(config.url("blackbox_exporter", "/-/healthy"))


# Each runs only when its package is installed.
SERVICES = [
    Service(
        name="postgres-exporter",
        ports=["postgres_exporter"],
        command=postgres_exporter_command,
        probe=postgres_exporter_ready,
        environment=postgres_exporter_environment,
        installed=POSTGRES_EXPORTER.installed,
        install_hint=POSTGRES_EXPORTER.install_hint,
    ),
    Service(
        name="redis-exporter",
        ports=["redis_exporter"],
        command=redis_exporter_command,
        probe=redis_exporter_ready,
        installed=REDIS_EXPORTER.installed,
        install_hint=REDIS_EXPORTER.install_hint,
    ),
    Service(
        name="blackbox-exporter",
        ports=["blackbox_exporter"],
        command=blackbox_exporter_command,
        probe=blackbox_exporter_ready,
        installed=BLACKBOX_EXPORTER.installed,
        install_hint=BLACKBOX_EXPORTER.install_hint,
    ),
    Service(
        name="alertmanager",
        ports=["alertmanager"],
        command=alertmanager_command,
        probe=alertmanager_ready,
        installed=ALERTMANAGER.installed,
        install_hint=ALERTMANAGER.install_hint,
    ),
]


# --- Prometheus's view of them --------------------------------------------------------------

# Scrape job -> (the package that serves it, the port it listens on).
EXPORTER_JOBS: dict[str, tuple[Package, str]] = {
    "postgresql": (POSTGRES_EXPORTER, "postgres_exporter"),
    "redis": (REDIS_EXPORTER, "redis_exporter"),
    "alertmanager": (ALERTMANAGER, "alertmanager"),
}
NATS_PROBE_JOB = "nats"
# An exporter does its own I/O per scrape; postgres_exporter needs about 1 s to report pg_up 0
# once PostgreSQL refuses connections. A faster cadence (the tests' 1 s) would time out these
# scrapes and lose the very series that says "down", so exporters are never scraped faster.
EXPORTER_MIN_SCRAPE = "3s"


def localise_observability(document: dict[str, Any], config: StackConfig) -> None:
    """Point the alerting block and the exporter jobs of prometheus.yml at the local ports."""
    if ALERTMANAGER.installed():
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
            if not BLACKBOX_EXPORTER.installed():
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
