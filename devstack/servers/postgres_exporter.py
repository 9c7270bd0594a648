"""The PostgreSQL exporter from the Debian package; it connects per scrape and reports pg_up 0
while PostgreSQL is down."""

from devstack.config import StackConfig
from devstack.servers.base import Package, Service, http_ok, prometheus_style

PACKAGE = Package(
    "prometheus-postgres-exporter", ("prometheus-postgres-exporter", "postgres_exporter")
)


def command(config: StackConfig) -> list[str]:
    return prometheus_style(PACKAGE, config, "postgres_exporter", "--log.level=warn")


def environment(config: StackConfig) -> dict[str, str]:
    url = config.database("postgresql", sslmode="disable", connect_timeout="3")
    return {"DATA_SOURCE_NAME": url.render_as_string(hide_password=False)}


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("postgres_exporter", "/metrics"))


SERVICE = Service(
    "postgres-exporter",
    ["postgres_exporter"],
    command,
    ready,
    environment=environment,
    package=PACKAGE,
)
