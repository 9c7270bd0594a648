"""Which dependencies the settings reach without TLS, and the production warning about them.

One check per dependency, each reading only the settings that decide it, so a new way to
configure a dependency (another variable) changes one line here.
"""

import logging

from app.config import Settings

# libpq modes that refuse a plain connection (`prefer` and `allow` fall back to one).
POSTGRESQL_TLS_MODES = frozenset({"require", "verify-ca", "verify-full"})


def _postgresql_uses_tls(settings: Settings) -> bool:
    return settings.database_sslmode_in_effect in POSTGRESQL_TLS_MODES


def _redis_uses_tls(settings: Settings) -> bool:
    if settings.redis_sentinels:  # the Sentinels and the data nodes share REDIS_TLS_*
        return bool(settings.redis_tls_ca_file)
    return settings.redis_url.startswith("rediss://")


def _nats_uses_tls(settings: Settings) -> bool:
    # A CA file makes the client insist on TLS whatever the scheme (app.services.nats_client).
    servers = settings.nats_servers
    every_tls = bool(servers) and all(server.startswith("tls://") for server in servers)
    return every_tls or bool(settings.nats_tls_ca_file)


def _temporal_uses_tls(settings: Settings) -> bool:
    return settings.temporal_tls_enabled


_CHECKS = {
    "postgresql": _postgresql_uses_tls,
    "redis": _redis_uses_tls,
    "nats": _nats_uses_tls,
    "temporal": _temporal_uses_tls,
}


def dependencies_without_tls(settings: Settings) -> list[str]:
    """The names of the dependencies these settings reach over a plain connection."""
    return [name for name, uses_tls in _CHECKS.items() if not uses_tls(settings)]


def warn_about_dependencies_without_tls(settings: Settings, logger: logging.Logger) -> None:
    """In production, one warning line per dependency reached without TLS, naming it."""
    if not settings.is_production:
        return
    for name in dependencies_without_tls(settings):
        logger.warning("%s is reached without TLS in production", name, extra={"dependency": name})
