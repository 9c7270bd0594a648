"""The blackbox exporter from the Debian package: Prometheus probes NATS's /healthz through it."""

from devstack.config import PROJECT_ROOT, StackConfig
from devstack.servers.base import Package, Service, http_ok, prometheus_style

PACKAGE = Package(
    "prometheus-blackbox-exporter", ("prometheus-blackbox-exporter", "blackbox_exporter")
)
CONFIG = PROJECT_ROOT / "monitoring" / "blackbox" / "blackbox.yml"


def command(config: StackConfig) -> list[str]:
    flags = [f"--config.file={CONFIG}", "--log.level=warn"]
    return prometheus_style(PACKAGE, config, "blackbox_exporter", *flags)


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("blackbox_exporter", "/-/healthy"))


SERVICE = Service("blackbox-exporter", ["blackbox_exporter"], command, ready, package=PACKAGE)
