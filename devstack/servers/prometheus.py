"""Prometheus from the Debian package, run on the compose configuration moved to loopback."""

from pathlib import Path

import yaml

from devstack import observability
from devstack.config import HOST, PROJECT_ROOT, StackConfig
from devstack.servers.base import Package, Service, http_ok

PACKAGE = Package("prometheus", ("prometheus",))
CONFIG_DIR = PROJECT_ROOT / "monitoring" / "prometheus"
JOB_PORTS = {
    "sbs-api": "api",
    "sbs-worker": "worker_metrics",
    "temporal": "temporal_metrics",
    "prometheus": "prometheus",
}


def render_config(config: StackConfig) -> Path:
    """The compose configuration, with each job's target moved to its loopback port."""
    document = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    settings = document.setdefault("global", {})
    if settings.get("scrape_interval") != config.scrape_interval:
        # A faster cadence (the tests use 1s) applies to every job, timeouts included.
        for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
            settings[key] = config.scrape_interval
        for job in document.get("scrape_configs", []):
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
    rule_files = sorted(
        path for pattern in document.get("rule_files", []) for path in CONFIG_DIR.glob(pattern)
    )
    document["rule_files"] = [str(path) for path in observability.render_rules(config, rule_files)]
    observability.localise_observability(document, config)
    for job in document.get("scrape_configs", []):
        port_name = JOB_PORTS.get(job["job_name"])
        if port_name is None:
            continue
        job["static_configs"] = [{"targets": [f"{HOST}:{config.ports[port_name]}"]}]
    rendered = config.path("prometheus", "prometheus.yml")
    rendered.parent.mkdir(parents=True, exist_ok=True)
    rendered.write_text(yaml.safe_dump(document, sort_keys=False))
    return rendered


def command(config: StackConfig) -> list[str]:
    binary = PACKAGE.binary()
    return [
        binary,
        f"--config.file={render_config(config)}",
        f"--storage.tsdb.path={config.path('prometheus', 'data')}",
        f"--web.listen-address={HOST}:{config.ports['prometheus']}",
        "--web.enable-lifecycle",
    ]


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("prometheus", "/-/ready"))


SERVICE = Service("prometheus", ["prometheus"], command, ready, package=PACKAGE)
