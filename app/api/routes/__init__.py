"""Every router of the API, in the order they are included."""

from fastapi import APIRouter

from app.api.routes import bus, cache, health, system_settings, version, workflows

# Included one by one in the app: a router nested in another costs an extra matching layer.
ROUTERS: list[APIRouter] = [
    module.router for module in (health, version, system_settings, workflows, bus, cache)
]
