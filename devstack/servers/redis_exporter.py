"""The Redis exporter from the Debian package."""

from devstack.config import StackConfig
from devstack.servers.base import Package, Service, http_ok, prometheus_style

PACKAGE = Package("prometheus-redis-exporter", ("prometheus-redis-exporter", "redis_exporter"))


def command(config: StackConfig) -> list[str]:
    redis = f"--redis.addr={config.redis_url}"
    return prometheus_style(PACKAGE, config, "redis_exporter", redis, "--connection-timeout=3s")


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("redis_exporter", "/metrics"))


SERVICE = Service("redis-exporter", ["redis_exporter"], command, ready, package=PACKAGE)
