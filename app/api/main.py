"""The FastAPI application: factory, lifespan, middleware and routes."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import install_error_handlers
from app.api.readiness import Readiness
from app.api.routes import ROUTERS
from app.api.state import Services
from app.config import Settings, get_settings
from app.connection_security import warn_about_dependencies_without_tls
from app.gc_freeze import freeze_startup_objects
from app.telemetry import configure_telemetry
from app.tracing import instrument_app

logger = logging.getLogger("sbs.api")

# Builds the app's services from its settings when the app starts (its lifespan), without I/O.
ServicesFactory = Callable[[Settings], Services]


async def warm_up(services: Services, readiness: Readiness) -> None:
    """Check every dependency once (connecting the clients), log it, then take traffic.

    A dependency that is down is not fatal: it is `/health`'s to report, not readiness's.
    """
    report = await services.health.report()  # the checker logs each dependency that is down
    for name, result in report.checks.items():
        if result["status"] == "up":
            logger.info("dependency %s is up", name, extra={"latency_ms": result["latency_ms"]})
    frozen = freeze_startup_objects()
    readiness.started()
    logger.info("api ready", extra={"gc_frozen_objects": frozen})


def create_app(
    settings: Settings | None = None, services_factory: ServicesFactory = Services.create
) -> FastAPI:
    """The API. `services_factory` builds what the routes, the error handlers and the demo check use
    (`app.state.services`) when the app starts; the lifespan closes them when it stops. By
    default one client per dependency, at the addresses the settings name; a test may run the
    app in process with services of its choosing (real servers, e.g. one that is stopped)."""
    settings = settings or get_settings()
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = services_factory(settings)
        app.state.services = services
        logger.info(
            "api starting",
            extra={
                "version": __version__,
                "build": services.build,
                "environment": settings.sbs_environment,
            },
        )
        warn_about_dependencies_without_tls(settings, logger)
        startup = asyncio.create_task(warm_up(services, readiness))
        try:
            yield
        finally:
            readiness.draining()
            startup.cancel()
            await services.close()
            logger.info("api stopped")

    app = FastAPI(
        title="SBS Platform API",
        version=__version__,
        description="Health, settings and integration demos of the SBS Platform.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry switches itself on when a global provider exists and
        # checks for one on every request; the platform's telemetry and tracing are its own.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.readiness = readiness
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_request_body_bytes)
    for router in ROUTERS:
        # The routes go straight into the app's table (their prefix, tags and dependencies are
        # already on each route): FastAPI matches an included router as a nested table, one
        # more matching pass per request for every router ahead of the one that matches.
        app.router.routes.extend(router.routes)
    configure_telemetry(app)
    instrument_app(app, settings.otel_service_name)  # only when OTEL_* variables ask for traces
    return app
