"""Alertmanager from the Debian package, on the committed monitoring/alertmanager config."""

from devstack.config import PROJECT_ROOT, StackConfig
from devstack.servers.base import Package, Service, http_ok, prometheus_style

PACKAGE = Package("prometheus-alertmanager", ("prometheus-alertmanager", "alertmanager"))
CONFIG = PROJECT_ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"


def command(config: StackConfig) -> list[str]:
    storage = config.path("alertmanager")
    # A single instance: no gossip port (it would listen on every interface at 9094).
    no_cluster = "--cluster.listen-address="
    flags = [f"--config.file={CONFIG}", f"--storage.path={storage}", no_cluster]
    return prometheus_style(PACKAGE, config, "alertmanager", *flags, "--log.level=warn")


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("alertmanager", "/-/ready"))


SERVICE = Service("alertmanager", ["alertmanager"], command, ready, package=PACKAGE)
