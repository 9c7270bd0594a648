"""The FastAPI application: factory, lifespan, middleware and routes."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api.errors import install_error_handlers
from app.api.routes import ROUTERS
from app.api.state import Services
from app.config import Settings, get_settings
from app.telemetry import configure_telemetry
from app.tracing import instrument_app

logger = logging.getLogger("sbs.api")


async def log_dependency_status(services: Services) -> None:
    """Ping every dependency once at start-up and log it; a dependency that is down is not fatal."""
    report = await services.health.report()
    for name, result in report.checks.items():
        if result["status"] == "up":
            logger.info("dependency %s is up", name, extra={"latency_ms": result["latency_ms"]})
        else:
            logger.warning("dependency %s is down: %s", name, result["error"])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.create(settings)
        app.state.services = services
        logger.info("api starting", extra={"version": __version__, "build": services.build})
        startup_check = asyncio.create_task(log_dependency_status(services))
        try:
            yield
        finally:
            startup_check.cancel()
            await services.close()
            logger.info("api stopped")

    app = FastAPI(
        title="SBS Platform API",
        version=__version__,
        description="Health, settings and integration demos of the SBS Platform.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    configure_telemetry(app, settings.otel_service_name)
    instrument_app(app, settings.otel_service_name)  # only when OTEL_* variables ask for traces
    return app
