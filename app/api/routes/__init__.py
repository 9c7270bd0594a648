"""All routers, assembled in one place."""

from fastapi import APIRouter

from app.api.routes import bus, cache, health, system_settings, version, workflows

api_router = APIRouter()
for module in (health, version, system_settings, workflows, bus, cache):
    api_router.include_router(module.router)
